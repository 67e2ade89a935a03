"""The access rule beyond the table (tests/test_access_rule.py): the rule as plain functions,
and what a member's removal leaves behind (the audit, other people's tokens, a re-add, rows that
outlive a membership)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from grants.access import (
    AppView,
    Denial,
    InstallationView,
    TokenView,
    standing_denial,
    token_denial,
)
from grants.errors import AccessRefused
from server.extensions import db
from server.models import Membership
from tests.api_helpers import join_by_invitation
from tests.conftest import PASSWORD
from tests.oauth_support import (
    DEVICE_CODE,
    REDIRECT_URI,
    Browser,
    exchange_code,
    query,
    refresh_with,
    resource_server,
)


def authorize_url(client_id, path="/oauth/authorize"):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
              "state": "s"}  # fmt: skip
    return path + "?" + urlencode(params)


def test_rule_as_plain_function():
    app = AppView("1", "web", "enabled")
    live = TokenView("obo", "team", 200, False, installation_id=7, authorization_id=3)
    current = InstallationView(7, "obo", "installed")
    assert (
        token_denial(live, app, installation=current, authorization_id=3, member=True, now=100)
        is None
    )
    cases = [
        (dict(now=300), Denial.TOKEN_EXPIRED),
        (dict(app=AppView("1", "web", "disabled")), Denial.APP_DISABLED),
        (dict(app=None), Denial.APP_MISSING),
        (dict(installation=None), Denial.NOT_INSTALLED),
        (dict(installation=InstallationView(8, "obo", "installed")), Denial.SUPERSEDED),
        (dict(installation=InstallationView(7, "obo", "pending")), Denial.INSTALL_PENDING),
        (dict(authorization_id=None), Denial.NOT_AUTHORIZED),
        (dict(authorization_id=4), Denial.SUPERSEDED),
        (dict(member=False), Denial.NOT_MEMBER),
    ]
    for overrides, expected in cases:
        args = dict(app=app, installation=current, authorization_id=3, member=True, now=100)
        args |= overrides
        assert token_denial(live, args.pop("app"), **args) == expected
    revoked = TokenView("obo", "team", 200, True, installation_id=7, authorization_id=3)
    current_rows = dict(installation=current, authorization_id=3, member=True, now=100)
    assert token_denial(revoked, app, **current_rows) == Denial.TOKEN_REVOKED
    personal = TokenView("obo", "personal", 200, False, installation_id=None, authorization_id=3)
    assert (
        token_denial(personal, app, installation=None, authorization_id=3, member=True, now=100)
        is None
    )


def test_membership_in_the_rule():
    web = AppView("1", "web", "enabled")
    installed = InstallationView(7, "obo", "installed")
    for edition in ("team", "enterprise"):
        token = TokenView("obo", edition, 200, False, installation_id=7, authorization_id=3)
        rows = dict(installation=installed, authorization_id=3, now=100)
        assert token_denial(token, web, member=True, **rows) is None
        assert token_denial(token, web, member=False, **rows) == Denial.NOT_MEMBER
        # at issuance too (a code exchange, a refresh, a device poll, the consent page)
        standing = dict(auth_type="obo", tenant_edition=edition, installation=installed)
        assert standing_denial(web, authorization_id=3, member=False, **standing) == (
            Denial.NOT_MEMBER
        )
        assert standing_denial(web, authorization_id=3, member=True, **standing) is None
    # A personal tenant has one owner and no members to lose.
    personal = TokenView("obo", "personal", 200, False, installation_id=None, authorization_id=3)
    assert (
        token_denial(personal, web, installation=None, authorization_id=3, member=False, now=100)
        is None
    )
    # AppAuth acts as the app itself: no user, no membership.
    service = AppView("2", "service", "enabled")
    for edition in ("personal", "team", "enterprise"):
        token = TokenView("appauth", edition, 200, False, installation_id=8, authorization_id=None)
        own = InstallationView(8, "appauth", "installed")
        assert (
            token_denial(
                token, service, installation=own, authorization_id=None, member=False, now=100
            )
            is None
        )
    # Dialects answer as for a withdrawn consent.
    refused, revoked = AccessRefused(Denial.NOT_MEMBER), AccessRefused(Denial.NOT_AUTHORIZED)
    assert (refused.error, refused.status_code) == (revoked.error, revoked.status_code)
    assert (refused.error, refused.status_code) == ("invalid_grant", 400)


# A member removed from a team ------------------------------------------------------------------


class TeamMember:
    """A member of a team where a vendor's web and device apps are installed, with a token pair
    of the web app, a code not yet exchanged and a device approval not yet polled for, all in
    the team; the team's admin has tokens of the same app there too. Admins act over the API."""

    def __init__(self, app, client, make_user, make_app, auth_header):
        self.app, self.client = app, client
        self.rs = resource_server(app)
        self.admin, self.member, vendor = make_user(), make_user(), make_user()
        self.admin_h = auth_header(self.admin)
        self.member_h = auth_header(self.member)
        self.tenant = self.api("post", "/api/v1/tenants", json={"name": "Acme", "edition": "team"})[
            "id"
        ]
        self.add_member()
        self.workspace = next(
            w["id"]
            for w in self.api("get", f"/api/v1/tenants/{self.tenant}/workspaces")["items"]
            if w["is_default"]
        )
        self.web, self.secret = make_app(vendor, "web", name="Vendor CRM")
        self.device, _ = make_app(vendor, "device", name="Vendor TV")
        for created in (self.web, self.device):
            path = f"/api/v1/tenants/{self.tenant}/installations/{created.client_id}"
            self.api("put", path, json={"kind": "obo"})
        self.browser = self.signed_in(self.member)
        self.tokens = self.exchange(self.code()).json
        self.pending_code = self.code()
        self.device_code = self.approved_device_code()
        admin = self.signed_in(self.admin)
        self.admin_tokens = self.exchange(self.code(admin)).json

    def api(self, method, path, **kwargs):
        response = self.client.open(path, method=method, headers=self.admin_h, **kwargs)
        assert response.status_code in (200, 201, 204), (path, response.json)
        return response.json

    def add_member(self):
        join_by_invitation(self.client, self.tenant, self.admin_h, self.member, self.member_h)

    def remove_member(self):
        self.api("delete", f"/api/v1/tenants/{self.tenant}/members/{self.member.id}")

    def signed_in(self, user):
        browser = Browser(client=self.app.test_client())
        browser.login(user.email, PASSWORD)
        return browser

    def code(self, browser=None):
        url = authorize_url(self.web.client_id)
        return query((browser or self.browser).authorize(url, workspace_id=self.workspace))["code"]

    def approved_device_code(self):
        started = self.client.post(
            "/oauth/device_authorization", data={"client_id": self.device.client_id}
        ).json
        status, html = self.browser.approve_device(
            started["user_code"], workspace_id=self.workspace
        )
        assert status == 200 and "Device connected" in html, html[:300]
        return started["device_code"]

    def exchange(self, code, dialect="rfc"):
        return exchange_code(self.client, self.web.client_id, self.secret, code, dialect)

    def refresh(self, refresh_token, dialect="rfc"):
        return refresh_with(self.client, self.web.client_id, self.secret, refresh_token, dialect)

    def poll(self, dialect="rfc"):
        body = {
            "grant_type": DEVICE_CODE,
            "device_code": self.device_code,
            "client_id": self.device.client_id,
        }
        if dialect == "rfc":
            return self.client.post("/oauth/token", data=body)
        return self.client.post("/api/permission/oauth2/token", json=body)

    def introspect(self, token):
        return self.client.post("/oauth/introspect", data={"token": token}, headers=self.rs).json


