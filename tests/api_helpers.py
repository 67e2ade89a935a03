"""Helpers shared by the management API tests: database snapshots, dumps, sessions, keys."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask, session
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from server.extensions import db
from server.models import Base, Membership, User

API = "/api/v1"


def snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, except when personal access tokens were last used."""
    result = {}
    with app.app_context():
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if c.name != "last_used_at"]
            rows = db.session.execute(select(*columns)).all()
            result[table.name] = sorted((tuple(map(repr, r)) for r in rows), key=repr)
    return result


def text_dump(app: Flask) -> str:
    """Every value of every row of every table, as one string to search."""
    parts = []
    with app.app_context():
        for table in Base.metadata.sorted_tables:
            for row in db.session.execute(select(table)).all():
                parts.extend(str(v) for v in row)
    return "\n".join(parts)


def login_session(client: FlaskClient, app: Flask, user: User) -> str:
    """Sign the test client in as `user` through the session; returns a CSRF token for it."""
    with app.test_request_context():
        token = generate_csrf()
        raw = session["csrf_token"]
    with client.session_transaction() as sess:
        sess["user_id"] = user.id
        sess["csrf_token"] = raw
    return token


def add_member(app: Flask, tenant_id: int, user: User, role: str) -> None:
    from datetime import UTC, datetime

    with app.app_context():
        db.session.add(
            Membership(
                tenant_id=tenant_id, user_id=user.id, role=role, created_at=datetime.now(UTC)
            )
        )
        db.session.commit()


def make_team(app: Flask, owner: User, name: str = "Team", edition: str = "team") -> int:
    from server.tenants import create_team_tenant

    with app.app_context():
        tenant = create_team_tenant(owner, name, edition)
        db.session.commit()
        return tenant.id


def personal_id(app: Flask, user: User) -> int:
    from server.accounts import personal_tenant

    with app.app_context():
        return personal_tenant(user.id).id


def rsa_public_pem(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def rsa_private_pem(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def ec_public_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def assert_error(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error", "message"}, body
    assert isinstance(body["error"], str) and isinstance(body["message"], str)
    if code is not None:
        assert body["error"] == code, body


def join_by_invitation(
    client: FlaskClient,
    tenant_id: Any,
    admin_headers: dict[str, str],
    invitee: User,
    invitee_headers: dict[str, str],
    role: str = "member",
) -> dict[str, Any]:
    """Invite `invitee` through the API and accept as them: the only way into a tenant."""
    invited = client.post(
        f"{API}/tenants/{tenant_id}/members",
        json={"email": invitee.email, "role": role},
        headers=admin_headers,
    )
    assert invited.status_code == 202, invited.get_json()
    invitation = invited.get_json()["invitation"]
    accepted = client.post(
        f"{API}/me/invitations/{invitation['id']}/accept", headers=invitee_headers
    )
    assert accepted.status_code == 200, accepted.get_json()
    return accepted.get_json()
