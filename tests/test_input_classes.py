"""One test per class of hostile input, each refused where it enters (server/requests.py and
the dialects' parsers), in both dialects where both exist: Authorization header shapes, values
Authlib would quote, path ids, JSON shapes and numbers, request ids, and the protocol answers
RFC 6749, 7009 and 9110 ask for."""

from __future__ import annotations

import base64
import logging
import re
from urllib.parse import quote, urlencode, urlsplit

import pytest
from markupsafe import escape

from server import create_app
from server.extensions import db
from tests.api_helpers import API, make_team, snapshot
from tests.conftest import PASSWORD
from tests.oauth_support import REDIRECT_URI, Browser, basic, exchange_code, query

pytestmark = pytest.mark.usefixtures("fast_passwords")

RFC_POSTS = ["/oauth/token", "/oauth/introspect", "/oauth/revoke", "/oauth/device_authorization"]
COZE_POSTS = ["/api/permission/oauth2/token", "/api/permission/oauth2/device/code"]
AUTHORIZE = ["/oauth/authorize", "/api/permission/oauth2/authorize"]


def dialect_error(response, path: str, status: int | None = None, error: str | None = None):
    assert 400 <= response.status_code < 500, (path, response.status_code, response.data[:300])
    if status is not None:
        assert response.status_code == status, (path, response.status_code, response.data[:300])
    body = response.get_json()
    if path.startswith("/api/permission/"):
        assert body["error_code"] == body["error"] and body["error_message"], body
    elif path.startswith("/api/v1"):
        assert set(body) == {"error", "message"}, body
    else:
        assert "error" in body and set(body) <= {"error", "error_description"}, body
    if error is not None:
        assert body["error"] == error, body
    return body


# Authorization header shapes ------------------------------------------------------------------

MALFORMED_AUTHORIZATION = [
    "Basic\tYTpi",  # a tab for the space
    "Bearer\t\xff\xfe",  # a tab, then bytes that are not UTF-8
    "Bearer \xff\xfe",  # bytes that are not UTF-8
    "Bearer  x",  # two spaces
    "Bearer x y",  # two credentials
    "Bearer x\x00",  # NUL
    "Basic YTpi, Basic YzpkCg==",  # two headers merged by a server in front
    " Bearer x",  # a leading space
]


@pytest.mark.parametrize("path", RFC_POSTS + COZE_POSTS + [f"{API}/me", "/login"])
def test_malformed_authorization_is_refused_before_any_parser(app, client, path):
    before = snapshot(app)
    for header in MALFORMED_AUTHORIZATION:
        if path == "/login":
            response = client.get(path, headers={"Authorization": header})
            assert response.status_code == 400, header
            continue
        method = client.get if path.startswith(API) else client.post
        response = method(path, headers={"Authorization": header}, data={"token": "x"})
        dialect_error(response, path, 400, "invalid_request")
    assert snapshot(app) == before


@pytest.mark.parametrize("path", RFC_POSTS + COZE_POSTS)
def test_two_authorization_headers_are_refused_not_merged(app, client, make_user, make_app, path):
    web, secret = make_app(make_user(), "web")
    good = basic(web.client_id, secret)["Authorization"]
    response = client.post(
        path,
        headers=[("Authorization", good), ("Authorization", good)],
        data={"grant_type": "refresh_token", "refresh_token": "x", "token": "x"},
    )
    dialect_error(response, path, 400, "invalid_request")


def test_an_empty_credential_is_no_credential(client):
    for path in RFC_POSTS + COZE_POSTS:
        for header in ["Bearer ", "Bearer", "Basic ", "Bearer \t "]:
            data = {"token": "x", "grant_type": "refresh_token", "refresh_token": "x"}
            response = client.post(path, headers={"Authorization": header}, data=data)
            body = dialect_error(response, path)
            assert body["error"] in ("invalid_client", "invalid_request"), (path, header, body)


# Values Authlib would quote -------------------------------------------------------------------

# Outside RFC 6749 Appendix A's characters for every parameter; quotes and backslashes are also
# outside response_type's grammar. Each is wrapped in a marker that the answer must not hold.
NOT_VSCHAR = ["é", "\x00", "\x7f", "\n", "\u2028"]
NOT_RESPONSE_TYPE = ['"', "\\", "<", "code,token", *NOT_VSCHAR]