def refusal(response, dialect):
    assert "access_token" not in response.json, response.json
    return response.status_code, response.json["error" if dialect == "rfc" else "error_code"]


@pytest.fixture
def team_member(app, client, make_user, make_app, auth_header, fast_passwords):
    return TeamMember(app, client, make_user, make_app, auth_header)


def test_removing_a_member_ends_their_delegated_access_for_good(team_member):
    t = team_member
    member_tokens = (t.tokens["access_token"], t.tokens["refresh_token"])
    admin_tokens = (t.admin_tokens["access_token"], t.admin_tokens["refresh_token"])
    for token in member_tokens + admin_tokens:
        assert t.introspect(token)["active"] is True

    t.remove_member()

    def refused_for_good():
        for token in member_tokens:
            assert t.introspect(token) == {"active": False}
        for dialect in ("rfc", "coze"):
            assert refusal(t.refresh(t.tokens["refresh_token"], dialect), dialect) == (
                400,
                "invalid_grant",
            )
            assert refusal(t.exchange(t.pending_code, dialect), dialect) == (400, "invalid_grant")
            assert refusal(t.poll(dialect), dialect)[0] == 400

    refused_for_good()
    # Nobody else's access changes: the admin's tokens of the same app in the same team stand.
    for token in admin_tokens:
        assert t.introspect(token)["active"] is True
    newest = t.api("get", f"/api/v1/tenants/{t.tenant}/audit")["items"][0]
    assert (newest["action"], newest["target"]) == ("member.remove", str(t.member.id))
    assert newest["detail"] == {
        "destroyed_tokens": 1,
        "actor_email": t.admin.email,
        "member_email": t.member.email,
        "apps": [t.web.client_id],  # the apps told by a member.removed event
    }

    # Back in the team: nothing from before returns, and a new consent works as ever.
    t.add_member()
    refused_for_good()
    fresh = t.exchange(t.code())
    assert fresh.status_code == 200, fresh.json
    assert t.introspect(fresh.json["access_token"])["active"] is True

    # The same refusal as a withdrawn consent, in both dialects.
    t.api("delete", f"/api/v1/me/authorized-apps/{t.web.client_id}")
    for dialect in ("rfc", "coze"):
        assert refusal(t.refresh(t.admin_tokens["refresh_token"], dialect), dialect) == (
            400,
            "invalid_grant",
        )


