"""Management API: authentication, tenants, members and roles, workspaces, me, permissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from server.extensions import db
from server.models import Membership, PersonalAccessToken, Workspace
from server.permissions import CATALOGUE
from tests.api_helpers import (
    API,
    add_member,
    assert_error,
    login_session,
    make_team,
    personal_id,
    snapshot,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")


# Authentication


def test_no_credentials_is_401_with_bearer_challenge(client):
    response = client.get(f"{API}/me")
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer pat_not-a-real-token",
        "Bearer czu_an-oauth-access-token-is-not-accepted",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "pat_without_scheme",
    ],
)
def test_anything_but_a_live_personal_access_token_is_401(client, make_user, header):
    make_user()
    response = client.get(f"{API}/me", headers={"Authorization": header})
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_personal_access_token_is_401(app, client, make_user, auth_header):
    headers = auth_header(make_user())
    with app.app_context():
        db.session.execute(
            update(PersonalAccessToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    assert_error(client.get(f"{API}/me", headers=headers), 401)


def test_personal_access_token_works_and_records_last_use(app, client, make_user, auth_header):
    user = make_user("pat@example.com", name="Pat")
    response = client.get(f"{API}/me", headers=auth_header(user))
    assert response.status_code == 200
    assert response.json == {"id": str(user.id), "email": "pat@example.com", "name": "Pat"}
    with app.app_context():
        assert db.session.scalar(select(PersonalAccessToken.last_used_at)) is not None


def test_session_reads_without_csrf_and_writes_only_with_it(app, client, make_user):
    user = make_user()
    token = login_session(client, app, user)
    assert client.get(f"{API}/me").json["id"] == str(user.id)
    before = snapshot(app)
    body = {"name": "Team", "edition": "team"}
    assert_error(client.post(f"{API}/tenants", json=body), 400, "csrf_failed")
    wrong = {"X-CSRFToken": "not-the-token"}
    assert_error(client.post(f"{API}/tenants", json=body, headers=wrong), 400, "csrf_failed")
    assert snapshot(app) == before
    response = client.post(f"{API}/tenants", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 201


def test_session_with_unknown_user_is_401(client):
    with client.session_transaction() as sess:
        sess["user_id"] = 424242
    assert_error(client.get(f"{API}/me"), 401)


# Tenants


def test_list_tenants_shows_edition_and_my_role(app, client, make_user, auth_header):
    user = make_user()
    team = make_team(app, user, "Acme", "enterprise")
    items = client.get(f"{API}/tenants", headers=auth_header(user)).json["items"]
    assert [(t["edition"], t["role"]) for t in items] == [
        ("personal", "super_admin"),
        ("enterprise", "super_admin"),
    ]
    assert items[1] == {
        "id": str(team),
        "name": "Acme",
        "edition": "enterprise",
        "role": "super_admin",
        "created_at": items[1]["created_at"],
    }
    assert all(isinstance(t["id"], str) for t in items)


@pytest.mark.parametrize("edition", ["team", "enterprise"])
def test_create_tenant_makes_me_super_admin_with_a_default_workspace(
    app, client, make_user, auth_header, edition
):
    user = make_user()
    headers = auth_header(user)
    response = client.post(
        f"{API}/tenants", json={"name": "Acme", "edition": edition}, headers=headers
    )
    assert response.status_code == 201
    tenant = response.json
    assert (tenant["edition"], tenant["role"], tenant["name"]) == (edition, "super_admin", "Acme")
    workspaces = client.get(f"{API}/tenants/{tenant['id']}/workspaces", headers=headers).json
    assert [(w["name"], w["is_default"]) for w in workspaces["items"]] == [("Default", True)]
    assert client.get(f"{API}/tenants/{tenant['id']}", headers=headers).json == tenant


def test_create_personal_tenant_is_refused(app, client, make_user, auth_header):
    headers = auth_header(make_user())
    before = snapshot(app)
    response = client.post(
        f"{API}/tenants", json={"name": "Mine", "edition": "personal"}, headers=headers
    )
    assert_error(response, 422)
    assert snapshot(app) == before


def test_other_tenants_are_not_found(app, client, make_user, auth_header):
    owner, outsider = make_user(), make_user()
    team = make_team(app, owner)
    headers = auth_header(outsider)
    for path in ("", "/members", "/workspaces", "/apps", "/installations", "/audit"):
        assert_error(client.get(f"{API}/tenants/{team}{path}", headers=headers), 404, "not_found")
    assert_error(client.get(f"{API}/tenants/{personal_id(app, owner)}", headers=headers), 404)


# Members


@pytest.fixture
def team(app, make_user):
    """A team with a super_admin, an admin and a member, and one user outside it."""
    users = {role: make_user(f"{role}@example.com") for role in ("super_admin", "admin", "member")}
    users["outsider"] = make_user("outsider@example.com")
    tenant_id = make_team(app, users["super_admin"])
    add_member(app, tenant_id, users["admin"], "admin")
    add_member(app, tenant_id, users["member"], "member")
    return tenant_id, users


def test_members_list_is_visible_to_every_member(client, team, auth_header):
    tenant_id, users = team
    for role in ("super_admin", "admin", "member"):
        items = client.get(f"{API}/tenants/{tenant_id}/members", headers=auth_header(users[role]))
        assert {(m["email"], m["role"]) for m in items.json["items"]} == {
            ("super_admin@example.com", "super_admin"),
            ("admin@example.com", "admin"),
            ("member@example.com", "member"),
        }
    response = client.get(
        f"{API}/tenants/{tenant_id}/members", headers=auth_header(users["outsider"])
    )
    assert_error(response, 404)


@pytest.mark.parametrize(
    ("actor", "role", "status"),
    [
        ("super_admin", "member", 202),
        ("super_admin", "admin", 202),
        ("super_admin", "super_admin", 202),
        ("admin", "member", 202),
        ("admin", "admin", 202),
        ("admin", "super_admin", 403),
        ("member", "member", 403),
        ("outsider", "member", 404),
    ],
)
def test_add_member_by_role(app, client, team, make_user, auth_header, actor, role, status):
    tenant_id, users = team
    newcomer = make_user()
    headers = auth_header(users[actor])
    before = snapshot(app)
    response = client.post(
        f"{API}/tenants/{tenant_id}/members",
        json={"email": newcomer.email.upper(), "role": role},
        headers=headers,
    )
    if status == 202:
        assert response.status_code == 202
        invitation = response.json["invitation"]
        assert (invitation["email"], invitation["role"]) == (newcomer.email, role)
        assert invitation["status"] == "pending"
    else:
        assert_error(response, status)
        assert snapshot(app) == before


def test_add_member_conflicts_and_unknown_users(app, client, team, auth_header):
    tenant_id, users = team
    headers = auth_header(users["admin"])
    url = f"{API}/tenants/{tenant_id}/members"
    assert_error(client.post(url, json={"email": users["member"].email}, headers=headers), 409)
    response = client.post(url, json={"email": "nobody@example.com"}, headers=headers)
    assert response.status_code == 202


def test_personal_tenant_takes_no_members(app, client, make_user, auth_header):
    owner, other = make_user(), make_user()
    headers = auth_header(owner)
    before = snapshot(app)
    response = client.post(
        f"{API}/tenants/{personal_id(app, owner)}/members",
        json={"email": other.email, "role": "member"},
        headers=headers,
    )
    assert_error(response, 422, "personal_tenant")
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("actor", "target", "role", "status"),
    [
        ("super_admin", "member", "admin", 200),
        ("super_admin", "admin", "member", 200),
        ("super_admin", "admin", "super_admin", 200),
        ("admin", "member", "admin", 200),
        ("admin", "admin", "member", 200),
        ("admin", "member", "super_admin", 403),
        ("admin", "super_admin", "member", 403),
        ("member", "member", "admin", 403),
        ("member", "admin", "member", 403),
        ("outsider", "member", "admin", 404),
    ],
)
def test_change_role_by_role(app, client, team, auth_header, actor, target, role, status):
    tenant_id, users = team
    headers = auth_header(users[actor])
    before = snapshot(app)
    response = client.patch(
        f"{API}/tenants/{tenant_id}/members/{users[target].id}",
        json={"role": role},
        headers=headers,
    )
    if status == 200:
        assert response.status_code == 200
        assert response.json["role"] == role
    else:
        assert_error(response, status)
        assert snapshot(app) == before


@pytest.mark.parametrize(
    ("actor", "target", "status"),
    [
        ("super_admin", "member", 204),
        ("super_admin", "admin", 204),
        ("admin", "member", 204),
        ("admin", "admin", 204),
        ("admin", "super_admin", 403),
        ("member", "admin", 403),
        ("member", "member", 403),
        ("outsider", "member", 404),
    ],
)
def test_remove_member_by_role(app, client, team, auth_header, actor, target, status):
    tenant_id, users = team
    headers = auth_header(users[actor])
    before = snapshot(app)
    response = client.delete(
        f"{API}/tenants/{tenant_id}/members/{users[target].id}", headers=headers
    )
    if status == 204:
        assert response.status_code == 204
        with app.app_context():
            assert (
                db.session.get(Membership, {"tenant_id": tenant_id, "user_id": users[target].id})
                is None
            )
    else:
        assert_error(response, status)
        assert snapshot(app) == before


def test_last_super_admin_cannot_be_demoted_or_removed(app, client, team, auth_header):
    tenant_id, users = team
    boss = users["super_admin"]
    headers = auth_header(boss)
    url = f"{API}/tenants/{tenant_id}/members/{boss.id}"
    before = snapshot(app)
    assert_error(
        client.patch(url, json={"role": "admin"}, headers=headers), 409, "last_super_admin"
    )
    assert_error(client.delete(url, headers=headers), 409, "last_super_admin")
    assert snapshot(app) == before
    # With a second super_admin, the first may step down.
    promote = f"{API}/tenants/{tenant_id}/members/{users['admin'].id}"
    assert client.patch(promote, json={"role": "super_admin"}, headers=headers).status_code == 200
    assert client.patch(url, json={"role": "admin"}, headers=headers).json["role"] == "admin"


def test_personal_owner_cannot_be_demoted_or_removed(app, client, make_user, auth_header):
    owner = make_user()
    headers = auth_header(owner)
    url = f"{API}/tenants/{personal_id(app, owner)}/members/{owner.id}"
    assert_error(client.patch(url, json={"role": "member"}, headers=headers), 409)
    assert_error(client.delete(url, headers=headers), 409)


def test_member_absent_from_tenant_is_404(client, team, make_user, auth_header):
    tenant_id, users = team
    stranger = make_user()
    url = f"{API}/tenants/{tenant_id}/members/{stranger.id}"
    headers = auth_header(users["super_admin"])
    assert_error(client.patch(url, json={"role": "admin"}, headers=headers), 404)
    assert_error(client.delete(url, headers=headers), 404)


# Workspaces


@pytest.mark.parametrize(
    ("actor", "status"),
    [("super_admin", 201), ("admin", 201), ("member", 403), ("outsider", 404)],
)
def test_create_workspace_by_role(app, client, team, auth_header, actor, status):
    tenant_id, users = team
    headers = auth_header(users[actor])
    before = snapshot(app)
    response = client.post(
        f"{API}/tenants/{tenant_id}/workspaces", json={"name": "Research"}, headers=headers
    )
    if status == 201:
        assert response.status_code == 201
        assert response.json["name"] == "Research"
        assert response.json["is_default"] is False
        assert response.json["tenant_id"] == str(tenant_id)
        with app.app_context():
            assert db.session.get(Workspace, int(response.json["id"])).name == "Research"
    else:
        assert_error(response, status)
        assert snapshot(app) == before


def test_members_read_workspaces(client, team, auth_header):
    tenant_id, users = team
    response = client.get(
        f"{API}/tenants/{tenant_id}/workspaces", headers=auth_header(users["member"])
    )
    assert [w["is_default"] for w in response.json["items"]] == [True]


# Catalogue


def test_permission_catalogue(client, make_user, auth_header):
    response = client.get(f"{API}/permissions", headers=auth_header(make_user()))
    items = response.json["items"]
    names = [p["name"] for p in items]
    assert names == list(CATALOGUE)
    for name in ("Connector.botChat", "Bot.read", "Workflow.run", "Conversation.create"):
        assert name in names
    for expected in ("File.upload", "Workspace.read"):
        assert expected in names
    assert all(p["description"] for p in items)
