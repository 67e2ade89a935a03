"""The audit trail: one entry per action, read by admins, newest first, paged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server import audit, clients
from server.extensions import db
from server.models import Authorization
from tests.api_helpers import (
    API,
    add_member,
    assert_error,
    join_by_invitation,
    make_team,
    personal_id,
    rsa_public_pem,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _entries(client, tenant: int, headers: dict, query: str = "") -> list[dict]:
    response = client.get(f"{API}/tenants/{tenant}/audit{query}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json["items"]


def test_every_action_leaves_an_entry(app, client, make_user, make_app, auth_header):
    owner, member, newcomer, vendor = make_user(), make_user(), make_user(), make_user()
    headers = auth_header(owner)
    team = client.post(f"{API}/tenants", json={"name": "T", "edition": "team"}, headers=headers)
    team = int(team.json["id"])
    vendor_app, _ = make_app(vendor, "pkce")

    def ok(method: str, path: str, body=None) -> dict | None:
        response = client.open(API + path, method=method, json=body, headers=headers)
        assert response.status_code < 300, (path, response.json)
        return response.json

    join_by_invitation(client, team, headers, member, auth_header(member))
    invited = ok("POST", f"/tenants/{team}/members", {"email": newcomer.email, "role": "member"})
    ok("DELETE", f"/tenants/{team}/invitations/{invited['invitation']['id']}")
    join_by_invitation(client, team, headers, newcomer, auth_header(newcomer))
    ok("PATCH", f"/tenants/{team}/members/{newcomer.id}", {"role": "admin"})
    ok("DELETE", f"/tenants/{team}/members/{newcomer.id}")
    ok("POST", f"/tenants/{team}/workspaces", {"name": "W"})
    web = ok(
        "POST",
        f"/tenants/{team}/apps",
        {"name": "Web", "client_type": "web", "redirect_uris": ["https://a.example/cb"]},
    )
    secret = web["client_secret"]
    web = web["client_id"]
    service = ok("POST", f"/tenants/{team}/apps", {"name": "S", "client_type": "service"})
    service = service["client_id"]
    ok("PATCH", f"/apps/{web}", {"name": "Web 2"})
    ok("POST", f"/apps/{web}/disable")
    ok("POST", f"/apps/{web}/enable")
    rotated = ok("POST", f"/apps/{web}/secret")["client_secret"]
    kid = ok("POST", f"/apps/{service}/keys", {"public_key": rsa_public_pem()})["kid"]
    ok("DELETE", f"/apps/{service}/keys/{kid}")
    ok("POST", f"/apps/{service}/authorize")
    with app.app_context():
        clients.request_installation(member, team, vendor_app.client_id)
        db.session.commit()
    ok("PUT", f"/tenants/{team}/installations/{vendor_app.client_id}", {"kind": "obo"})
    ok("DELETE", f"/tenants/{team}/installations/{vendor_app.client_id}")
    ok("DELETE", f"/apps/{web}")

    items = _entries(client, team, headers, "?limit=200")
    actions = [i["action"] for i in reversed(items)]
    assert actions == [
        "tenant.create",
        "invitation.create",
        "member.add",
        "invitation.create",
        "invitation.cancel",
        "invitation.create",
        "member.add",
        "member.update",
        "member.remove",
        "workspace.create",
        "app.create",
        "app.create",
        "app.update",
        "app.disable",
        "app.enable",
        "app.secret_rotate",
        "key.add",
        "key.delete",
        "installation.install",
        "installation.request",
        "installation.approve",
        "installation.uninstall",
        "app.delete",
    ]
    for item in items:
        assert item["tenant_id"] == str(team)
        assert item["created_at"]
        expected_actor = member.id if item["action"] == "installation.request" else owner.id
        if item["action"] == "member.add":
            # One joins by accepting an invitation: the actor is the one who joined.
            expected_actor = int(item["target"])
        assert item["actor_user_id"] == str(expected_actor)
    by_action = {i["action"]: i for i in items}
    assert by_action["app.delete"]["target"] == web
    names = {"actor_email": owner.email}
    key_added = by_action["key.add"]["detail"]
    assert key_added == {"kid": kid, "generated": False, **names, "app_name": key_added["app_name"]}
    updated = by_action["member.update"]["detail"]
    assert updated == {
        "old_role": "member",
        "role": "admin",
        **names,
        "member_email": updated["member_email"],
    }
    # The deleted app's entry keeps its name.
    assert by_action["app.delete"]["detail"]["app_name"]
    text = str(items)
    assert secret not in text and rotated not in text
    ids = [int(i["id"]) for i in items]
    assert ids == sorted(ids, reverse=True)


def test_consent_revocation_is_audited_in_the_users_personal_tenant(
    app, client, make_user, make_app, auth_header
):
    vendor, user = make_user(), make_user()
    web, _ = make_app(vendor, "web")
    with app.app_context():
        db.session.add(
            Authorization(user_id=user.id, client_id=web.client_id, created_at=datetime.now(UTC))
        )
        db.session.commit()
    headers = auth_header(user)
    assert (
        client.delete(f"{API}/me/authorized-apps/{web.client_id}", headers=headers).status_code
        == 204
    )
    newest = _entries(client, personal_id(app, user), headers)[0]
    assert (newest["action"], newest["target"]) == ("authorization.revoke", web.client_id)


def test_paging_newest_first(app, client, make_user, auth_header):
    user = make_user()
    tenant = personal_id(app, user)
    with app.app_context():
        for i in range(120):
            audit.record("test.action", tenant_id=tenant, actor_user_id=user.id, target=str(i))
        db.session.commit()
    headers = auth_header(user)
    first = _entries(client, tenant, headers)
    assert len(first) == 50
    assert [e["target"] for e in first[:3]] == ["119", "118", "117"]
    second = _entries(client, tenant, headers, f"?before={first[-1]['id']}&limit=60")
    assert [e["target"] for e in second[:2]] == ["69", "68"]
    assert len(second) == 60
    rest = _entries(client, tenant, headers, f"?before={second[-1]['id']}&limit=200")
    # 10 test entries and the user's own creation remain.
    assert [e["target"] for e in rest[:-1]] == [str(i) for i in range(9, -1, -1)]
    assert rest[-1]["action"] == "user.create"
    assert len(_entries(client, tenant, headers, "?limit=200")) == 121
    assert_error(client.get(f"{API}/tenants/{tenant}/audit?limit=201", headers=headers), 422)


def test_other_tenants_entries_are_not_shown(app, client, make_user, auth_header):
    alice, bob = make_user(), make_user()
    items = _entries(client, personal_id(app, alice), auth_header(alice))
    assert {i["tenant_id"] for i in items} == {str(personal_id(app, alice))}
    assert all(i["actor_user_id"] != str(bob.id) for i in items)


@pytest.mark.parametrize(
    ("role", "status"), [("super_admin", 200), ("admin", 200), ("member", 403), ("outsider", 404)]
)
def test_only_admins_read_the_audit_trail(app, client, make_user, auth_header, role, status):
    owner = make_user()
    actor = owner if role == "super_admin" else make_user()
    team = make_team(app, owner)
    if role in ("admin", "member"):
        add_member(app, team, actor, role)
    response = client.get(f"{API}/tenants/{team}/audit", headers=auth_header(actor))
    if status == 200:
        assert response.status_code == 200
        assert response.json["items"][0]["action"] == "tenant.create"
    else:
        assert_error(response, status)


def test_failed_actions_leave_no_entry(app, client, make_user, make_app, auth_header):
    owner, member = make_user(), make_user()
    team = make_team(app, owner)
    add_member(app, team, member, "member")
    created, _ = make_app(owner, "web", tenant_id=team)
    headers = auth_header(owner)
    before = _entries(client, team, headers)
    assert_error(
        client.post(f"{API}/apps/{created.client_id}/disable", headers=auth_header(member)), 403
    )
    assert_error(
        client.patch(
            f"{API}/apps/{created.client_id}", json={"client_type": "pkce"}, headers=headers
        ),
        422,
    )
    assert _entries(client, team, headers) == before


def test_the_trail_filters_by_action_actor_and_app(app, client, make_user, make_app, auth_header):
    owner, admin = make_user(), make_user()
    team = make_team(app, owner)
    add_member(app, team, admin, "admin")
    one, _ = make_app(owner, "web", tenant_id=team)
    other, _ = make_app(owner, "pkce", tenant_id=team)
    headers = auth_header(owner)
    for actor, client_id, name in ((owner, one, "A"), (admin, one, "B"), (admin, other, "C")):
        response = client.patch(
            f"{API}/apps/{client_id.client_id}", json={"name": name}, headers=auth_header(actor)
        )
        assert response.status_code == 200

    def targets(query: str) -> list[tuple[str, str, str]]:
        return [
            (e["action"], e["actor_user_id"], e["target"])
            for e in _entries(client, team, headers, query)
        ]

    edits = targets("?action=app.update")
    assert edits == [
        ("app.update", str(admin.id), other.client_id),
        ("app.update", str(admin.id), one.client_id),
        ("app.update", str(owner.id), one.client_id),
    ]
    assert {t for _a, _u, t in targets(f"?client_id={one.client_id}")} == {one.client_id}
    assert {a for a, _u, _t in targets(f"?client_id={one.client_id}")} >= {"app.update"}
    assert {u for _a, u, _t in targets(f"?actor_user_id={admin.id}")} == {str(admin.id)}
    assert targets(f"?action=app.update&actor_user_id={admin.id}&client_id={one.client_id}") == [
        ("app.update", str(admin.id), one.client_id)
    ]
    assert targets(f"?action=app.update&actor_user_id={admin.id}&limit=1") == [edits[0]]
    assert targets("?action=app.no_such_thing") == []  # well-formed, matching nothing
    # Client ids have 19 digits and may exceed a signed 64-bit integer: still a valid filter.
    assert targets("?client_id=9999999999999999999") == []

    for bad in (
        "action=app",
        "action=<script>",
        "action=" + "a" * 40 + ".update",
        "actor_user_id=abc",
        "actor_user_id=0",
        "actor_user_id=9223372036854775808",
        "actor_user_id=99999999999999999999",
        "client_id=-1",
        "client_id=",
        "client_id=１２３",
    ):
        response = client.get(f"{API}/tenants/{team}/audit?{bad}", headers=headers)
        assert_error(response, 400)
        assert response.json["error"] == "invalid_request"
        assert bad.split("=")[0] in response.json["message"]


def test_the_filters_are_documented(client):
    document = client.get(f"{API}/openapi.json").json
    operation = document["paths"]["/api/v1/tenants/{tenant_id}/audit"]["get"]
    params = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert {"limit", "before", "action", "actor_user_id", "client_id"} <= set(params)
    assert params["action"]["schema"]["pattern"] == r"^[a-z_]{1,32}\.[a-z_]{1,32}$"
    assert "400" in operation["responses"]
