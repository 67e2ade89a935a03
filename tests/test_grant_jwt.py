"""JWT bearer grant (RFC 7523) for service apps, in both dialects, and every way to get it wrong."""

from __future__ import annotations

import time

import pytest

from server import clients
from server.extensions import db
from server.models import User
from tests.oauth_support import JWT_BEARER, assertion, make_jwt, resource_server, service_app

AUD = "localhost"  # the in-process app's issuer is http://localhost


@pytest.fixture
def owner(make_user):
    return make_user()


@pytest.fixture
def service(app, owner, make_app):
    return service_app(app, owner, make_app, permissions=["Connector.botChat", "Bot.read"])


def rfc_token(client, jwt, **extra):
    data = {"grant_type": JWT_BEARER, "assertion": jwt}
    data.update(extra)
    return client.post("/oauth/token", data=data)


def coze_token(client, jwt, path="/api/permission/oauth2/token", **extra):
    body = {"grant_type": JWT_BEARER, "duration_seconds": 900, "scope": None}
    body.update(extra)
    return client.post(path, json=body, headers={"Authorization": f"Bearer {jwt}"})


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_service_token(client, app, service, dialect):
    client_id, kid, pem = service
    jwt = assertion(client_id, kid, pem, AUD, session_name="user-42")
    before = int(time.time())
    response = rfc_token(client, jwt) if dialect == "rfc" else coze_token(client, jwt)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["access_token"].startswith("czs_") and "refresh_token" not in body
    if dialect == "rfc":
        assert body["expires_in"] == 900
    else:
        assert before + 900 <= body["expires_in"] <= int(time.time()) + 900
    info = client.post(
        "/oauth/introspect", data={"token": body["access_token"]}, headers=resource_server(app)
    ).json
    assert info["active"] and info["auth_type"] == "appauth" and info["app_type"] == "service"
    assert info["session_name"] == "user-42" and "sub" not in info
    assert info["scope"] == "Connector.botChat Bot.read"


@pytest.mark.parametrize(
    "audience", ["localhost", "http://localhost", "http://localhost/oauth/token"]
)
def test_accepted_audiences(client, service, audience):
    client_id, kid, pem = service
    assert rfc_token(client, assertion(client_id, kid, pem, audience)).status_code == 200


def test_duration_and_scope_object(client, service):
    client_id, kid, pem = service
    response = coze_token(
        client,
        assertion(client_id, kid, pem, AUD),
        duration_seconds=86399,
        scope={
            "account_permission": {"permission_list": ["Connector.botChat"]},
            "attribute_constraint": None,
        },
    )
    assert response.status_code == 200
    assert response.json["expires_in"] >= int(time.time()) + 86398
    too_much = coze_token(
        client,
        assertion(client_id, kid, pem, AUD),
        scope={"account_permission": {"permission_list": ["Dataset.delete"]}},
    )
    assert too_much.status_code == 400 and too_much.json["error_code"] == "invalid_scope"


@pytest.mark.parametrize("duration", [0, 86400, -5, "abc", 1.5])
def test_duration_out_of_range(client, service, duration):
    client_id, kid, pem = service
    response = coze_token(client, assertion(client_id, kid, pem, AUD), duration_seconds=duration)
    assert response.status_code == 400
    assert response.json["error_code"] == "invalid_request" and response.json["error_message"]


def _bad_assertions(client_id, kid, pem, other_kid, other_pem, public_pem):
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    claims = {"iss": client_id, "aud": AUD, "iat": now, "exp": now + 600, "jti": "j" * 32}
    return {
        "alg_none": make_jwt({**header, "alg": "none"}, claims),
        "hs256_with_public_key": make_jwt(
            {**header, "alg": "HS256"}, claims, hmac_key=public_pem.encode()
        ),
        "unknown_kid": assertion(client_id, "x" * 43, pem, AUD),
        "another_apps_key": assertion(client_id, other_kid, other_pem, AUD),
        "wrong_aud": assertion(client_id, kid, pem, "evil.example"),
        "expired": assertion(client_id, kid, pem, AUD, iat=now - 600, exp=now - 1),
        "iat_in_future": assertion(client_id, kid, pem, AUD, iat=now + 300, exp=now + 900),
        "too_long": assertion(client_id, kid, pem, AUD, iat=now, exp=now + 86401),
        "no_jti": assertion(client_id, kid, pem, AUD, jti=None),
        "short_jti": assertion(client_id, kid, pem, AUD, jti="abc"),
        "no_exp": assertion(client_id, kid, pem, AUD, exp=None),
        "wrong_iss": assertion("1" * 19, kid, pem, AUD),
        "garbage": "not.a.jwt",
    }


