"""Refresh rotation, revocation (RFC 7009), introspection (RFC 7662) and metadata (RFC 8414)."""

from __future__ import annotations

import pytest

from tests.oauth_support import basic, code_tokens, refresh_with, resource_server


@pytest.fixture
def rs(app):
    return resource_server(app)


def active(client, rs, token):
    return client.post("/oauth/introspect", data={"token": token}, headers=rs).json["active"]


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_refresh_rotates_and_reuse_revokes_the_family(client, person, make_app, rs, dialect):
    created, secret = make_app(person.user, "web")
    first = code_tokens(client, person, created.client_id, secret)
    second = refresh_with(client, created.client_id, secret, first["refresh_token"], dialect)
    assert second.status_code == 200, second.json
    second = second.json
    assert second["refresh_token"] != first["refresh_token"]
    assert not active(client, rs, first["refresh_token"])
    assert active(client, rs, second["access_token"]) and active(
        client, rs, second["refresh_token"]
    )

    reuse = refresh_with(client, created.client_id, secret, first["refresh_token"], dialect)
    assert reuse.status_code == 400 and reuse.json["error"] == "invalid_grant"
    for token in (first["access_token"], second["access_token"], second["refresh_token"]):
        assert not active(client, rs, token)
    again = refresh_with(client, created.client_id, secret, second["refresh_token"], dialect)
    assert again.status_code == 400


def test_web_refresh_requires_the_secret(client, person, make_app):
    created, secret = make_app(person.user, "web")
    tokens = code_tokens(client, person, created.client_id, secret)
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": created.client_id,
        },
    )
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_revocation_of_own_tokens(client, person, make_app, rs):
    created, secret = make_app(person.user, "web")
    tokens = code_tokens(client, person, created.client_id, secret)
    response = client.post(
        "/oauth/revoke",
        data={"token": tokens["access_token"]},
        headers=basic(created.client_id, secret),
    )
    assert response.status_code == 200
    assert not active(client, rs, tokens["access_token"])
    assert active(client, rs, tokens["refresh_token"])
    response = client.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        headers=basic(created.client_id, secret),
    )
    assert response.status_code == 200
    assert not active(client, rs, tokens["refresh_token"])
    # RFC 7009 §2.2: an unknown token is not an error
    response = client.post(
        "/oauth/revoke", data={"token": "czu_unknown"}, headers=basic(created.client_id, secret)
    )
    assert response.status_code == 200


def test_revocation_of_another_apps_token_is_refused(client, person, make_app, rs):
    mine, my_secret = make_app(person.user, "web")
    theirs, their_secret = make_app(person.user, "web")
    tokens = code_tokens(client, person, theirs.client_id, their_secret)
    response = client.post(
        "/oauth/revoke",
        data={"token": tokens["access_token"]},
        headers=basic(mine.client_id, my_secret),
    )
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"
    assert active(client, rs, tokens["access_token"])


@pytest.mark.parametrize(
    "headers",
    [{}, basic("rs_unknown", "rss_x"), {"Authorization": "Bearer something"}],
    ids=["none", "unknown", "bearer"],
)
def test_introspection_requires_a_resource_server(client, person, make_app, rs, headers):
    created, secret = make_app(person.user, "web")
    tokens = code_tokens(client, person, created.client_id, secret)
    response = client.post(
        "/oauth/introspect", data={"token": tokens["access_token"]}, headers=headers
    )
    assert response.status_code == 401 and response.json["error"] == "invalid_client"
    assert "active" not in response.json


def test_introspection_with_a_wrong_secret(client, app, person, make_app, rs):
    created, secret = make_app(person.user, "web")
    tokens = code_tokens(client, person, created.client_id, secret)
    server_id = __import__("base64").b64decode(rs["Authorization"][6:]).decode().split(":")[0]
    response = client.post(
        "/oauth/introspect",
        data={"token": tokens["access_token"]},
        headers=basic(server_id, "rss_wrong"),
    )
    assert response.status_code == 401
    # nor can an app introspect with its own credentials
    response = client.post(
        "/oauth/introspect",
        data={"token": tokens["access_token"]},
        headers=basic(created.client_id, secret),
    )
    assert response.status_code == 401


def test_introspection_of_unknown_tokens(client, rs):
    for token in ("czu_nothing", "x" * 5000, ""):
        response = client.post("/oauth/introspect", data={"token": token}, headers=rs)
        if token:
            assert response.status_code == 200 and response.json == {"active": False}
        else:
            assert response.status_code == 400


def test_metadata_lists_every_endpoint(client):
    meta = client.get("/.well-known/oauth-authorization-server").json
    assert meta["issuer"] == "http://localhost"
    for name, path in [
        ("authorization_endpoint", "/oauth/authorize"),
        ("token_endpoint", "/oauth/token"),
        ("device_authorization_endpoint", "/oauth/device_authorization"),
        ("introspection_endpoint", "/oauth/introspect"),
        ("revocation_endpoint", "/oauth/revoke"),
    ]:
        assert meta[name] == "http://localhost" + path
    assert set(meta["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    }
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert meta["code_challenge_methods_supported"] == ["plain", "S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True


def test_rfc_endpoints_take_form_bodies_only(client):
    response = client.post("/oauth/token", json={"grant_type": "refresh_token"})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    response = client.post(
        "/oauth/token",
        data="grant_type=a&grant_type=b",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    response = client.post("/oauth/token", data={"grant_type": "password"})
    assert response.status_code == 400 and response.json["error"] == "unsupported_grant_type"


def test_coze_errors_have_both_shapes(client):
    response = client.post("/api/permission/oauth2/token", json={"grant_type": "password"})
    body = response.json
    assert response.status_code == 400
    assert body["error_code"] == body["error"] == "unsupported_grant_type"
    assert body["error_message"] == "not supported grant type: password"
    assert body["error_description"] and response.headers["X-Tt-Logid"]
    for raw in (b"[1,2]", b"not json", b'"string"'):
        response = client.post(
            "/api/permission/oauth2/token", data=raw, content_type="application/json"
        )
        assert response.status_code == 400 and response.json["error_code"] == "invalid_request"
