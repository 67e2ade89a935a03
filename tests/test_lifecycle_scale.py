"""Lifecycle changes cost the same for 10 tokens or 100,000: count their SQL statements, and show
that every token then answers as the access rule says (sampled)."""

from __future__ import annotations

import random
import secrets
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import event, insert

from grants.secrets import digest
from server.accounts import personal_tenant
from server.extensions import db
from server.models import Installation, OAuthToken
from tests.oauth_support import resource_server, service_app

BULK = 100_000
SAMPLE = 40


@contextmanager
def counted_statements(app):
    counter = {"n": 0}

    def count(*_args, **_kwargs):
        counter["n"] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", count)


def bulk_tokens(app, client_id: str, tenant_id: int, count: int) -> list[str]:
    """Insert `count` live AppAuth tokens for the app in one executemany; returns a sample."""
    now = int(time.time())
    with app.app_context():
        installation_id = db.session.scalar(
            db.select(Installation.id).where(Installation.client_id == client_id)
        )
        values = [f"czs_bulk{i}_{secrets.token_hex(8)}" for i in range(count)]
        rows = [
            {
                "access_token_hash": digest(value),
                "refresh_token_hash": None,
                "client_id": client_id,
                "auth_type": "appauth",
                "tenant_id": tenant_id,
                "workspace_id": None,
                "user_id": None,
                "installation_id": installation_id,
                "authorization_id": None,
                "scope": "",
                "session_name": None,
                "family_id": secrets.token_hex(8),
                "issued_at": now,
                "expires_at": now + 3600,
                "refresh_expires_at": None,
                "revoked": False,
                "refresh_revoked": False,
            }
            for value in values
        ]
        for start in range(0, len(rows), 20_000):
            db.session.execute(insert(OAuthToken), rows[start : start + 20_000])
        db.session.commit()
    return random.sample(values, min(SAMPLE, count))


@pytest.fixture
def owner_setup(app, make_user, make_app, auth_header):
    owner = make_user()
    with app.app_context():
        tenant_id = personal_tenant(owner.id).id
    return owner, tenant_id, auth_header(owner)


def run_lifecycle(app, client, make_app, owner, tenant_id, headers, count):
    """Disable, enable, uninstall, delete on an app with `count` tokens: statement counts."""
    rs = resource_server(app)
    client_id, _, _ = service_app(app, owner, make_app)
    sample = bulk_tokens(app, client_id, tenant_id, count)

    def states():
        return {
            client.post("/oauth/introspect", data={"token": t}, headers=rs).json["active"]
            for t in sample
        }

    assert states() == {True}
    statements = {}
    for name, method, path in [
        ("disable", "post", f"/api/v1/apps/{client_id}/disable"),
        ("enable", "post", f"/api/v1/apps/{client_id}/enable"),
        ("uninstall", "delete", f"/api/v1/tenants/{tenant_id}/installations/{client_id}"),
        ("delete", "delete", f"/api/v1/apps/{client_id}"),
    ]:
        with counted_statements(app) as counter:
            response = getattr(client, method)(path, headers=headers)
        assert response.status_code in (200, 204), response.get_json()
        statements[name] = counter["n"]
        assert states() == {name == "enable"}, name
        if name == "uninstall":
            # a reinstall starts clean: the old tokens stay dead
            assert (
                client.post(f"/api/v1/apps/{client_id}/authorize", headers=headers).status_code
                == 200
            )
            assert states() == {False}
    return statements


def test_lifecycle_statement_count_is_independent_of_token_count(
    app, client, make_app, owner_setup
):
    owner, tenant_id, headers = owner_setup
    small = run_lifecycle(app, client, make_app, owner, tenant_id, headers, 10)
    large = run_lifecycle(app, client, make_app, owner, tenant_id, headers, BULK)
    assert small == large, (small, large)
    assert max(large.values()) <= 20
    # the audit trail records how many live tokens each destruction ended
    entries = client.get(f"/api/v1/tenants/{tenant_id}/audit?limit=200", headers=headers).json
    destroyed = [
        (e["action"], e["detail"].get("destroyed_tokens"))
        for e in entries["items"]
        if e["action"] in ("installation.uninstall", "app.delete")
    ]
    assert destroyed[:4] == [
        ("app.delete", 0),  # its tokens had already died with the uninstall
        ("installation.uninstall", BULK),
        ("app.delete", 0),
        ("installation.uninstall", 10),
    ], destroyed