def test_rule_refuses_what_outlives_a_membership(app, team_member):
    """What a request racing the removal could leave behind: the membership is gone, the rows
    issued under it are not. The rule alone refuses them on every path."""
    t = team_member
    with app.app_context():
        db.session.query(Membership).filter_by(
            tenant_id=int(t.tenant), user_id=t.member.id
        ).delete()
        db.session.commit()
    for token in (t.tokens["access_token"], t.tokens["refresh_token"]):
        assert t.introspect(token) == {"active": False}
    refreshed = t.refresh(t.tokens["refresh_token"])
    assert refusal(refreshed, "rfc") == (400, "invalid_grant")
    assert "no longer a member" in refreshed.json["error_description"]
    assert refusal(t.refresh(t.tokens["refresh_token"], "coze"), "coze") == (400, "invalid_grant")
    for dialect in ("rfc", "coze"):
        assert refusal(t.poll(dialect), dialect) == (400, "invalid_grant")
    assert refusal(t.exchange(t.pending_code), "rfc") == (400, "invalid_grant")
    # The consent page no longer offers the team.
    status, _, html = t.browser.open_consent(authorize_url(t.web.client_id))
    assert status == 200
    status, _, _ = t.browser.decide(html, workspace_id=str(t.workspace))
    assert status == 400
    # Back in the team, the leftovers stay dead: adding a member deletes them first.
    t.add_member()
    for token in (t.tokens["access_token"], t.tokens["refresh_token"]):
        assert t.introspect(token) == {"active": False}
    assert refusal(t.refresh(t.tokens["refresh_token"]), "rfc") == (400, "invalid_grant")
    assert refusal(t.exchange(t.pending_code), "rfc") == (400, "invalid_grant")