@pytest.mark.parametrize("path", AUTHORIZE)
def test_authorize_never_reflects_what_it_refuses(client, make_user, make_app, path):
    web, _ = make_app(make_user(), "web", redirect_uris=[REDIRECT_URI])
    valid = {"response_type": "code", "client_id": web.client_id, "redirect_uri": REDIRECT_URI}
    cases = [{"response_type": f"zq{v}zq"} for v in NOT_RESPONSE_TYPE]
    cases += [{**valid, "response_type": f"zq{v}zq"} for v in NOT_RESPONSE_TYPE]
    cases += [
        {**valid, name: f"zq{v}zq"}
        for v in NOT_VSCHAR
        for name in ("state", "client_id", "scope", "redirect_uri", "code_challenge")
    ]
    for params in cases:
        response = client.get(path + "?" + urlencode(params))
        assert response.status_code == 400, (params, response.status_code)
        assert "Location" not in response.headers
        html = response.get_data(as_text=True)
        # Only the language switcher's link back to this page holds it, percent-encoded.
        for value in params.values():
            if value.startswith("zq"):
                assert value not in html and str(escape(value)) not in html, params


@pytest.mark.parametrize("path", AUTHORIZE)
def test_unsupported_response_type_redirects_without_echoing_it(client, make_user, make_app, path):
    web, _ = make_app(make_user(), "web", redirect_uris=[REDIRECT_URI])
    params = {
        "response_type": "token id_token",
        "client_id": web.client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "s1",
    }
    response = client.get(path + "?" + urlencode(params))
    assert response.status_code == 302
    answer = query(response.headers["Location"])
    assert answer["error"] == "unsupported_response_type" and answer["state"] == "s1"
    assert "token" not in answer.get("error_description", "")
    assert "id_token" not in response.headers["Location"]


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_unknown_grant_types_are_not_echoed(client, dialect):
    odd = 'zq-<b>\\"é'
    if dialect == "rfc":
        path, response = "/oauth/token", client.post("/oauth/token", data={"grant_type": odd})
    else:
        path = "/api/permission/oauth2/token"
        response = client.post(path, json={"grant_type": odd})
    body = dialect_error(response, path)
    assert "zq" not in response.get_data(as_text=True), body


# Path ids -----------------------------------------------------------------------------------

BAD_IDS = ["%C2%B2", "%D9%A1", "9223372036854775808", "99999999999999999999", "0", "01", "-1",
           "+1", "1_0", "%201", "1%00", "%EF%BC%91", "1e3", "0x10"]  # fmt: skip


def test_one_id_converter_refuses_every_non_id_on_every_face(app, client, make_user, auth_header):
    user = make_user()
    headers = auth_header(user)
    Browser(client=client).login(user.email, PASSWORD)
    before = snapshot(app)
    for bad in BAD_IDS:
        _refused_everywhere(client, headers, bad)
    assert snapshot(app) == before


def _refused_everywhere(client, headers, bad):
    paths = [
        ("GET", f"/api/permission/oauth2/workspace_id/{bad}/authorize", {}),
        ("POST", f"/api/permission/oauth2/workspace_id/{bad}/device/code", {}),
        ("POST", f"/api/permission/oauth2/account/{bad}/token", {}),
        ("POST", f"/api/permission/oauth2/enterprise_id/{bad}/token", {}),
        ("GET", f"{API}/connectors/{bad}", headers),
        ("DELETE", f"{API}/service-tokens/{bad}", headers),
        ("GET", f"{API}/subscriptions/{bad}/deliveries", headers),
        ("POST", f"/console/connectors/{bad}/delete", {}),
        ("POST", f"/console/service-tokens/{bad}/revoke", {}),
        ("GET", f"/console/subscriptions/{bad}", {}),
        ("GET", f"{API}/tenants/{bad}", headers),
        ("POST", f"{API}/tenants/{bad}/members", headers),
        ("DELETE", f"{API}/tenants/1/members/{bad}", headers),
        ("POST", f"{API}/me/invitations/{bad}/accept", headers),
        ("GET", f"/console/tenants/{bad}", {}),
        ("GET", f"/console/tenants/{bad}/audit", {}),
        ("POST", f"/console/invitations/{bad}/accept", {}),
    ]
    for method, path, extra in paths:
        response = client.open(path, method=method, headers=extra, json={"email": "a@b.c"})
        assert response.status_code == 404, (method, path, response.status_code)


