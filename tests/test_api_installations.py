"""Management API: service-app authorization, installations across tenants, pending requests,
uninstall and reinstall, and a user's authorized apps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from server import clients
from server.errors import DomainError
from server.extensions import db
from server.models import Authorization, Installation
from tests.api_helpers import API, add_member, assert_error, make_team, personal_id, snapshot

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _installations(app, tenant_id: int) -> list[Installation]:
    with app.app_context():
        rows = db.session.scalars(select(Installation).where(Installation.tenant_id == tenant_id))
        return [r for r in rows]


# Authorizing a service app in its own tenant


def test_authorize_service_app_installs_it_in_the_owner_tenant(
    app, client, make_user, make_app, auth_header
):
    user = make_user()
    service, _ = make_app(user, "service")
    headers = auth_header(user)
    response = client.post(f"{API}/apps/{service.client_id}/authorize", headers=headers)
    assert response.status_code == 200
    body = response.json
    tenant = str(personal_id(app, user))
    assert (body["kind"], body["status"], body["tenant_id"]) == ("appauth", "installed", tenant)
    assert body["owner_tenant_id"] == tenant
    assert body["installed_by"] == str(user.id)
    first = _installations(app, int(tenant))
    assert len(first) == 1
    again = client.post(f"{API}/apps/{service.client_id}/authorize", headers=headers)
    assert again.status_code == 200
    assert [i.id for i in _installations(app, int(tenant))] == [first[0].id]


@pytest.mark.parametrize("client_type", ["web", "pkce", "device"])
def test_authorize_is_for_service_apps_only(post_to_own_app, client_type):
    response, changed = post_to_own_app(client_type, "authorize")
    assert_error(response, 422, "not_service_app")
    assert not changed


# Installing in another tenant


@pytest.fixture
def two_tenants(app, make_user, make_app):
    """A vendor with one app of each type, and a customer team with an admin and a member."""
    vendor = make_user()
    apps = {t: make_app(vendor, t)[0] for t in ("web", "pkce", "device", "service")}
    admin, member, outsider = make_user(), make_user(), make_user()
    team = make_team(app, admin, "Customer")
    add_member(app, team, member, "member")
    return {"vendor": vendor, "admin": admin, "member": member, "outsider": outsider}, apps, team


@pytest.mark.parametrize(
    ("client_type", "kind"),
    [("web", "obo"), ("pkce", "obo"), ("device", "obo"), ("service", "appauth")],
)
def test_install_another_tenants_app(app, client, two_tenants, auth_header, client_type, kind):
    users, apps, team = two_tenants
    vendor_app = apps[client_type]
    headers = auth_header(users["admin"])
    url = f"{API}/tenants/{team}/installations/{vendor_app.client_id}"
    response = client.put(url, json={"kind": kind}, headers=headers)
    assert response.status_code == 200
    body = response.json
    assert body["client_id"] == vendor_app.client_id
    assert body["app_name"] == vendor_app.name
    assert body["owner_tenant_id"] == str(vendor_app.tenant_id)
    assert (body["kind"], body["status"]) == (kind, "installed")
    assert body["installed_at"] is not None and body["requested_by"] is None
    listed = client.get(f"{API}/tenants/{team}/installations", headers=headers).json["items"]
    assert listed == [body]
    member_view = client.get(
        f"{API}/tenants/{team}/installations", headers=auth_header(users["member"])
    )
    assert member_view.json["items"] == [body]
    # Installing again changes nothing.
    first = _installations(app, team)[0].id
    assert client.put(url, json={"kind": kind}, headers=headers).status_code == 200
    assert [i.id for i in _installations(app, team)] == [first]


@pytest.mark.parametrize(
    ("client_type", "kind"),
    [("web", "appauth"), ("pkce", "appauth"), ("device", "appauth"), ("service", "obo")],
)
def test_kind_must_match_the_app(app, client, two_tenants, auth_header, client_type, kind):
    users, apps, team = two_tenants
    headers = auth_header(users["admin"])
    before = snapshot(app)
    response = client.put(
        f"{API}/tenants/{team}/installations/{apps[client_type].client_id}",
        json={"kind": kind},
        headers=headers,
    )
    assert_error(response, 422, "kind_mismatch")
    assert snapshot(app) == before


def test_obo_install_in_a_personal_tenant_is_422(app, client, two_tenants, auth_header):
    users, apps, _ = two_tenants
    admin = users["admin"]
    headers = auth_header(admin)
    before = snapshot(app)
    response = client.put(
        f"{API}/tenants/{personal_id(app, admin)}/installations/{apps['web'].client_id}",
        json={"kind": "obo"},
        headers=headers,
    )
    assert_error(response, 422, "personal_tenant")
    assert snapshot(app) == before


def test_service_app_may_be_installed_in_another_personal_tenant(
    app, client, two_tenants, auth_header
):
    users, apps, _ = two_tenants
    admin = users["admin"]
    response = client.put(
        f"{API}/tenants/{personal_id(app, admin)}/installations/{apps['service'].client_id}",
        json={"kind": "appauth"},
        headers=auth_header(admin),
    )
    assert response.status_code == 200


@pytest.mark.parametrize(("role", "status"), [("member", 403), ("outsider", 404), ("vendor", 404)])
def test_only_the_installing_tenants_admins_install(
    app, client, two_tenants, auth_header, role, status
):
    users, apps, team = two_tenants
    headers = auth_header(users[role])
    before = snapshot(app)
    url = f"{API}/tenants/{team}/installations/{apps['web'].client_id}"
    assert_error(client.put(url, json={"kind": "obo"}, headers=headers), status)
    assert snapshot(app) == before


def test_unknown_app_is_404(client, two_tenants, auth_header):
    users, _, team = two_tenants
    response = client.put(
        f"{API}/tenants/{team}/installations/1000000000000000001",
        json={"kind": "obo"},
        headers=auth_header(users["admin"]),
    )
    assert_error(response, 404)


# Pending requests


def test_member_request_is_pending_until_an_admin_approves(app, client, two_tenants, auth_header):
    users, apps, team = two_tenants
    web = apps["web"]
    with app.app_context():
        pending = clients.request_installation(users["member"], team, web.client_id)
        db.session.commit()
        pending_id = pending.id
        again = clients.request_installation(users["member"], team, web.client_id)
        assert again.id == pending_id
    headers = auth_header(users["admin"])
    listed = client.get(f"{API}/tenants/{team}/installations", headers=headers).json["items"]
    assert [(i["status"], i["requested_by"]) for i in listed] == [
        ("pending", str(users["member"].id))
    ]
    assert listed[0]["requested_at"] is not None and listed[0]["installed_at"] is None
    url = f"{API}/tenants/{team}/installations/{web.client_id}"
    approved = client.put(url, json={"kind": "obo"}, headers=headers)
    assert approved.status_code == 200
    assert approved.json["status"] == "installed"
    assert approved.json["requested_by"] == str(users["member"].id)
    assert [i.id for i in _installations(app, team)] == [pending_id]


def test_admin_may_refuse_a_pending_request(app, client, two_tenants, auth_header):
    users, apps, team = two_tenants
    with app.app_context():
        clients.request_installation(users["member"], team, apps["pkce"].client_id)
        db.session.commit()
    url = f"{API}/tenants/{team}/installations/{apps['pkce'].client_id}"
    assert client.delete(url, headers=auth_header(users["admin"])).status_code == 204
    assert _installations(app, team) == []


@pytest.mark.parametrize(
    ("who", "client_type", "personal", "status"),
    [
        ("outsider", "web", False, 404),
        ("member", "service", False, 422),
        ("admin", "web", True, 422),
    ],
)
def test_request_installation_rules(app, two_tenants, who, client_type, personal, status):
    users, apps, team = two_tenants
    user = users[who]
    tenant = personal_id(app, user) if personal else team
    with app.app_context():
        with pytest.raises(DomainError) as caught:
            clients.request_installation(user, tenant, apps[client_type].client_id)
        assert caught.value.status == status
        with pytest.raises(DomainError) as absent:
            clients.request_installation(users["member"], team, "1000000000000000001")
        assert absent.value.status == 404


# Uninstall and reinstall


def test_uninstall_deletes_the_row_and_reinstall_makes_a_new_one(
    app, client, two_tenants, auth_header
):
    users, apps, team = two_tenants
    headers = auth_header(users["admin"])
    url = f"{API}/tenants/{team}/installations/{apps['service'].client_id}"
    first = client.put(url, json={"kind": "appauth"}, headers=headers)
    assert first.status_code == 200
    old_id = _installations(app, team)[0].id
    assert client.delete(url, headers=headers).status_code == 204
    assert _installations(app, team) == []
    assert_error(client.delete(url, headers=headers), 404)
    assert client.put(url, json={"kind": "appauth"}, headers=headers).status_code == 200
    rows = _installations(app, team)
    assert len(rows) == 1 and rows[0].id != old_id


def test_deleting_the_app_removes_its_installations(app, client, two_tenants, auth_header):
    users, apps, team = two_tenants
    url = f"{API}/tenants/{team}/installations/{apps['web'].client_id}"
    assert (
        client.put(url, json={"kind": "obo"}, headers=auth_header(users["admin"])).status_code
        == 200
    )
    vendor_headers = auth_header(users["vendor"])
    assert (
        client.delete(f"{API}/apps/{apps['web'].client_id}", headers=vendor_headers).status_code
        == 204
    )
    assert client.get(
        f"{API}/tenants/{team}/installations", headers=auth_header(users["admin"])
    ).json == {"items": []}


# A user's authorized apps


def _consent(app, user, client_id: str, permissions: list[str]) -> int:
    with app.app_context():
        row = Authorization(
            user_id=user.id,
            client_id=client_id,
            permissions=permissions,
            created_at=datetime.now(UTC),
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def test_authorized_apps_list_and_revoke(app, client, make_user, make_app, auth_header):
    vendor, user, other = make_user(), make_user(), make_user()
    web, _ = make_app(vendor, "web", name="Chat helper")
    device, _ = make_app(vendor, "device", name="TV app")
    _consent(app, user, web.client_id, ["Bot.read"])
    _consent(app, user, device.client_id, ["Connector.botChat"])
    _consent(app, other, web.client_id, ["Bot.read"])
    headers = auth_header(user)
    items = client.get(f"{API}/me/authorized-apps", headers=headers).json["items"]
    assert sorted((i["app_name"], i["client_type"], tuple(i["permissions"])) for i in items) == [
        ("Chat helper", "web", ("Bot.read",)),
        ("TV app", "device", ("Connector.botChat",)),
    ]
    assert all(i["created_at"] and "last_used_at" in i for i in items)
    assert (
        client.delete(f"{API}/me/authorized-apps/{web.client_id}", headers=headers).status_code
        == 204
    )
    remaining = client.get(f"{API}/me/authorized-apps", headers=headers).json["items"]
    assert [i["client_id"] for i in remaining] == [device.client_id]
    assert_error(client.delete(f"{API}/me/authorized-apps/{web.client_id}", headers=headers), 404)
    with app.app_context():
        # The other user's consent to the same app stands.
        assert db.session.scalar(select(Authorization.id).where(Authorization.user_id == other.id))


def test_revoke_without_consent_is_404(app, client, make_user, make_app, auth_header):
    vendor = make_user()
    web, _ = make_app(vendor, "web")
    headers = auth_header(make_user())
    before = snapshot(app)
    assert_error(client.delete(f"{API}/me/authorized-apps/{web.client_id}", headers=headers), 404)
    assert snapshot(app) == before