CASES = [
    "alg_none",
    "hs256_with_public_key",
    "unknown_kid",
    "another_apps_key",
    "wrong_aud",
    "expired",
    "iat_in_future",
    "too_long",
    "no_jti",
    "short_jti",
    "no_exp",
    "wrong_iss",
    "garbage",
]


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
@pytest.mark.parametrize("case", CASES)
def test_bad_assertions_are_refused(client, app, owner, make_app, service, case, dialect):
    client_id, kid, pem = service
    other_id, other_kid, other_pem = service_app(app, owner, make_app)
    with app.app_context():
        from sqlalchemy import select

        from server.models import AppKey

        public_pem = db.session.scalar(select(AppKey.public_key_pem).where(AppKey.kid == kid))
    jwt = _bad_assertions(client_id, kid, pem, other_kid, other_pem, public_pem)[case]
    if dialect == "rfc":
        response = rfc_token(client, jwt)
        assert response.status_code == 400 and response.json["error"] == "invalid_grant"
    else:
        response = coze_token(client, jwt)
        assert response.status_code == 401
        assert response.json["error_code"] == "invalid_client" and response.json["error_message"]


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_replayed_jti_is_refused(client, service, dialect):
    client_id, kid, pem = service
    jwt = assertion(client_id, kid, pem, AUD)
    send = rfc_token if dialect == "rfc" else coze_token
    assert send(client, jwt).status_code == 200
    replay = send(client, jwt)
    assert replay.status_code == (400 if dialect == "rfc" else 401)


def test_not_yet_authorized_service_app_is_refused(client, app, owner, make_app):
    client_id, kid, pem = service_app(app, owner, make_app, authorized=False)
    rfc = rfc_token(client, assertion(client_id, kid, pem, AUD))
    assert rfc.status_code == 400 and rfc.json["error"] == "unauthorized_client"
    coze = coze_token(client, assertion(client_id, kid, pem, AUD))
    assert coze.status_code == 400 and coze.json["error_code"] == "access_deny"


def test_cross_account_token(client, app, owner, make_user, service):
    client_id, kid, pem = service
    other = make_user()
    with app.app_context():
        from server.accounts import personal_tenant

        other_tenant = personal_tenant(other.id).id
        owner_tenant = personal_tenant(owner.id).id
    path = f"/api/permission/oauth2/account/{other_tenant}/token"
    refused = coze_token(client, assertion(client_id, kid, pem, AUD), path=path)
    assert refused.status_code == 400 and refused.json["error_code"] == "access_deny"
    with app.app_context():
        clients.install(db.session.get(User, other.id), other_tenant, client_id, "appauth")
        db.session.commit()
    response = coze_token(client, assertion(client_id, kid, pem, AUD), path=path)
    assert response.status_code == 200, response.json
    info = client.post(
        "/oauth/introspect",
        data={"token": response.json["access_token"]},
        headers=resource_server(app),
    ).json
    assert info["tenant_id"] == str(other_tenant) != str(owner_tenant)
    unknown = coze_token(
        client,
        assertion(client_id, kid, pem, AUD),
        path="/api/permission/oauth2/account/999999999/token",
    )
    assert unknown.status_code == 400 and unknown.json["error_code"] == "access_deny"
    wrong_grant = client.post(path, json={"grant_type": "refresh_token", "refresh_token": "x"})
    assert wrong_grant.status_code == 400
    assert wrong_grant.json["error_code"] == "unsupported_grant_type"
