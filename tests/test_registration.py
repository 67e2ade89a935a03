"""Self-registration (RFC 7591, RFC 7592): every field checked, a self-registered client is an
app like any other (consent, installation, disable, delete), limits, purge and the switch."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from server.extensions import db
from server.models import (
    App,
    Authorization,
    Installation,
    Membership,
    RetiredClientId,
    Workspace,
)
from tests.conftest import PASSWORD
from tests.oauth_support import Browser, basic, hidden, query, resource_server

# Users are made with cheap password hashing: these tests are about clients, not the KDF.
pytestmark = pytest.mark.usefixtures("fast_passwords")

REDIRECT = "http://127.0.0.1:3030/callback"
MCP = "https://mcp.example.com/mcp"


def register(client, **fields):
    body = {"redirect_uris": [REDIRECT], "client_name": "Agent", **fields}
    return client.post("/oauth/register", json=body)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def authorize_url(client_id: str, challenge: str, redirect_uri: str = REDIRECT, **extra) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return "/oauth/authorize?" + urlencode(params)


@pytest.fixture
def person(client, make_user):
    user = make_user()
    browser = Browser(client=client)
    browser.login(user.email, PASSWORD)
    return user, browser


def _flow(client, browser, registered, redirect_uri=REDIRECT, **extra):
    """Consent and exchange; returns the token response."""
    verifier, challenge = pkce()
    location = browser.authorize(
        authorize_url(registered["client_id"], challenge, redirect_uri, **extra)
    )
    assert location.startswith(redirect_uri)
    data = {
        "grant_type": "authorization_code",
        "code": query(location)["code"],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
        "client_id": registered["client_id"],
    }
    if "client_secret" in registered:
        data["client_secret"] = registered["client_secret"]
    return client.post("/oauth/token", data=data)


def test_the_metadata_advertises_registration(client):
    found = client.get("/.well-known/oauth-authorization-server").json
    assert found["registration_endpoint"] == "http://localhost/oauth/register"
    assert found["client_id_metadata_document_supported"] is True
    assert {"none", "client_secret_basic", "client_secret_post"} <= set(
        found["token_endpoint_auth_methods_supported"]
    )
    assert "S256" in found["code_challenge_methods_supported"]
    assert found["authorization_response_iss_parameter_supported"] is True


def test_a_public_client_registers_and_completes_the_code_flow(app, client, person):
    _, browser = person
    answer = register(client, token_endpoint_auth_method="none", scope="Connector.botChat")
    assert answer.status_code == 201, answer.json
    registered = answer.json
    assert "client_secret" not in registered
    assert registered["registration_access_token"].startswith("rat_")
    assert registered["client_id_issued_at"] > 0
    # RFC 8252 §7.3: the loopback redirect matches on any port.
    other_port = REDIRECT.replace("3030", "53211")
    issued = _flow(client, browser, registered, other_port, scope="Connector.botChat")
    assert issued.status_code == 200, issued.json
    assert issued.json["scope"] == "Connector.botChat"
    with app.app_context():
        row = db.session.get(App, registered["client_id"])
        assert row.tenant_id is None and row.registration == "dynamic"
        assert row.registration_token_hash != registered["registration_access_token"]
        assert row.consented_at is not None


def test_a_public_self_registered_client_must_use_s256(client, person):
    _, browser = person
    registered = register(client, token_endpoint_auth_method="none").json
    for params in ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, {}):
        url = "/oauth/authorize?" + urlencode(
            {
                "response_type": "code",
                "client_id": registered["client_id"],
                "redirect_uri": REDIRECT,
                "state": "s",
                **params,
            }
        )
        status, headers, _ = browser.get(url)
        assert status == 302 and query(headers["Location"])["error"] == "invalid_request"


def test_a_confidential_client_gets_its_secret_once_and_it_is_stored_hashed(app, client, person):
    _, browser = person
    answer = register(client, token_endpoint_auth_method="client_secret_post")
    assert answer.status_code == 201
    registered = answer.json
    assert registered["client_secret"].startswith("cs_")
    assert registered["client_secret_expires_at"] == 0
    with app.app_context():
        row = db.session.get(App, registered["client_id"])
        assert row.client_secret_hash and registered["client_secret"] not in row.client_secret_hash
    read = client.get(
        f"/oauth/register/{registered['client_id']}",
        headers={"Authorization": "Bearer " + registered["registration_access_token"]},
    )
    assert read.status_code == 200 and "client_secret" not in read.json
    issued = _flow(client, browser, registered)
    assert issued.status_code == 200, issued.json
    # Basic works as well; a wrong secret does not.
    wrong = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": issued.json["refresh_token"]},
        headers=basic(registered["client_id"], "cs_wrong"),
    )
    assert wrong.status_code == 401
    refreshed = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": issued.json["refresh_token"]},
        headers=basic(registered["client_id"], registered["client_secret"]),
    )
    assert refreshed.status_code == 200


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"redirect_uris": "https://a.example.com/cb"}, "invalid_redirect_uri"),
        ({"redirect_uris": [42]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://app.example.com/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example.com/cb#x"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["javascript:alert(1)//"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://*.example.com/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["com.example.app:/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["/relative"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://a.example.com/" + "x" * 2000]}, "invalid_redirect_uri"),
        (
            {"redirect_uris": [f"https://a.example.com/{i}" for i in range(11)]},
            "invalid_redirect_uri",
        ),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": 1}, "invalid_client_metadata"),
        ({"grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        ({"grant_types": ["refresh_token"]}, "invalid_client_metadata"),
        ({"grant_types": "authorization_code"}, "invalid_client_metadata"),
        ({"response_types": ["token"]}, "invalid_client_metadata"),
        ({"scope": "Admin.everything"}, "invalid_client_metadata"),
        ({"scope": ["Connector.botChat"]}, "invalid_client_metadata"),
        ({"client_name": "x" * 101}, "invalid_client_metadata"),
        ({"client_name": "bad\x00name"}, "invalid_client_metadata"),
        ({"client_name": 7}, "invalid_client_metadata"),
        ({"client_uri": "javascript:alert(1)"}, "invalid_client_metadata"),
        ({"logo_uri": "http://evil.example.com/logo.png"}, "invalid_client_metadata"),
        ({"tos_uri": "https://a.example.com/tos#x"}, "invalid_client_metadata"),
        ({"policy_uri": 5}, "invalid_client_metadata"),
        ({"contacts": "me@example.com"}, "invalid_client_metadata"),
        ({"contacts": ["a@example.com"] * 6}, "invalid_client_metadata"),
        ({"software_id": "s" * 101}, "invalid_client_metadata"),
        ({"software_version": ["1"]}, "invalid_client_metadata"),
    ],
)
def test_every_invalid_field_is_refused(app, client, fields, error):
    answer = register(client, **fields)
    assert answer.status_code == 400, answer.json
    assert answer.json["error"] == error
    with app.app_context():
        assert db.session.query(App).count() == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("[]", "application/json"), ("not json", "application/json"), ("{}", "text/plain")],
)
def test_a_body_that_is_not_a_json_object_is_refused(client, body, content_type):
    answer = client.post("/oauth/register", data=body, content_type=content_type)
    assert answer.status_code == 400 and answer.json["error"] == "invalid_client_metadata"


def test_client_configuration_reads_updates_and_deletes(app, client):
    registered = register(client, token_endpoint_auth_method="none").json
    path = f"/oauth/register/{registered['client_id']}"
    bearer = {"Authorization": "Bearer " + registered["registration_access_token"]}
    assert client.get(path, headers=bearer).json["client_name"] == "Agent"
    # A wrong token and an unknown client look the same.
    for other_path, headers in (
        (path, {"Authorization": "Bearer rat_wrong"}),
        ("/oauth/register/1234567890123456789", bearer),
        (path, {}),
    ):
        refused = client.get(other_path, headers=headers)
        assert refused.status_code == 401 and refused.json["error"] == "invalid_client"
    updated = client.put(
        path,
        headers=bearer,
        json={
            "client_id": registered["client_id"],
            "redirect_uris": ["https://agent.example.com/cb"],
            "client_name": "Renamed",
            "token_endpoint_auth_method": "none",
        },
    )
    assert updated.status_code == 200, updated.json
    assert updated.json["redirect_uris"] == ["https://agent.example.com/cb"]
    turned = client.put(
        path,
        headers=bearer,
        json={
            "client_id": registered["client_id"],
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "client_secret_basic",
        },
    )
    assert turned.status_code == 400 and turned.json["error"] == "invalid_client_metadata"
    bad = client.put(
        path,
        headers=bearer,
        json={"client_id": registered["client_id"], "redirect_uris": ["http://x.example/"]},
    )
    assert bad.json["error"] == "invalid_redirect_uri"
    assert client.delete(path, headers=bearer).status_code == 204
    assert client.get(path, headers=bearer).status_code == 401
    with app.app_context():
        assert db.session.get(RetiredClientId, registered["client_id"]) is not None
    again = register(client, token_endpoint_auth_method="none").json
    assert again["client_id"] != registered["client_id"]


def test_a_managed_app_cannot_be_configured_through_rfc_7592(client, make_user, make_app):
    created, _ = make_app(make_user(), "pkce")
    answer = client.get(
        f"/oauth/register/{created.client_id}", headers={"Authorization": "Bearer rat_x"}
    )
    assert answer.status_code == 401


def test_registration_is_rate_limited_per_address(app, client):
    app.config.update(RATELIMIT_ENABLED=True, RATELIMIT_REGISTRATION="2 per hour")
    assert register(client).status_code == 201
    assert register(client).status_code == 201
    limited = register(client)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    other = client.post(
        "/oauth/register",
        json={"redirect_uris": [REDIRECT]},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert other.status_code == 201


def test_registration_off_is_obeyed(app, client):
    registered = register(client).json
    app.config["OAUTH_REGISTRATION"] = "off"
    assert register(client).status_code == 404
    bearer = {"Authorization": "Bearer " + registered["registration_access_token"]}
    assert (
        client.get(f"/oauth/register/{registered['client_id']}", headers=bearer).status_code == 404
    )
    found = client.get("/.well-known/oauth-authorization-server").json
    assert "registration_endpoint" not in found


def test_purge_removes_unused_registrations_and_nothing_else(app, client, runner, person, make_app):
    user, browser = person
    old_unused = register(client).json["client_id"]
    new_unused = register(client).json["client_id"]
    used = register(client, token_endpoint_auth_method="none").json
    assert _flow(client, browser, used).status_code == 200
    managed, _ = make_app(user, "pkce")
    with app.app_context():
        long_ago = datetime.now(UTC) - timedelta(days=2)
        for client_id in (old_unused, used["client_id"], managed.client_id):
            db.session.get(App, client_id).created_at = long_ago
        db.session.commit()
    result = runner.invoke(args=["tokens", "purge", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["purged"]["registrations"] == 1
    with app.app_context():
        remaining = {a.client_id for a in db.session.query(App)}
        assert remaining == {new_unused, used["client_id"], managed.client_id}
        assert db.session.get(RetiredClientId, old_unused) is not None


def test_consent_says_the_app_registered_itself(client, person):
    _, browser = person
    registered = register(client, client_name="Helpful Agent").json
    _, challenge = pkce()
    url = authorize_url(registered["client_id"], challenge)
    status, _, html = browser.open_consent(url)
    assert status == 200
    assert "registered itself" in html and "127.0.0.1" in html
    assert "verified" not in html.lower()
    browser.client.get("/language/zh?next=/login")
    status, _, html = browser.open_consent(url)
    assert "自行注册" in html and "127.0.0.1" in html


def test_operators_disable_enable_and_delete_a_self_registered_client(
    app, client, runner, person, auth_header
):
    user, browser = person
    rs = resource_server(app)
    registered = register(client, token_endpoint_auth_method="none").json
    token = _flow(client, browser, registered).json["access_token"]
    client_id = registered["client_id"]

    def active() -> bool:
        return client.post("/oauth/introspect", data={"token": token}, headers=rs).json["active"]

    assert active()
    listed = client.get("/api/v1/me/authorized-apps", headers=auth_header(user)).json["items"]
    assert [(i["client_id"], i["registration"], i["owner_tenant_id"]) for i in listed] == [
        (client_id, "dynamic", None)
    ]
    listed = json.loads(
        runner.invoke(args=["apps", "list", "--registration", "dynamic", "--json"]).output
    )
    (entry,) = listed["items"]
    assert (entry["client_id"], entry["tenant_id"], entry["status"]) == (client_id, None, "enabled")
    assert entry["created_at"] and entry["last_used_at"]
    disabled = runner.invoke(args=["apps", "disable", client_id, "--json"])
    assert json.loads(disabled.output) == {"client_id": client_id, "status": "disabled"}
    assert not active()
    runner.invoke(args=["apps", "enable", client_id])
    assert active()
    deleted = runner.invoke(args=["apps", "delete", client_id, "--json"])
    assert json.loads(deleted.output)["deleted"] is True
    assert not active()
    missing = runner.invoke(args=["apps", "disable", client_id, "--json"])
    assert missing.exit_code == 1 and json.loads(missing.output)["error"] == "not_found"


def test_in_a_team_a_members_consent_asks_for_installation(app, client, make_user, auth_header):
    from server.accounts import create_tenant

    admin, member = make_user(), make_user()
    with app.app_context():
        team = create_tenant(db.session.merge(admin), "Acme", "team")
        db.session.add(
            Membership(
                tenant_id=team.id, user_id=member.id, role="member", created_at=datetime.now(UTC)
            )
        )
        db.session.commit()
        team_id = team.id
    registered = register(client, token_endpoint_auth_method="none").json
    browser = Browser(client=app.test_client())
    browser.login(member.email, PASSWORD)
    _, challenge = pkce()
    status, _, html = browser.open_consent(authorize_url(registered["client_id"], challenge))
    assert status == 200
    team_workspace = re.findall(r'name="workspace_id" value="(\d+)"', html)
    with app.app_context():
        workspace = db.session.query(Workspace).filter_by(tenant_id=team_id).one()
    assert str(workspace.id) in team_workspace
    status, _, html = browser.decide(html, workspace_id=str(workspace.id))
    assert status == 403 and "not installed" in html
    status, _, _ = browser.post(
        "/oauth/consent/request-install",
        {
            "csrf_token": hidden(html, "csrf_token"),
            "authorize_key": hidden(html, "authorize_key"),
            "workspace_id": hidden(html, "workspace_id"),
        },
    )
    assert status == 302
    with app.app_context():
        pending = db.session.query(Installation).filter_by(client_id=registered["client_id"]).one()
        assert pending.status == "pending" and pending.tenant_id == team_id
        assert db.session.query(Authorization).count() == 0
    # The admin sees the request, with how the app registered and no owning tenant.
    path = f"/api/v1/tenants/{team_id}/installations"
    (entry,) = client.get(path, headers=auth_header(admin)).json["items"]
    assert (entry["registration"], entry["owner_tenant_id"]) == ("dynamic", None)
    approved = client.put(
        f"{path}/{registered['client_id']}", json={"kind": "obo"}, headers=auth_header(admin)
    )
    assert approved.status_code == 200 and approved.json["status"] == "installed"
    location = browser.authorize(
        authorize_url(registered["client_id"], challenge), workspace_id=str(workspace.id)
    )
    assert "code" in query(location)


def test_loopback_redirects_match_on_any_port_only_for_native_and_self_registered_apps():
    from grants.clients import Client

    def client(client_type: str, registration: str = "managed") -> Client:
        uris = ("http://127.0.0.1/callback", "http://[::1]:8000/cb", "https://app.example.com/cb")
        return Client(
            "1", client_type, "enabled", "x", None, uris, (), None, registration=registration
        )

    native, web, registered = client("pkce"), client("web"), client("web", "dynamic")
    for app in (native, registered):
        assert app.check_redirect_uri("http://127.0.0.1:53211/callback")
        assert app.check_redirect_uri("http://[::1]:1234/cb")
        assert not app.check_redirect_uri("http://127.0.0.1:53211/other")
        assert not app.check_redirect_uri("http://localhost:53211/callback")  # another host
        assert not app.check_redirect_uri("https://127.0.0.1:53211/callback")  # another scheme
        assert not app.check_redirect_uri("http://127.0.0.1:53211/callback?x=1")
        assert not app.check_redirect_uri("https://app.example.com:8443/cb")  # not loopback
    assert web.check_redirect_uri("http://127.0.0.1/callback")
    assert not web.check_redirect_uri("http://127.0.0.1:53211/callback")  # managed web: exact
