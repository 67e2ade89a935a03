"""Authorization code (web apps) and PKCE (pkce apps) in both dialects, with their failures."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.oauth_support import REDIRECT_URI, Browser, basic, query, resource_server


def authorize_url(client_id: str, dialect: str = "rfc", **params: str) -> str:
    path = "/oauth/authorize" if dialect == "rfc" else "/api/permission/oauth2/authorize"
    base = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI}
    base.update(params)
    return path + "?" + urlencode(base)


@pytest.fixture
def web_app(person, make_app):
    return make_app(person.user, "web", permissions=["Connector.botChat"])


@pytest.fixture
def pkce_app(person, make_app):
    created, _ = make_app(person.user, "pkce")
    return created


def exchange_rfc(client, code, client_id, secret=None, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    data.update(extra)
    headers = basic(client_id, secret) if secret else {}
    if not secret:
        data["client_id"] = client_id
    return client.post("/oauth/token", data=data, headers=headers)


def exchange_coze(client, code, client_id, secret=None, **extra):
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
    }
    body.update(extra)
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return client.post("/api/permission/oauth2/token", json=body, headers=headers)


def test_web_code_flow_rfc(client, app, person, web_app):
    created, secret = web_app
    location = person.authorize(authorize_url(created.client_id, state="s-1"))
    assert location.startswith(REDIRECT_URI + "?")
    params = query(location)
    assert params["state"] == "s-1"
    assert params["iss"] == "http://localhost"
    assert params["code"].startswith("code_")
    response = exchange_rfc(client, params["code"], created.client_id, secret)
    assert response.status_code == 200, response.json
    body = response.json
    assert response.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["access_token"].startswith("czu_") and body["refresh_token"].startswith("czr_")
    assert len(body["access_token"]) >= 4 + 43
    info = client.post(
        "/oauth/introspect", data={"token": body["access_token"]}, headers=resource_server(app)
    ).json
    assert info["active"] is True
    assert info["client_id"] == created.client_id
    assert info["sub"] == str(person.user.id)
    assert info["auth_type"] == "obo" and info["app_type"] == "web"
    assert info["scope"] == "Connector.botChat"
    assert info["exp"] - info["iat"] == 900
    assert info["tenant_id"] == str(created.tenant_id) and "workspace_id" in info


def test_web_code_flow_coze_with_client_secret_post(client, person, web_app):
    created, secret = web_app
    location = person.authorize(authorize_url(created.client_id, "coze", state=""))
    response = exchange_coze(client, query(location)["code"], created.client_id, secret)
    assert response.status_code == 200, response.json
    assert response.json["expires_in"] > 1_700_000_000  # absolute in this dialect
    assert "X-Tt-Logid" in response.headers
    # client_secret_post works in the RFC dialect too
    location = person.authorize(authorize_url(created.client_id))
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query(location)["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": created.client_id,
            "client_secret": secret,
        },
    )
    assert response.status_code == 200


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
@pytest.mark.parametrize("secret_kind", ["wrong", "missing"])
def test_wrong_or_missing_secret(client, person, web_app, dialect, secret_kind):
    created, secret = web_app
    code = query(person.authorize(authorize_url(created.client_id)))["code"]
    given = "cs_wrong" if secret_kind == "wrong" else None
    exchange = exchange_rfc if dialect == "rfc" else exchange_coze
    response = exchange(client, code, created.client_id, given)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"
    if dialect == "coze":
        assert response.json["error_code"] == "invalid_client" and response.json["error_message"]
    else:
        assert "WWW-Authenticate" in response.headers or secret_kind == "missing"


def test_unknown_client_id_is_invalid_client(client):
    response = client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI},
        headers=basic("1234567890123456789", "cs_x"),
    )
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_redirect_uri_mismatch_is_never_redirected(client, person, web_app):
    created, _ = web_app
    status, headers, html = person.get(
        authorize_url(created.client_id, redirect_uri="http://127.0.0.1:8765/callback/evil")
    )
    assert status == 400 and "Location" not in headers
    assert "invalid_request" in html


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_redirect_uri_mismatch_at_token_endpoint(client, person, web_app, dialect):
    created, secret = web_app
    code = query(person.authorize(authorize_url(created.client_id)))["code"]
    exchange = exchange_rfc if dialect == "rfc" else exchange_coze
    response = exchange(client, code, created.client_id, secret, redirect_uri=REDIRECT_URI + "x")
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_code_reuse_is_refused_and_revokes_its_tokens(client, app, person, web_app, dialect):
    created, secret = web_app
    code = query(person.authorize(authorize_url(created.client_id)))["code"]
    exchange = exchange_rfc if dialect == "rfc" else exchange_coze
    first = exchange(client, code, created.client_id, secret)
    assert first.status_code == 200
    second = exchange(client, code, created.client_id, secret)
    assert second.status_code == 400 and second.json["error"] == "invalid_grant"
    rs = resource_server(app)
    for token in (first.json["access_token"], first.json["refresh_token"]):
        assert client.post("/oauth/introspect", data={"token": token}, headers=rs).json == {
            "active": False
        }


def test_state_is_echoed_on_deny(client, person, web_app):
    created, _ = web_app
    location = person.authorize(authorize_url(created.client_id, state="keep-me"), "deny")
    params = query(location)
    assert params["error"] == "access_denied" and "code" not in params
    assert params["state"] == "keep-me" and params["iss"] == "http://localhost"


@pytest.mark.parametrize("method", ["plain", "S256"])
@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_pkce_flow(client, app, person, pkce_app, method, dialect):
    verifier = secrets.token_hex(8)  # 16 characters, as coze-go sends
    challenge = verifier if method == "plain" else create_s256_code_challenge(verifier)
    url = authorize_url(
        pkce_app.client_id, dialect, code_challenge=challenge, code_challenge_method=method
    )
    code = query(person.authorize(url))["code"]
    exchange = exchange_rfc if dialect == "rfc" else exchange_coze
    response = exchange(client, code, pkce_app.client_id, code_verifier=verifier)
    assert response.status_code == 200, response.json
    refreshed = (
        client.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": response.json["refresh_token"],
                "client_id": pkce_app.client_id,
            },
        )
        if dialect == "rfc"
        else client.post(
            "/api/permission/oauth2/token",
            json={
                "grant_type": "refresh_token",
                "refresh_token": response.json["refresh_token"],
                "client_id": pkce_app.client_id,
            },
            headers={"Authorization": "Bearer"},  # coze-js: bare Bearer means no credential
        )
    )
    assert refreshed.status_code == 200, refreshed.json


def test_pkce_is_mandatory_for_pkce_apps(client, person, pkce_app):
    location = person.get(authorize_url(pkce_app.client_id, state="z"))[1]["Location"]
    params = query(location)
    assert params["error"] == "invalid_request" and params["state"] == "z"


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
@pytest.mark.parametrize("case", ["wrong", "missing", "too_short", "method_mismatch"])
def test_pkce_verifier_failures(client, person, pkce_app, dialect, case):
    verifier = secrets.token_urlsafe(32)
    method = "S256"
    challenge = create_s256_code_challenge(verifier)
    if case == "method_mismatch":
        # issued as S256; presenting the challenge itself as a plain verifier must fail
        sent = challenge
    elif case == "wrong":
        sent = secrets.token_urlsafe(32)
    elif case == "too_short":
        sent = "abc"
    else:
        sent = None
    url = authorize_url(pkce_app.client_id, code_challenge=challenge, code_challenge_method=method)
    code = query(person.authorize(url))["code"]
    exchange = exchange_rfc if dialect == "rfc" else exchange_coze
    extra = {"code_verifier": sent} if sent else {}
    response = exchange(client, code, pkce_app.client_id, **extra)
    assert response.status_code == 400
    expected = "invalid_grant" if case in ("wrong", "method_mismatch") else "invalid_request"
    assert response.json["error"] == expected
    if dialect == "coze":
        assert response.json["error_code"] == expected


def test_code_with_challenge_cannot_be_redeemed_by_web_app_without_verifier(
    client, person, web_app
):
    created, secret = web_app
    verifier = secrets.token_urlsafe(32)
    url = authorize_url(
        created.client_id,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    code = query(person.authorize(url))["code"]
    response = exchange_rfc(client, code, created.client_id, secret)
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_require_s256_setting(app, client, person, pkce_app):
    app.config["PKCE_REQUIRE_S256"] = True
    from server.oauth.server import OAuthServer

    server = OAuthServer()
    server.init_app(app)
    app.extensions["oauth_server"] = server
    verifier = secrets.token_urlsafe(32)
    location = person.get(
        authorize_url(pkce_app.client_id, code_challenge=verifier, code_challenge_method="plain")
    )[1]["Location"]
    assert query(location)["error"] == "invalid_request"
    meta = client.get("/.well-known/oauth-authorization-server").json
    assert meta["code_challenge_methods_supported"] == ["S256"]


def test_login_required_before_consent(client, make_app, make_user):
    owner = make_user()
    created, _ = make_app(owner, "web")
    browser = Browser(client=client)
    status, headers, _ = browser.get(authorize_url(created.client_id))
    assert status == 302 and headers["Location"].startswith("/oauth/consent?authorize_key=")
    status, headers, _ = browser.get(headers["Location"])
    assert status == 302 and headers["Location"].startswith("/login?next=")