def test_the_largest_id_is_an_id(client, make_user, auth_header):
    headers = auth_header(make_user())
    largest = str(2**63 - 1)
    response = client.get(f"{API}/tenants/{largest}", headers=headers)
    assert response.status_code == 404 and response.json["message"] == "tenant not found"
    path = f"/api/permission/oauth2/workspace_id/{largest}/device/code"
    dialect_error(client.post(path, json={"client_id": "1"}), path, 401, "invalid_client")


# JSON shapes and numbers --------------------------------------------------------------------

HOSTILE_JSON = [
    b'{"grant_type": "x", "scope": {"account_permission": [1]}}',
    b'{"grant_type": "x", "scope": {"account_permission": "Bot.read"}}',
    b'{"grant_type": "x", "scope": {"account_permission": {"permission_list": [1, 2]}}}',
    b'{"grant_type": "x", "scope": {"account_permission": {"permission_list": "x"}}}',
    b'{"grant_type": "x", "scope": 5}',
    b'{"grant_type": "x", "duration_seconds": Infinity}',
    b'{"grant_type": "x", "duration_seconds": -Infinity}',
    b'{"grant_type": "x", "duration_seconds": NaN}',
    b'{"grant_type": "x", "duration_seconds": 1e400}',
    b'{"grant_type": "x", "duration_seconds": [900]}',
    b'{"grant_type": "x", "duration_seconds": {"a": 1}}',
    b'{"grant_type": "x", "duration_seconds": ' + b"9" * 5000 + b"}",
    b'{"grant_type": "x", "grant_type": "y"}',
    b'{"grant_type": "x", "client_id": {"a": 1}}',
    b'{"grant_type": "x", "client_id": true}',
    b"[" * 5000 + b"]" * 5000,
    b'{"a": ' * 3000 + b"1" + b"}" * 3000,
    b'{"grant_type": "\xff"}',
]


@pytest.mark.parametrize("path", COZE_POSTS + ["/api/permission/oauth2/account/1/token"])
def test_json_bodies_are_held_to_the_form_rules(app, client, path):
    before = snapshot(app)
    for raw in HOSTILE_JSON:
        response = client.post(
            path,
            data=raw,
            headers={"Content-Type": "application/json", "Authorization": "Bearer x.y"},
        )
        body = dialect_error(response, path, 400)
        assert body["error"] == "invalid_request", (raw[:60], body)
    assert snapshot(app) == before


def test_the_management_api_holds_json_to_the_same_rules(app, client, make_user, auth_header):
    headers = {**auth_header(make_user()), "Content-Type": "application/json"}
    before = snapshot(app)
    for raw in (
        b'{"name": "a", "name": "b", "edition": "team"}',
        b'{"name": NaN, "edition": "team"}',
        b'{"name": "a", "edition": "team", "x": 1e400}',
        b"[" * 5000 + b"]" * 5000,
    ):
        response = client.post(f"{API}/tenants", data=raw, headers=headers)
        dialect_error(response, API, 400, "invalid_request")
        assert response.headers["Cache-Control"] == "no-store"
    assert snapshot(app) == before


# Request ids --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/oauth/token", "/api/permission/oauth2/token", f"{API}/me"])
def test_request_ids_are_echoed_only_when_short_and_plain(client, caplog, path):
    caplog.set_level(logging.INFO, logger="server.requests")
    plain = "abc-DEF_123.4"
    response = client.post(path, headers={"X-Request-Id": plain})
    assert response.headers["X-Request-Id"] == plain
    if "/permission/" in path:
        assert response.headers["X-Tt-Logid"] == plain
    for hostile in ["a\x01b", "a b", "a\tb", "é", "a" * 65, "a;b", "a\x7f", "<x>", "a,b", ""]:
        caplog.clear()
        response = client.post(path, headers={"X-Request-Id": hostile})
        echoed = response.headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", echoed), (hostile, echoed)
        if "/permission/" in path:
            assert response.headers["X-Tt-Logid"] == echoed
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert echoed in logged
        if hostile:
            assert hostile not in logged