def test_kinds_in_the_rule_as_plain_functions():
    from grants.access import ServiceTokenView, kind_denial, service_token_denial

    channel = AppView("1", "service", "enabled", "channel", connector_binding=5)
    unbound = AppView("1", "service", "enabled", "channel", connector_binding=None)
    privileged = AppView("2", "service", "enabled", "privileged")
    normal = AppView("3", "service", "enabled")
    assert kind_denial(channel, enterprise_path=False) is None
    assert kind_denial(unbound, enterprise_path=False) == Denial.NO_CONNECTOR
    assert kind_denial(channel, enterprise_path=None, connector_binding=5) is None
    assert kind_denial(channel, enterprise_path=None, connector_binding=4) == Denial.SUPERSEDED
    assert kind_denial(privileged, enterprise_path=True) is None
    assert kind_denial(privileged, enterprise_path=False) == Denial.WRONG_PATH
    assert kind_denial(normal, enterprise_path=True) == Denial.WRONG_PATH
    assert kind_denial(privileged, enterprise_path=None) is None  # introspection
    token = TokenView("appauth", "team", 200, False, 7, None, connector_binding=5)
    own = InstallationView(7, "appauth", "installed")
    rows = dict(installation=own, authorization_id=None, member=False, now=100)
    assert token_denial(token, channel, **rows) is None
    rebound = AppView("1", "service", "enabled", "channel", connector_binding=6)
    assert token_denial(token, rebound, **rows) == Denial.SUPERSEDED
    assert token_denial(token, unbound, **rows) == Denial.NO_CONNECTOR
    assert service_token_denial(ServiceTokenView(None, True, 0), now=100) is None
    assert service_token_denial(ServiceTokenView(100, True, 0), now=100) == Denial.TOKEN_EXPIRED
    assert service_token_denial(ServiceTokenView(200, False, 0), now=100) == Denial.SUPERSEDED
    assert service_token_denial(ServiceTokenView(200, True, 1), now=100) == Denial.SUPERSEDED


# The device page refuses a disabled app, as the consent page does ----------------------------


def test_device_page_refuses_a_disabled_app_as_the_consent_page_does(
    app, client, make_user, make_app
):
    from server import clients
    from server.models import User
    from tests.oauth_support import hidden

    owner = make_user()
    web, _ = make_app(owner, "web")
    device, _ = make_app(owner, "device")
    person = Browser(client=app.test_client())
    person.login(owner.email, PASSWORD)
    user_code = client.post(
        "/oauth/device_authorization", data={"client_id": device.client_id}
    ).json["user_code"]

    def set_status(status):
        with app.app_context():
            for created in (web, device):
                clients.set_status(db.session.get(User, owner.id), created.client_id, status)
            db.session.commit()

    def device_page():
        status, _, html = person.get(f"/device?user_code={user_code}")
        assert status == 200
        return person.post(
            "/device", {"csrf_token": hidden(html, "csrf_token"), "user_code": user_code}
        )

    set_status("disabled")
    status, headers, _ = person.get(authorize_url(web.client_id))
    assert status == 302 and query(headers["Location"])["error"] == "unauthorized_client"
    status, _, html = device_page()
    assert status == 400 and "unauthorized_client" in html
    assert 'value="approve"' not in html  # nothing to approve
    _, _, form = person.get(f"/device?user_code={user_code}")
    status, _, html = person.post(
        "/device",
        {"csrf_token": hidden(form, "csrf_token"), "user_code": user_code, "decision": "approve",
         "workspace_id": "1"},
    )  # fmt: skip
    assert status == 400 and "unauthorized_client" in html
    set_status("enabled")  # a suspension: the same code can be approved now
    status, _, html = device_page()
    assert status == 200 and 'value="approve"' in html
    status, _, html = person.decide(html, url="/device")
    assert status == 200 and "Device connected" in html
