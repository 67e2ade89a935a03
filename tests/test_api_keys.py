"""Management API: service-app keys — generation, upload, rejections, limits, roles."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import func, select

from keys import load_public_key, thumbprint
from server.extensions import db
from server.models import AppKey
from tests.api_helpers import (
    API,
    add_member,
    assert_error,
    ec_public_pem,
    make_team,
    rsa_private_pem,
    rsa_public_pem,
    snapshot,
    text_dump,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

# Keys are slow to make: make the uploads once per run.
PUBLIC_KEYS = [rsa_public_pem() for _ in range(4)]


@pytest.fixture
def service(make_user, make_app, auth_header):
    user = make_user()
    created, _ = make_app(user, "service")
    return created.client_id, auth_header(user)


def test_generated_key_signs_jwts_the_stored_public_key_verifies(app, client, service):
    client_id, headers = service
    response = client.post(f"{API}/apps/{client_id}/keys", headers=headers)
    assert response.status_code == 201
    body = response.json
    assert set(body) == {"kid", "public_key", "private_key", "created_at"}
    private_pem = body["private_key"]
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert body["kid"] == thumbprint(load_public_key(body["public_key"]))

    listed = client.get(f"{API}/apps/{client_id}/keys", headers=headers).json["items"]
    assert [k["kid"] for k in listed] == [body["kid"]]
    assert "private_key" not in listed[0]
    with app.app_context():
        stored = db.session.scalar(select(AppKey.public_key_pem).where(AppKey.kid == body["kid"]))

    now = int(time.time())
    claims = {"iss": client_id, "aud": "localhost", "iat": now, "exp": now + 300, "jti": "j1"}
    token = jwt.encode({"alg": "RS256", "kid": body["kid"]}, claims, RSAKey.import_key(private_pem))
    decoded = jwt.decode(token, RSAKey.import_key(stored), algorithms=["RS256"])
    assert decoded.claims["iss"] == client_id
    assert decoded.header["kid"] == body["kid"]

    dump = text_dump(app)
    secret_part = private_pem.splitlines()[5]
    assert secret_part not in dump


def test_empty_object_also_generates(client, service):
    client_id, headers = service
    response = client.post(f"{API}/apps/{client_id}/keys", json={}, headers=headers)
    assert response.status_code == 201
    assert response.json["private_key"].startswith("-----BEGIN PRIVATE KEY-----")


def test_upload_public_key(app, client, service):
    client_id, headers = service
    pem = PUBLIC_KEYS[0]
    response = client.post(
        f"{API}/apps/{client_id}/keys", json={"public_key": pem}, headers=headers
    )
    assert response.status_code == 201
    assert response.json["private_key"] is None
    assert response.json["kid"] == thumbprint(load_public_key(pem))
    assert load_public_key(response.json["public_key"]).as_dict() == load_public_key(pem).as_dict()


def test_upload_larger_rsa_key(client, service):
    client_id, headers = service
    response = client.post(
        f"{API}/apps/{client_id}/keys", json={"public_key": rsa_public_pem(3072)}, headers=headers
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("label", "make_pem", "status"),
    [
        ("ec", ec_public_pem, 422),
        ("rsa-1024", lambda: rsa_public_pem(1024), 422),
        ("private", rsa_private_pem, 422),
        ("garbage", lambda: "not a key at all", 422),
        ("truncated", lambda: PUBLIC_KEYS[0][:200], 422),
        ("empty", lambda: "", 422),
        ("non-ascii", lambda: "-----BEGIN PUBLIC KEY-----\nü\n-----END PUBLIC KEY-----", 422),
        ("oversize", lambda: PUBLIC_KEYS[0] + "x" * 20_000, 422),
    ],
)
def test_upload_rejections(app, client, service, label, make_pem, status):
    client_id, headers = service
    pem = make_pem()
    before = snapshot(app)
    response = client.post(
        f"{API}/apps/{client_id}/keys", json={"public_key": pem}, headers=headers
    )
    assert_error(response, status)
    assert snapshot(app) == before


def test_public_key_must_be_a_string(app, client, service):
    client_id, headers = service
    before = snapshot(app)
    for value in (123, None, ["pem"], {"pem": "x"}):
        response = client.post(
            f"{API}/apps/{client_id}/keys", json={"public_key": value}, headers=headers
        )
        assert_error(response, 400)
    assert snapshot(app) == before


def test_same_key_twice_is_a_conflict(app, client, service):
    client_id, headers = service
    url = f"{API}/apps/{client_id}/keys"
    assert client.post(url, json={"public_key": PUBLIC_KEYS[0]}, headers=headers).status_code == 201
    before = snapshot(app)
    response = client.post(url, json={"public_key": PUBLIC_KEYS[0]}, headers=headers)
    assert_error(response, 409, "duplicate_key")
    assert snapshot(app) == before


def test_same_key_on_two_apps_is_allowed(client, service, make_user, make_app, auth_header):
    client_id, headers = service
    user = make_user()
    other, _ = make_app(user, "service")
    body = {"public_key": PUBLIC_KEYS[0]}
    assert (
        client.post(f"{API}/apps/{client_id}/keys", json=body, headers=headers).status_code == 201
    )
    response = client.post(
        f"{API}/apps/{other.client_id}/keys", json=body, headers=auth_header(user)
    )
    assert response.status_code == 201


def test_three_keys_at_most(app, client, service):
    client_id, headers = service
    url = f"{API}/apps/{client_id}/keys"
    kids = []
    for pem in PUBLIC_KEYS[:3]:
        response = client.post(url, json={"public_key": pem}, headers=headers)
        assert response.status_code == 201
        kids.append(response.json["kid"])
    before = snapshot(app)
    assert_error(
        client.post(url, json={"public_key": PUBLIC_KEYS[3]}, headers=headers), 409, "key_limit"
    )
    assert_error(client.post(url, headers=headers), 409, "key_limit")
    assert snapshot(app) == before
    assert client.delete(f"{url}/{kids[0]}", headers=headers).status_code == 204
    assert client.post(url, json={"public_key": PUBLIC_KEYS[3]}, headers=headers).status_code == 201
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AppKey)) == 3


def test_delete_key(app, client, service):
    client_id, headers = service
    url = f"{API}/apps/{client_id}/keys"
    kid = client.post(url, json={"public_key": PUBLIC_KEYS[0]}, headers=headers).json["kid"]
    assert client.delete(f"{url}/{kid}", headers=headers).status_code == 204
    assert client.get(url, headers=headers).json == {"items": []}
    assert_error(client.delete(f"{url}/{kid}", headers=headers), 404)
    assert_error(client.delete(f"{url}/not-a-kid", headers=headers), 404)


@pytest.mark.parametrize("client_type", ["web", "pkce", "device"])
def test_keys_only_for_service_apps(app, client, make_user, make_app, auth_header, client_type):
    user = make_user()
    created, _ = make_app(user, client_type)
    headers = auth_header(user)
    url = f"{API}/apps/{created.client_id}/keys"
    before = snapshot(app)
    assert_error(client.post(url, headers=headers), 422, "not_service_app")
    assert_error(client.post(url, json={"public_key": PUBLIC_KEYS[0]}, headers=headers), 422)
    assert_error(client.get(url, headers=headers), 422, "not_service_app")
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("role", "status"), [("super_admin", 201), ("admin", 201), ("member", 403), ("outsider", 404)]
)
def test_key_writes_by_role(app, client, make_user, make_app, auth_header, role, status):
    owner = make_user()
    actor = owner if role == "super_admin" else make_user()
    tenant = make_team(app, owner)
    if role in ("admin", "member"):
        add_member(app, tenant, actor, role)
    created, _ = make_app(owner, "service", tenant_id=tenant)
    url = f"{API}/apps/{created.client_id}/keys"
    owner_headers = auth_header(owner)
    kid = client.post(url, json={"public_key": PUBLIC_KEYS[0]}, headers=owner_headers).json["kid"]
    headers = auth_header(actor)
    before = snapshot(app)
    added = client.post(url, json={"public_key": PUBLIC_KEYS[1]}, headers=headers)
    removed = client.delete(f"{url}/{kid}", headers=headers)
    if status == 201:
        assert added.status_code == 201
        assert removed.status_code == 204
    else:
        assert_error(added, status)
        assert_error(removed, status)
        assert snapshot(app) == before