def test_a_path_cannot_forge_a_log_line(client, caplog):
    caplog.set_level(logging.INFO, logger="server.requests")
    client.get("/x%0A2026-01-01 INFO forged%0D%1B[31m%C3%A9")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "server.requests"]
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "é" not in line
    assert "/x%0A2026-01-01%20INFO%20forged%0D%1B%5B31m%C3%A9" in line


# Protocol answers ---------------------------------------------------------------------------


def test_invalid_client_through_the_header_is_401_with_a_challenge_in_both_dialects(
    client, make_user, make_app
):
    web, _ = make_app(make_user(), "web")
    body = {"grant_type": "refresh_token", "refresh_token": "x"}
    response = client.post("/oauth/token", data=body, headers=basic(web.client_id, "wrong"))
    dialect_error(response, "/oauth/token", 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    path = "/api/permission/oauth2/token"
    response = client.post(
        path, json={**body, "client_id": web.client_id}, headers={"Authorization": "Bearer wrong"}
    )
    dialect_error(response, path, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_an_authenticated_client_refused_a_grant_is_unauthorized_client(
    client, make_user, make_app
):
    web, secret = make_app(make_user(), "web")
    device = "urn:ietf:params:oauth:grant-type:device_code"
    rfc_auth = basic(web.client_id, secret)
    coze_auth = {"Authorization": f"Bearer {secret}"}
    grant = {"grant_type": device, "device_code": "x"}
    for path, kwargs in (
        ("/oauth/token", {"data": grant, "headers": rfc_auth}),
        ("/oauth/device_authorization",
         {"data": {"client_id": web.client_id}, "headers": rfc_auth}),
        ("/api/permission/oauth2/token",
         {"json": {**grant, "client_id": web.client_id}, "headers": coze_auth}),
        ("/api/permission/oauth2/device/code",
         {"json": {"client_id": web.client_id}, "headers": coze_auth}),
    ):  # fmt: skip
        response = client.post(path, **kwargs)
        dialect_error(response, path, 400, "unauthorized_client")


@pytest.fixture
def tokens(app, client, make_user, make_app):
    owner = make_user()
    web, secret = make_app(owner, "web", redirect_uris=[REDIRECT_URI])
    browser = Browser(client=app.test_client())
    browser.login(owner.email, PASSWORD)
    url = "/oauth/authorize?" + urlencode(
        {"response_type": "code", "client_id": web.client_id, "redirect_uri": REDIRECT_URI}
    )
    code = query(browser.authorize(url))["code"]
    issued = exchange_code(client, web.client_id, secret, code).json
    return web, secret, issued


def test_an_unknown_token_type_hint_is_ignored_at_revocation(client, app, tokens):
    web, secret, issued = tokens
    response = client.post(
        "/oauth/revoke",
        data={"token": issued["refresh_token"], "token_type_hint": "id_token"},
        headers=basic(web.client_id, secret),
    )
    assert response.status_code == 200
    again = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
        headers=basic(web.client_id, secret),
    )
    dialect_error(again, "/oauth/token", 400, "invalid_grant")


def test_two_client_authentication_methods_are_refused(app, client, tokens):
    web, secret, issued = tokens
    body = {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
    before = snapshot(app)
    for path in ("/oauth/token", "/oauth/revoke"):
        response = client.post(
            path,
            data={**body, "token": issued["access_token"], "client_secret": secret},
            headers=basic(web.client_id, secret),
        )
        dialect_error(response, path, 400, "invalid_request")
    path = "/api/permission/oauth2/token"
    response = client.post(
        path,
        json={**body, "client_id": web.client_id, "client_secret": secret},
        headers={"Authorization": f"Bearer {secret}"},
    )
    dialect_error(response, path, 400, "invalid_request")
    assert snapshot(app) == before


def test_management_api_errors_are_never_cached(app, client, make_user, auth_header):
    headers = auth_header(make_user())
    for response in (
        client.get(f"{API}/me"),
        client.get(f"{API}/tenants/999999", headers=headers),
        client.post(f"{API}/tenants", json={"x": 1}, headers=headers),
        client.get(f"{API}/nowhere", headers=headers),
        client.put(f"{API}/me", headers=headers),
    ):
        assert 400 <= response.status_code < 500
        assert response.headers["Cache-Control"] == "no-store", response.status_code


def test_sign_in_consent_and_device_pages_are_never_cached(client, make_user, make_app):
    owner = make_user()
    web, _ = make_app(owner, "web", redirect_uris=[REDIRECT_URI])
    for path in ("/login", "/device", "/device?user_code=ABCD-EFGH"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    browser = Browser(client=client)
    browser.login(owner.email, PASSWORD)
    url = "/oauth/authorize?" + urlencode(
        {"response_type": "code", "client_id": web.client_id, "redirect_uri": REDIRECT_URI}
    )
    location = client.get(url).headers["Location"]
    consent = client.get(urlsplit(location).path + "?" + urlsplit(location).query)
    assert consent.status_code == 200
    assert consent.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("issuer", ["https://auth.example.com", "http://localhost"])
def test_strict_transport_security_on_every_answer_when_the_issuer_is_https(base_config, issuer):
    app = create_app({**base_config, "OAUTH_ISSUER": issuer})
    client = app.test_client()
    try:
        for method, path in (
            ("GET", "/login"),
            ("GET", "/nowhere"),
            ("POST", "/oauth/token"),
            ("POST", "/api/permission/oauth2/token"),
            ("GET", f"{API}/me"),
            ("GET", "/oauth/authorize?response_type=" + quote('"')),
            ("POST", "/oauth/introspect"),
        ):
            response = client.open(path, method=method, headers={"Authorization": "Bearer\t"})
            hsts = response.headers.get("Strict-Transport-Security")
            if issuer.startswith("https"):
                assert hsts and "max-age=" in hsts, (path, response.status_code)
            else:
                assert hsts is None, path
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_member_removed_after_accepting_loses_its_tokens_at_once(
    app, client, make_user, make_app, auth_header
):
    """Invitations change how one joins, not what leaving does."""
    from tests.api_helpers import join_by_invitation
    from tests.oauth_support import resource_server

    owner, member, vendor = make_user(), make_user(), make_user()
    owner_h = auth_header(owner)
    tenant_id = make_team(app, owner)
    join_by_invitation(client, tenant_id, owner_h, member, auth_header(member))
    web, secret = make_app(vendor, "web", redirect_uris=[REDIRECT_URI])
    installed = client.put(
        f"{API}/tenants/{tenant_id}/installations/{web.client_id}",
        json={"kind": "obo"},
        headers=owner_h,
    )
    assert installed.status_code == 200
    browser = Browser(client=app.test_client())
    browser.login(member.email, PASSWORD)
    url = "/oauth/authorize?" + urlencode(
        {"response_type": "code", "client_id": web.client_id, "redirect_uri": REDIRECT_URI}
    )
    workspaces = client.get(f"{API}/tenants/{tenant_id}/workspaces", headers=owner_h).json
    code = query(browser.authorize(url, workspace_id=workspaces["items"][0]["id"]))["code"]
    access = exchange_code(client, web.client_id, secret, code).json["access_token"]
    rs = resource_server(app)
    assert client.post("/oauth/introspect", data={"token": access}, headers=rs).json["active"]
    removed = client.delete(f"{API}/tenants/{tenant_id}/members/{member.id}", headers=owner_h)
    assert removed.status_code == 204
    assert client.post("/oauth/introspect", data={"token": access}, headers=rs).json == {
        "active": False
    }


def test_basic_credentials_that_are_not_utf8_stay_invalid_client(client):
    raw = base64.b64encode(b"\xff:\xfe").decode()
    for path in RFC_POSTS:
        response = client.post(path, data={"token": "x"}, headers={"Authorization": f"Basic {raw}"})
        dialect_error(response, path, 401, "invalid_client")
