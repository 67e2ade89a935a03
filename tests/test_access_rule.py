"""The access rule on every path: issuance of each grant, the authorize and device pages, and
introspection, against each way access ends (disabled, deleted, uninstalled, revoked)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from grants.access import AppView, Denial, InstallationView, TokenView, token_denial
from server import clients
from server.extensions import db
from server.models import User
from tests.conftest import PASSWORD
from tests.oauth_support import (
    DEVICE_CODE,
    JWT_BEARER,
    REDIRECT_URI,
    Browser,
    assertion,
    basic,
    query,
    resource_server,
    service_app,
)


@pytest.fixture
def person(client, make_user):
    user = make_user()
    browser = Browser(client=client)
    browser.login(user.email, PASSWORD)
    browser.user = user
    return browser


def change(app, user, action, client_id):
    with app.app_context():
        actor = db.session.get(User, user.id)
        if action in ("disable", "enable"):
            clients.set_status(actor, client_id, action + "d")
        elif action == "delete":
            clients.delete_app(actor, client_id)
        elif action == "revoke":
            clients.revoke_authorization(actor, client_id)
        elif action == "uninstall":
            from server.accounts import personal_tenant

            clients.uninstall(actor, personal_tenant(user.id).id, client_id)
        db.session.commit()


def authorize_url(client_id, path="/oauth/authorize"):
    return (
        path
        + "?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": REDIRECT_URI,
                "state": "s",
            }
        )
    )


class Setup:
    """Tokens of every kind for one person, obtained while everything was allowed."""

    def __init__(self, app, client, person, make_app):
        self.app, self.client, self.person = app, client, person
        self.rs = resource_server(app)
        self.web, self.secret = make_app(person.user, "web")
        code = query(person.authorize(authorize_url(self.web.client_id)))["code"]
        self.pending_code = query(person.authorize(authorize_url(self.web.client_id)))["code"]
        self.tokens = self.exchange(code).json
        self.service = service_app(app, person.user, make_app)

    def exchange(self, code, dialect="rfc"):
        if dialect == "rfc":
            return self.client.post(
                "/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                },
                headers=basic(self.web.client_id, self.secret),
            )
        return self.client.post(
            "/api/permission/oauth2/token",
            json={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": self.web.client_id,
                "redirect_uri": REDIRECT_URI,
            },
            headers={"Authorization": f"Bearer {self.secret}"},
        )

    def refresh(self, dialect="rfc"):
        if dialect == "rfc":
            return self.client.post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": self.tokens["refresh_token"]},
                headers=basic(self.web.client_id, self.secret),
            )
        return self.client.post(
            "/api/permission/oauth2/token",
            json={
                "grant_type": "refresh_token",
                "refresh_token": self.tokens["refresh_token"],
                "client_id": self.web.client_id,
            },
            headers={"Authorization": f"Bearer {self.secret}"},
        )

    def jwt(self, dialect="rfc"):
        client_id, kid, pem = self.service
        signed = assertion(client_id, kid, pem, "localhost")
        if dialect == "rfc":
            return self.client.post(
                "/oauth/token", data={"grant_type": JWT_BEARER, "assertion": signed}
            )
        return self.client.post(
            "/api/permission/oauth2/token",
            json={"grant_type": JWT_BEARER},
            headers={"Authorization": f"Bearer {signed}"},
        )

    def active(self, token):
        return self.client.post("/oauth/introspect", data={"token": token}, headers=self.rs).json[
            "active"
        ]


@pytest.fixture
def setup(app, client, person, make_app):
    return Setup(app, client, person, make_app)


RFC_REFUSAL = {"disable": (400, "unauthorized_client"), "delete": (401, "invalid_client")}
COZE_REFUSAL = {"disable": (400, "access_deny"), "delete": (401, "invalid_client")}


@pytest.mark.parametrize("action", ["disable", "delete"])
@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_web_app_refused_everywhere(app, client, setup, action, dialect):
    change(app, setup.person.user, action, setup.web.client_id)
    status, error = (RFC_REFUSAL if dialect == "rfc" else COZE_REFUSAL)[action]
    for response in (setup.exchange(setup.pending_code, dialect), setup.refresh(dialect)):
        assert response.status_code == status
        assert response.json["error_code" if dialect == "coze" else "error"] == error
        if dialect == "coze" and action == "disable":
            assert "is currently deactivated by the owner" in response.json["error_message"]
    assert not setup.active(setup.tokens["access_token"])
    assert not setup.active(setup.tokens["refresh_token"])
    path = "/oauth/authorize" if dialect == "rfc" else "/api/permission/oauth2/authorize"
    status_code, headers, html = setup.person.get(authorize_url(setup.web.client_id, path))
    if action == "disable":
        assert status_code == 302 and query(headers["Location"])["error"] == "unauthorized_client"
    else:
        assert status_code == 400 and "invalid_client" in html and "Location" not in headers


@pytest.mark.parametrize("action", ["disable", "delete"])
@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_service_app_refused(app, setup, action, dialect):
    token = setup.jwt(dialect).json["access_token"]
    change(app, setup.person.user, action, setup.service[0])
    response = setup.jwt(dialect)
    if dialect == "rfc":
        expected = (400, "unauthorized_client") if action == "disable" else (400, "invalid_grant")
        assert (response.status_code, response.json["error"]) == expected
    else:
        expected = (400, "access_deny") if action == "disable" else (401, "invalid_client")
        assert (response.status_code, response.json["error_code"]) == expected
    assert not setup.active(token)


def test_disable_suspends_and_enable_restores(app, setup):
    service_token = setup.jwt().json["access_token"]
    change(app, setup.person.user, "disable", setup.web.client_id)
    change(app, setup.person.user, "disable", setup.service[0])
    for token in (service_token, setup.tokens["access_token"], setup.tokens["refresh_token"]):
        assert not setup.active(token)
    assert setup.refresh().status_code == 400  # refused, and the refresh token is not consumed
    change(app, setup.person.user, "enable", setup.web.client_id)
    change(app, setup.person.user, "enable", setup.service[0])
    for token in (service_token, setup.tokens["access_token"], setup.tokens["refresh_token"]):
        assert setup.active(token)
    assert setup.refresh().status_code == 200


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_disabled_device_app_refused_at_authorization_and_polling(
    app, client, person, make_app, dialect
):
    created, _ = make_app(person.user, "device")
    started = client.post("/oauth/device_authorization", data={"client_id": created.client_id}).json
    status, _ = person.approve_device(started["user_code"])
    assert status == 200
    change(app, person.user, "disable", created.client_id)
    body = {
        "grant_type": DEVICE_CODE,
        "device_code": started["device_code"],
        "client_id": created.client_id,
    }
    if dialect == "rfc":
        polled = client.post("/oauth/token", data=body)
        begun = client.post("/oauth/device_authorization", data={"client_id": created.client_id})
        assert (polled.status_code, polled.json["error"]) == (400, "unauthorized_client")
        assert (begun.status_code, begun.json["error"]) == (400, "unauthorized_client")
    else:
        polled = client.post("/api/permission/oauth2/token", json=body)
        begun = client.post(
            "/api/permission/oauth2/device/code", json={"client_id": created.client_id}
        )
        assert (polled.status_code, polled.json["error_code"]) == (400, "access_deny")
        assert (begun.status_code, begun.json["error_code"]) == (400, "access_deny")
    change(app, person.user, "enable", created.client_id)
    assert client.post("/oauth/token", data=body).status_code == 200  # not consumed while disabled


def test_revoke_and_uninstall_destroy_for_good(app, client, person, make_app, setup):
    service_token = setup.jwt().json["access_token"]
    change(app, person.user, "revoke", setup.web.client_id)
    change(app, person.user, "uninstall", setup.service[0])
    assert not setup.active(setup.tokens["access_token"])
    assert not setup.active(service_token)
    assert setup.refresh().json["error"] == "invalid_grant"
    # consent again and reinstall: new tokens work, the old never come back
    code = query(person.authorize(authorize_url(setup.web.client_id)))["code"]
    assert setup.exchange(code).status_code == 200
    with app.app_context():
        clients.authorize_service_app(db.session.get(User, person.user.id), setup.service[0])
        db.session.commit()
    assert setup.jwt().status_code == 200
    assert not setup.active(setup.tokens["access_token"])
    assert not setup.active(setup.tokens["refresh_token"])
    assert not setup.active(service_token)


def test_rule_as_plain_function():
    app = AppView("1", "web", "enabled")
    live = TokenView("obo", "team", 200, False, installation_id=7, authorization_id=3)
    current = InstallationView(7, "obo", "installed")
    assert token_denial(live, app, installation=current, authorization_id=3, now=100) is None
    cases = [
        (dict(now=300), Denial.TOKEN_EXPIRED),
        (dict(app=AppView("1", "web", "disabled")), Denial.APP_DISABLED),
        (dict(app=None), Denial.APP_MISSING),
        (dict(installation=None), Denial.NOT_INSTALLED),
        (dict(installation=InstallationView(8, "obo", "installed")), Denial.SUPERSEDED),
        (dict(installation=InstallationView(7, "obo", "pending")), Denial.INSTALL_PENDING),
        (dict(authorization_id=None), Denial.NOT_AUTHORIZED),
        (dict(authorization_id=4), Denial.SUPERSEDED),
    ]
    for overrides, expected in cases:
        args = dict(app=app, installation=current, authorization_id=3, now=100) | overrides
        assert token_denial(live, args.pop("app"), **args) == expected
    revoked = TokenView("obo", "team", 200, True, installation_id=7, authorization_id=3)
    assert token_denial(revoked, app, installation=current, authorization_id=3, now=100) == (
        Denial.TOKEN_REVOKED
    )
    personal = TokenView("obo", "personal", 200, False, installation_id=None, authorization_id=3)
    assert token_denial(personal, app, installation=None, authorization_id=3, now=100) is None
