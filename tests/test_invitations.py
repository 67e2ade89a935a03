"""Invitations replace adding members directly: one answer whether or not an account has the
email, nobody joins without accepting with that email, and invitations expire, are cancelled,
declined and audited; in the API and the console, in English and Chinese."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from server import accounts
from server.extensions import db
from server.models import AuditEntry, Invitation
from tests.api_helpers import API, assert_error, join_by_invitation, make_team, snapshot
from tests.test_console import Console

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def team(app, make_user, auth_header):
    owner = make_user()
    return make_team(app, owner), owner, auth_header(owner)


def _invite(client, tenant_id, headers, email, role="member"):
    return client.post(
        f"{API}/tenants/{tenant_id}/members", json={"email": email, "role": role}, headers=headers
    )


def _members(client, tenant_id, headers):
    items = client.get(f"{API}/tenants/{tenant_id}/members", headers=headers).json["items"]
    return {m["email"] for m in items}


def test_the_answer_is_the_same_whether_or_not_the_account_exists(app, client, team, make_user):
    tenant_id, owner, headers = team
    existing = make_user("someone@example.com")
    answers = []
    for email in (existing.email, "nobody@example.com"):
        response = _invite(client, tenant_id, headers, email)
        assert response.status_code == 202
        body = response.json
        assert set(body) == {"invitation"}
        invitation = body["invitation"]
        assert invitation["email"] == email and invitation["status"] == "pending"
        expires = datetime.fromisoformat(invitation["expires_at"])
        assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
        answers.append((response.status_code, sorted(response.headers.keys()), sorted(invitation)))
    assert answers[0] == answers[1]
    # Nobody joined.
    assert _members(client, tenant_id, headers) == {owner.email}
    with app.app_context():
        assert accounts.role_in(existing.id, tenant_id) is None


def test_accept_makes_the_membership_with_the_invited_role(
    app, client, team, make_user, auth_header
):
    tenant_id, owner, headers = team
    invitee, bystander = make_user(), make_user()
    invitee_h = auth_header(invitee)
    invitation = _invite(client, tenant_id, headers, invitee.email.upper(), "admin").json[
        "invitation"
    ]
    assert client.get(f"{API}/me/invitations", headers=auth_header(bystander)).json == {"items": []}
    mine = client.get(f"{API}/me/invitations", headers=invitee_h).json["items"]
    assert [(i["id"], i["tenant_id"], i["role"]) for i in mine] == [
        (invitation["id"], str(tenant_id), "admin")
    ]
    # Someone else cannot accept it: it is not theirs, so it is absent.
    bystander_h = auth_header(bystander)
    before = snapshot(app)
    url = f"{API}/me/invitations/{invitation['id']}/accept"
    assert_error(client.post(url, headers=bystander_h), 404)
    assert snapshot(app) == before

    accepted = client.post(url, headers=invitee_h)
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted"
    with app.app_context():
        assert accounts.role_in(invitee.id, tenant_id) == "admin"
        actions = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.tenant_id == tenant_id)
        ).all()
    assert {"invitation.create", "member.add"} <= set(actions)
    # Used up: neither listed nor acceptable again.
    assert client.get(f"{API}/me/invitations", headers=invitee_h).json == {"items": []}
    assert_error(client.post(url, headers=invitee_h), 404)
    assert client.get(f"{API}/tenants/{tenant_id}/invitations", headers=headers).json == {
        "items": []
    }


def test_decline_cancel_and_expiry_leave_no_membership(app, client, team, make_user, auth_header):
    tenant_id, owner, headers = team
    invitee = make_user()
    invitee_h = auth_header(invitee)

    declined = _invite(client, tenant_id, headers, invitee.email).json["invitation"]
    response = client.post(f"{API}/me/invitations/{declined['id']}/decline", headers=invitee_h)
    assert response.status_code == 200 and response.json["status"] == "declined"
    assert_error(
        client.post(f"{API}/me/invitations/{declined['id']}/accept", headers=invitee_h), 404
    )

    cancelled = _invite(client, tenant_id, headers, invitee.email).json["invitation"]
    assert cancelled["id"] != declined["id"]
    listed = client.get(f"{API}/tenants/{tenant_id}/invitations", headers=headers).json["items"]
    assert [i["id"] for i in listed] == [cancelled["id"]]
    delete = f"{API}/tenants/{tenant_id}/invitations/{cancelled['id']}"
    assert client.delete(delete, headers=headers).status_code == 204
    assert_error(client.delete(delete, headers=headers), 404)
    assert_error(
        client.post(f"{API}/me/invitations/{cancelled['id']}/accept", headers=invitee_h), 404
    )

    expired = _invite(client, tenant_id, headers, invitee.email).json["invitation"]
    with app.app_context():
        db.session.execute(
            update(Invitation)
            .where(Invitation.id == int(expired["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    assert client.get(f"{API}/me/invitations", headers=invitee_h).json == {"items": []}
    assert_error(
        client.post(f"{API}/me/invitations/{expired['id']}/accept", headers=invitee_h), 404
    )
    listed = client.get(f"{API}/tenants/{tenant_id}/invitations", headers=headers).json["items"]
    assert [(i["id"], i["status"]) for i in listed] == [(expired["id"], "expired")]
    # Inviting again renews the pending invitation instead of adding another.
    renewed = _invite(client, tenant_id, headers, invitee.email).json["invitation"]
    assert renewed["id"] == expired["id"] and renewed["status"] == "pending"

    with app.app_context():
        assert accounts.role_in(invitee.id, tenant_id) is None
        actions = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.tenant_id == tenant_id)
        ).all()
    assert {"invitation.decline", "invitation.cancel"} <= set(actions)


def test_only_admins_see_and_cancel_a_tenants_invitations(
    app, client, team, make_user, auth_header
):
    tenant_id, owner, headers = team
    member, outsider = make_user(), make_user()
    join_by_invitation(client, tenant_id, headers, member, auth_header(member))
    invitation = _invite(client, tenant_id, headers, "later@example.com").json["invitation"]
    for user, status in ((member, 403), (outsider, 404)):
        h = auth_header(user)
        assert_error(client.get(f"{API}/tenants/{tenant_id}/invitations", headers=h), status)
        url = f"{API}/tenants/{tenant_id}/invitations/{invitation['id']}"
        assert_error(client.delete(url, headers=h), status)
        assert_error(_invite(client, tenant_id, h, "x@example.com"), status)
    # Another tenant's invitation id names nothing here.
    other = make_team(app, owner, "Other")
    assert_error(
        client.delete(f"{API}/tenants/{other}/invitations/{invitation['id']}", headers=headers),
        404,
    )


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ("Invitations", "Accept", "Decline", "valid for 7 days", "expire after 7 days")),
        ("zh", ("邀请", "接受", "拒绝", "7 天内有效", "邀请 7 天后过期")),
    ],
)
def test_the_console_invites_lists_accepts_and_cancels(app, client, make_user, language, words):
    owner, invitee = make_user(), make_user()
    tenant_id = make_team(app, owner, "Acme")
    admin_console = Console(app.test_client(), owner)
    admin_console.client.set_cookie("lang", language)
    page = f"/console/tenants/{tenant_id}/invitations"
    response = admin_console.post(page, {"email": invitee.email, "role": "member"}, page=page)
    assert response.status_code == 302
    html = admin_console.get(page).get_data(as_text=True)
    assert invitee.email in html and words[0] in html
    assert words[3] in html and words[4] in html  # the flash and the lead: INVITATION_DAYS
    # A second invitation, cancelled from the admin page.
    admin_console.post(page, {"email": "gone@example.com", "role": "admin"}, page=page)
    with app.app_context():
        gone = db.session.scalar(select(Invitation).where(Invitation.email == "gone@example.com"))
    admin_console.post(f"{page}/{gone.id}/cancel", page=page)
    assert "gone@example.com" not in admin_console.get(page).get_data(as_text=True)

    console = Console(client, invitee)
    client.set_cookie("lang", language)
    html = console.get("/console/invitations").get_data(as_text=True)
    assert "Acme" in html and words[1] in html and words[2] in html
    with app.app_context():
        invitation = db.session.scalar(select(Invitation).where(Invitation.email == invitee.email))
    response = console.post(
        f"/console/invitations/{invitation.id}/accept", page="/console/invitations"
    )
    assert response.headers["Location"].endswith(f"/console/tenants/{tenant_id}")
    with app.app_context():
        assert accounts.role_in(invitee.id, tenant_id) == "member"
    html = console.get("/console/invitations").get_data(as_text=True)
    assert f"/console/invitations/{invitation.id}/accept" not in html


def test_the_console_offers_only_the_roles_the_admin_may_give(app, client, make_user, auth_header):
    owner, admin = make_user(), make_user()
    tenant_id = make_team(app, owner, "Acme")
    join_by_invitation(client, tenant_id, auth_header(owner), admin, auth_header(admin), "admin")
    page = f"/console/tenants/{tenant_id}/invitations"
    roles = {}
    for who in (owner, admin):
        html = Console(app.test_client(), who).get(page).get_data(as_text=True)
        roles[who.email] = re.findall(r'<option value="([a-z_]+)">', html)
    assert roles == {
        owner.email: ["member", "admin", "super_admin"],
        admin.email: ["member", "admin"],
    }


def test_the_console_marks_an_invitation_past_its_time(app, client, make_user):
    owner = make_user()
    tenant_id = make_team(app, owner, "Acme")
    console = Console(client, owner)
    page = f"/console/tenants/{tenant_id}/invitations"
    for email in ("late@example.com", "fresh@example.com"):
        console.post(page, {"email": email, "role": "member"}, page=page)
    with app.app_context():
        db.session.execute(
            update(Invitation)
            .where(Invitation.email == "late@example.com")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    rows = re.findall(r"<tr>(.*?)</tr>", console.get(page).get_data(as_text=True), re.S)
    expired = {
        email
        for email in ("late@example.com", "fresh@example.com")
        for row in rows
        if email in row and ">Expired</span>" in row
    }
    assert expired == {"late@example.com"}
