"""Management API: apps — creation rules, quotas, roles, isolation, secrets, status, delete."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import event, func, select

from grants.secrets import digest, matches
from server import clients
from server.errors import DomainError
from server.extensions import db
from server.models import (
    App,
    AppKey,
    Authorization,
    AuthorizationCode,
    DeviceCode,
    Installation,
    OAuthToken,
    RetiredClientId,
)
from tests.api_helpers import (
    API,
    add_member,
    assert_error,
    make_team,
    personal_id,
    rsa_public_pem,
    snapshot,
    text_dump,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

LOOPBACK = "http://127.0.0.1:8765/callback"


def app_body(client_type: str = "web", **fields) -> dict:
    body = {"name": "My app", "client_type": client_type, "description": "An app"}
    if client_type in ("web", "pkce"):
        body["redirect_uris"] = [LOOPBACK]
    body.update(fields)
    return body


# Creation


@pytest.mark.parametrize("client_type", ["web", "pkce", "device", "service"])
def test_create_each_type(app, client, make_user, auth_header, client_type):
    user = make_user()
    tenant = personal_id(app, user)
    response = client.post(
        f"{API}/tenants/{tenant}/apps",
        json=app_body(client_type, permissions=["Bot.read", "Connector.botChat"]),
        headers=auth_header(user),
    )
    assert response.status_code == 201
    body = response.json
    assert re.fullmatch(r"[1-9][0-9]{18}", body["client_id"])
    assert body["client_type"] == client_type
    assert body["status"] == "enabled"
    assert body["tenant_id"] == str(tenant)
    assert body["registration"] == "managed"
    assert body["permissions"] == ["Bot.read", "Connector.botChat"]
    assert body["redirect_uris"] == ([LOOPBACK] if client_type in ("web", "pkce") else [])
    assert set(body) == {
        "client_id",
        "tenant_id",
        "registration",
        "name",
        "description",
        "client_type",
        "status",
        "redirect_uris",
        "permissions",
        "created_at",
        "updated_at",
        "previous_secret_expires_at",
        "client_secret",
        "app_kind",
        "connector_id",
    }
    assert (body["app_kind"], body["connector_id"]) == ("normal", None)
    if client_type == "web":
        assert body["client_secret"].startswith("cs_")
    else:
        assert body["client_secret"] is None


@pytest.mark.parametrize(
    ("client_type", "uris", "ok"),
    [
        ("web", ["https://app.example.com/cb"], True),
        ("web", ["https://app.example.com:8443/oauth/cb?x=1"], True),
        ("web", ["http://localhost:3000/cb"], True),
        ("web", ["http://127.0.0.1/cb"], True),
        ("web", ["http://127.10.20.30:9/cb"], True),
        ("web", ["http://[::1]:8080/cb"], True),
        ("pkce", ["com.example.app:/callback"], True),
        ("pkce", ["com.example.app://oauth/callback"], True),
        ("pkce", ["https://app.example.com/cb", "com.example.app:/cb"], True),
        ("web", [], False),
        ("pkce", [], False),
        ("web", ["http://app.example.com/cb"], False),
        ("web", ["http://127.0.0.1.example.com/cb"], False),
        ("web", ["http://10.0.0.1/cb"], False),
        ("web", ["https://app.example.com/cb#fragment"], False),
        ("web", ["https://app.example.com/cb#"], False),
        ("web", ["/relative/cb"], False),
        ("web", ["app.example.com/cb"], False),
        ("web", ["https:///cb"], False),
        ("web", ["https://user:pw@app.example.com/cb"], False),
        ("web", ["https://app.example.com:99999/cb"], False),
        ("web", ["https://app.example.com/a b"], False),
        ("web", ["https://app.exämple.com/cb"], False),
        ("web", ["javascript:alert(1)"], False),
        ("web", ["com.example.app:/callback"], False),
        ("pkce", ["myapp:/callback"], False),
        ("pkce", ["data:text/html,hi"], False),
        ("pkce", ["com.example.app:"], False),
        ("device", ["https://app.example.com/cb"], False),
        ("service", ["https://app.example.com/cb"], False),
        ("web", [f"https://app.example.com/{i}" for i in range(11)], False),
    ],
)
def test_redirect_uri_rules(app, client, make_user, auth_header, client_type, uris, ok):
    user = make_user()
    headers = auth_header(user)
    before = snapshot(app)
    response = client.post(
        f"{API}/tenants/{personal_id(app, user)}/apps",
        json=app_body(client_type, redirect_uris=uris),
        headers=headers,
    )
    if ok:
        assert response.status_code == 201, response.json
        assert response.json["redirect_uris"] == uris
    else:
        assert_error(response, 422)
        assert snapshot(app) == before


def test_unknown_permission_is_422(app, client, make_user, auth_header):
    user = make_user()
    headers = auth_header(user)
    before = snapshot(app)
    response = client.post(
        f"{API}/tenants/{personal_id(app, user)}/apps",
        json=app_body(permissions=["Bot.read", "Bot.destroyEverything"]),
        headers=headers,
    )
    assert_error(response, 422)
    assert snapshot(app) == before


def test_domain_function_validates_like_the_api(app, make_user):
    user = make_user()
    with app.app_context():
        tenant = personal_id(app, user)
        for fields in (
            {"name": "", "client_type": "web", "redirect_uris": [LOOPBACK]},
            {"name": "x" * 101, "client_type": "web", "redirect_uris": [LOOPBACK]},
            {"name": "ok", "client_type": "robot"},
            {"name": "ok", "client_type": "web", "redirect_uris": ["http://example.com/cb"]},
            {"name": "ok", "client_type": "device", "permissions": ["Nope.nope"]},
            {"name": "bad\x00name", "client_type": "device"},
        ):
            with pytest.raises(DomainError) as caught:
                clients.register_app(user, tenant, **fields)
            assert caught.value.status == 422
            db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(App)) == 0


# Quotas


def _bulk_create(app, owner, tenant_id: int, count: int) -> None:
    with app.app_context():
        for i in range(count):
            clients.register_app(owner, tenant_id, name=f"bulk {i}", client_type="device")
        db.session.commit()


def test_personal_quota_is_ten(app, client, make_user, auth_header):
    user = make_user()
    tenant = personal_id(app, user)
    headers = auth_header(user)
    _bulk_create(app, user, tenant, 9)
    url = f"{API}/tenants/{tenant}/apps"
    assert client.post(url, json=app_body(), headers=headers).status_code == 201
    before = snapshot(app)
    assert_error(client.post(url, json=app_body(), headers=headers), 409, "quota_exceeded")
    assert snapshot(app) == before


@pytest.mark.parametrize("edition", ["team", "enterprise"])
def test_team_quota_is_a_hundred(app, client, make_user, auth_header, edition):
    user = make_user()
    tenant = make_team(app, user, edition=edition)
    headers = auth_header(user)
    _bulk_create(app, user, tenant, 99)
    url = f"{API}/tenants/{tenant}/apps"
    assert client.post(url, json=app_body(), headers=headers).status_code == 201
    before = snapshot(app)
    assert_error(client.post(url, json=app_body(), headers=headers), 409, "quota_exceeded")
    assert snapshot(app) == before


def test_quotas_come_from_settings(app, client, make_user, auth_header):
    user = make_user()
    headers = auth_header(user)
    app.config["APP_QUOTA_PERSONAL"] = 1
    url = f"{API}/tenants/{personal_id(app, user)}/apps"
    assert client.post(url, json=app_body(), headers=headers).status_code == 201
    assert_error(client.post(url, json=app_body(), headers=headers), 409, "quota_exceeded")


def test_deleting_frees_quota(app, client, make_user, make_app, auth_header):
    user = make_user()
    headers = auth_header(user)
    app.config["APP_QUOTA_PERSONAL"] = 1
    created, _ = make_app(user)
    url = f"{API}/tenants/{personal_id(app, user)}/apps"
    assert_error(client.post(url, json=app_body(), headers=headers), 409, "quota_exceeded")
    assert client.delete(f"{API}/apps/{created.client_id}", headers=headers).status_code == 204
    assert client.post(url, json=app_body(), headers=headers).status_code == 201


# Roles in team tenants


@pytest.fixture
def team(app, make_user, make_app):
    """A team with one user per role, an outsider, and one app of each type owned by the team."""
    users = {r: make_user() for r in ("super_admin", "admin", "member", "outsider")}
    tenant = make_team(app, users["super_admin"])
    add_member(app, tenant, users["admin"], "admin")
    add_member(app, tenant, users["member"], "member")
    apps = {
        t: make_app(users["super_admin"], t, tenant_id=tenant)[0]
        for t in ("web", "pkce", "device", "service")
    }
    return tenant, users, apps


def _writes(tenant: int, apps: dict) -> dict:
    web, service = apps["web"].client_id, apps["service"].client_id
    return {
        "create": ("POST", f"/tenants/{tenant}/apps", app_body()),
        "edit": ("PATCH", f"/apps/{web}", {"name": "Renamed"}),
        "delete": ("DELETE", f"/apps/{web}", None),
        "enable": ("POST", f"/apps/{web}/enable", None),
        "disable": ("POST", f"/apps/{web}/disable", None),
        "rotate": ("POST", f"/apps/{web}/secret", None),
        "add_key": ("POST", f"/apps/{service}/keys", None),
        "authorize": ("POST", f"/apps/{service}/authorize", None),
        "install": (
            "PUT",
            f"/tenants/{tenant}/installations/{apps['pkce'].client_id}",
            {"kind": "obo"},
        ),
    }


WRITE_STATUS = {
    "create": 201,
    "edit": 200,
    "delete": 204,
    "enable": 200,
    "disable": 200,
    "rotate": 200,
    "add_key": 201,
    "authorize": 200,
    "install": 200,
}


@pytest.mark.parametrize("action", list(WRITE_STATUS))
@pytest.mark.parametrize("role", ["super_admin", "admin", "member", "outsider"])
def test_writes_by_role(app, client, team, auth_header, action, role):
    tenant, users, apps = team
    method, path, body = _writes(tenant, apps)[action]
    headers = auth_header(users[role])
    before = snapshot(app)
    response = client.open(f"{API}{path}", method=method, json=body, headers=headers)
    if role in ("super_admin", "admin"):
        assert response.status_code == WRITE_STATUS[action], response.get_data(as_text=True)
    else:
        assert_error(response, 403 if role == "member" else 404)
        assert snapshot(app) == before


@pytest.mark.parametrize("role", ["super_admin", "admin", "member"])
def test_every_member_reads_apps(client, team, auth_header, role):
    tenant, users, apps = team
    headers = auth_header(users[role])
    listed = client.get(f"{API}/tenants/{tenant}/apps", headers=headers).json["items"]
    assert {a["client_id"] for a in listed} == {a.client_id for a in apps.values()}
    for created in apps.values():
        got = client.get(f"{API}/apps/{created.client_id}", headers=headers)
        assert got.status_code == 200
        assert got.json["client_type"] == created.client_type
    keys = client.get(f"{API}/apps/{apps['service'].client_id}/keys", headers=headers)
    assert keys.status_code == 200


def test_uninstall_by_role(app, client, team, auth_header):
    tenant, users, apps = team
    pkce = apps["pkce"].client_id
    admin_headers = auth_header(users["admin"])
    url = f"{API}/tenants/{tenant}/installations/{pkce}"
    assert client.put(url, json={"kind": "obo"}, headers=admin_headers).status_code == 200
    assert_error(client.delete(url, headers=auth_header(users["member"])), 403)
    assert_error(client.delete(url, headers=auth_header(users["outsider"])), 404)
    assert client.delete(url, headers=admin_headers).status_code == 204


# Isolation


def test_another_tenants_apps_are_not_found(app, client, make_user, make_app, auth_header):
    owner, outsider = make_user(), make_user()
    web, _ = make_app(owner, "web")
    service, _ = make_app(owner, "service")
    headers = auth_header(outsider)
    before = snapshot(app)
    for method, path, body in [
        ("GET", f"/apps/{web.client_id}", None),
        ("PATCH", f"/apps/{web.client_id}", {"name": "Mine now"}),
        ("DELETE", f"/apps/{web.client_id}", None),
        ("POST", f"/apps/{web.client_id}/enable", None),
        ("POST", f"/apps/{web.client_id}/disable", None),
        ("POST", f"/apps/{web.client_id}/secret", None),
        ("GET", f"/apps/{service.client_id}/keys", None),
        ("POST", f"/apps/{service.client_id}/keys", None),
        ("POST", f"/apps/{service.client_id}/authorize", None),
        ("GET", f"/tenants/{personal_id(app, owner)}/apps", None),
        ("POST", f"/tenants/{personal_id(app, owner)}/apps", app_body()),
    ]:
        response = client.open(f"{API}{path}", method=method, json=body, headers=headers)
        assert_error(response, 404, "not_found")
    assert snapshot(app) == before
    mine = client.get(f"{API}/tenants/{personal_id(app, outsider)}/apps", headers=headers)
    assert mine.json == {"items": []}


def test_absent_app_is_404(client, make_user, auth_header):
    headers = auth_header(make_user())
    assert_error(client.get(f"{API}/apps/1234567890123456789", headers=headers), 404)


# Editing and the immutable type


def test_edit_changes_fields(app, client, make_user, make_app, auth_header):
    user = make_user()
    created, _ = make_app(user, "pkce")
    response = client.patch(
        f"{API}/apps/{created.client_id}",
        json={
            "name": "New name",
            "description": "New words",
            "redirect_uris": ["com.example.app:/cb", "https://app.example.com/cb"],
            "permissions": ["Workflow.run"],
        },
        headers=auth_header(user),
    )
    assert response.status_code == 200
    body = response.json
    assert (body["name"], body["description"]) == ("New name", "New words")
    assert body["redirect_uris"] == ["com.example.app:/cb", "https://app.example.com/cb"]
    assert body["permissions"] == ["Workflow.run"]
    assert body["updated_at"] >= body["created_at"]
    assert "client_secret" not in body


@pytest.mark.parametrize(
    ("client_type", "patch"),
    [
        ("web", {"redirect_uris": []}),
        ("web", {"redirect_uris": ["com.example.app:/cb"]}),
        ("device", {"redirect_uris": ["https://app.example.com/cb"]}),
        ("web", {"permissions": ["Not.aPermission"]}),
        ("web", {"name": "   "}),
    ],
)
def test_edit_validates(app, client, make_user, make_app, auth_header, client_type, patch):
    user = make_user()
    created, _ = make_app(user, client_type)
    headers = auth_header(user)
    before = snapshot(app)
    assert_error(client.patch(f"{API}/apps/{created.client_id}", json=patch, headers=headers), 422)
    assert snapshot(app) == before


@pytest.mark.parametrize("client_type", ["web", "pkce", "device", "service"])
def test_client_type_never_changes(app, client, make_user, make_app, auth_header, client_type):
    user = make_user()
    created, _ = make_app(user, client_type)
    headers = auth_header(user)
    url = f"{API}/apps/{created.client_id}"
    for other in {"web", "pkce", "device", "service"} - {client_type}:
        before = snapshot(app)
        response = client.patch(url, json={"client_type": other, "name": "x"}, headers=headers)
        assert_error(response, 422, "immutable_field")
        assert snapshot(app) == before
    same = client.patch(url, json={"client_type": client_type, "name": "Same"}, headers=headers)
    assert same.status_code == 200
    assert (same.json["client_type"], same.json["name"]) == (client_type, "Same")


# Secrets


def test_web_secret_is_shown_once_and_stored_hashed(app, client, make_user, auth_header):
    user = make_user()
    headers = auth_header(user)
    response = client.post(
        f"{API}/tenants/{personal_id(app, user)}/apps", json=app_body(), headers=headers
    )
    assert response.headers["Cache-Control"] == "no-store"
    created = response.json
    secret, client_id = created["client_secret"], created["client_id"]
    assert client.get(f"{API}/apps/{client_id}", headers=headers).json.get("client_secret") is None
    listed = client.get(f"{API}/tenants/{personal_id(app, user)}/apps", headers=headers)
    assert secret not in listed.get_data(as_text=True)
    dump = text_dump(app)
    assert secret not in dump
    assert secret[3:] not in dump
    with app.app_context():
        stored = db.session.get(App, client_id).client_secret_hash
    assert stored == digest(secret)


def test_rotate_secret(app, client, make_user, make_app, auth_header):
    user = make_user()
    created, old = make_app(user, "web")
    response = client.post(f"{API}/apps/{created.client_id}/secret", headers=auth_header(user))
    assert response.status_code == 200
    new = response.json["client_secret"]
    assert new.startswith("cs_") and new != old
    assert response.json["client_id"] == created.client_id
    with app.app_context():
        stored = db.session.get(App, created.client_id).client_secret_hash
    assert matches(new, stored) and not matches(old, stored)
    assert new not in text_dump(app)


@pytest.mark.parametrize("client_type", ["pkce", "device", "service"])
def test_rotate_secret_only_for_web_apps(post_to_own_app, client_type):
    response, changed = post_to_own_app(client_type, "secret")
    assert_error(response, 422, "not_web_app")
    assert not changed


# Status


def test_disable_and_enable(app, client, make_user, make_app, auth_header):
    user = make_user()
    created, _ = make_app(user, "device")
    headers = auth_header(user)
    url = f"{API}/apps/{created.client_id}"
    assert client.post(f"{url}/disable", headers=headers).json["status"] == "disabled"
    assert client.get(url, headers=headers).json["status"] == "disabled"
    assert client.post(f"{url}/disable", headers=headers).json["status"] == "disabled"
    assert client.post(f"{url}/enable", headers=headers).json["status"] == "enabled"
    with app.app_context():
        assert db.session.get(App, created.client_id).status == "enabled"


def _statements(app, action) -> list[str]:
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement.split()[0].upper())

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", listen)
        try:
            action()
            db.session.commit()
        finally:
            event.remove(engine, "before_cursor_execute", listen)
    return seen


def _add_tokens(app, client_id: str, tenant_id: int, count: int) -> None:
    now = int(time.time())
    with app.app_context():
        db.session.add_all(
            OAuthToken(
                access_token_hash=digest(f"{client_id}-{i}-{now}"),
                client_id=client_id,
                auth_type="obo",
                tenant_id=tenant_id,
                user_id=1,
                family_id=f"f{i}",
                issued_at=now,
                expires_at=now + 900,
            )
            for i in range(count)
        )
        db.session.commit()


@pytest.mark.parametrize("operation", ["disable", "delete"])
def test_lifecycle_cost_does_not_grow_with_tokens(app, make_user, make_app, operation):
    user = make_user()
    tenant = personal_id(app, user)
    few, _ = make_app(user, "device")
    many, _ = make_app(user, "device")
    _add_tokens(app, few.client_id, tenant, 1)
    _add_tokens(app, many.client_id, tenant, 200)

    def run(client_id: str):
        if operation == "disable":
            return lambda: clients.set_status(user, client_id, "disabled")
        return lambda: clients.delete_app(user, client_id)

    assert _statements(app, run(few.client_id)) == _statements(app, run(many.client_id))
    with app.app_context():
        # The tokens stay as rows; the access rule refuses them (no app, or disabled app).
        assert db.session.scalar(select(func.count()).select_from(OAuthToken)) == 201


# Delete


def test_delete_is_permanent_and_removes_what_hangs_off_the_app(
    app, client, make_user, make_app, auth_header
):
    user = make_user()
    headers = auth_header(user)
    service, _ = make_app(user, "service")
    client_id = service.client_id
    assert (
        client.post(
            f"{API}/apps/{client_id}/keys", json={"public_key": rsa_public_pem()}, headers=headers
        ).status_code
        == 201
    )
    assert client.post(f"{API}/apps/{client_id}/authorize", headers=headers).status_code == 200
    with app.app_context():
        db.session.add(
            AuthorizationCode(
                code_hash=digest("code"),
                client_id=client_id,
                user_id=user.id,
                tenant_id=1,
                authorization_id=1,
                redirect_uri="x",
                family_id="f",
                expires_at=int(time.time()) + 60,
            )
        )
        db.session.add(
            DeviceCode(
                device_code_hash=digest("dc"),
                user_code_hash=digest("uc"),
                client_id=client_id,
                created_at=int(time.time()),
                expires_at=int(time.time()) + 60,
            )
        )
        db.session.commit()
    assert client.delete(f"{API}/apps/{client_id}", headers=headers).status_code == 204
    assert_error(client.get(f"{API}/apps/{client_id}", headers=headers), 404)
    assert_error(client.delete(f"{API}/apps/{client_id}", headers=headers), 404)
    with app.app_context():
        assert db.session.get(RetiredClientId, client_id) is not None
        for model in (App, AppKey, Installation, Authorization, AuthorizationCode, DeviceCode):
            count = db.session.scalar(
                select(func.count()).select_from(model).where(model.client_id == client_id)
            )
            assert count == 0, model.__name__


def test_deleted_client_id_is_never_reused(app, make_user, make_app, monkeypatch):
    user = make_user()
    created, _ = make_app(user, "device")
    with app.app_context():
        clients.delete_app(user, created.client_id)
        db.session.commit()
    retired_offset = int(created.client_id) - 10**18
    draws = iter([retired_offset, retired_offset, 42])
    monkeypatch.setattr(clients.secrets, "randbelow", lambda _n: next(draws))
    with app.app_context():
        fresh, _ = clients.register_app(
            user, personal_id(app, user), name="n", client_type="device"
        )
        db.session.commit()
        assert fresh.client_id == str(10**18 + 42)


def test_live_client_id_is_never_reused(app, make_user, make_app, monkeypatch):
    user = make_user()
    created, _ = make_app(user, "device")
    draws = iter([int(created.client_id) - 10**18, 7])
    monkeypatch.setattr(clients.secrets, "randbelow", lambda _n: next(draws))
    with app.app_context():
        fresh, _ = clients.register_app(
            user, personal_id(app, user), name="n", client_type="device"
        )
        assert fresh.client_id == str(10**18 + 7)
