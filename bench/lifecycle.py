"""Disable, enable, uninstall and delete on an app holding N tokens: wall time (commit
included) and the SQL statements each one sends, counted at the cursor."""

from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager

from sqlalchemy import event

from bench.bulk import load_tokens
from bench.seed import SCOPE
from server import clients, tenants
from server.extensions import db
from server.models import User
from server.oauth.consent import approve, places_for
from server.oauth.endpoints import introspect
from server.oauth.storage import SqlStorage

OPERATIONS = ("disable", "enable", "uninstall", "delete")
EXPECTED_ACTIVE = {"disable": False, "enable": True, "uninstall": False, "delete": False}


@contextmanager
def counting():
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def _app_with_tokens(app, user_id: int, count: int, label: str) -> tuple[int, str, str]:
    """A web app installed in a team tenant, consented to, holding `count` live tokens."""
    user = db.session.get(User, user_id)
    team = tenants.create_team_tenant(user, f"Bench team {label}", "team")
    created, _ = clients.register_app(
        user,
        team.id,
        name=f"Bench lifecycle {label}",
        client_type="web",
        redirect_uris=["http://127.0.0.1:8765/callback"],
        permissions=SCOPE.split(),
    )
    db.session.commit()
    storage = SqlStorage(app.config)
    place = next(p for p in places_for(user.id) if p.tenant.id == team.id)
    context = approve(user, storage.client(created.client_id), place, SCOPE, storage)
    db.session.commit()
    (sample,) = load_tokens(context, count, keep=1)
    return team.id, created.client_id, sample


def _operation(name: str, user: User, tenant_id: int, client_id: str) -> None:
    if name == "disable":
        clients.set_status(user, client_id, "disabled")
    elif name == "enable":
        clients.set_status(user, client_id, "enabled")
    elif name == "uninstall":
        clients.uninstall(user, tenant_id, client_id)
    else:
        clients.delete_app(user, client_id)


def measure(app, user_id: int, count: int, label: str) -> dict[str, dict]:
    """{operation: {"ms", "statements", "kinds", "ok"}} for an app holding `count` tokens."""
    tenant_id, client_id, sample = _app_with_tokens(app, user_id, count, label)
    assert introspect(sample)["active"], "the sample token should start active"
    db.session.rollback()
    results: dict[str, dict] = {}
    for name in OPERATIONS:
        db.session.rollback()  # each operation starts a fresh transaction, like a request
        user = db.session.get(User, user_id)
        with counting() as statements:
            started = time.perf_counter()
            _operation(name, user, tenant_id, client_id)
            db.session.commit()
            elapsed = (time.perf_counter() - started) * 1000
        active = introspect(sample)["active"]
        db.session.rollback()
        results[name] = {
            "ms": round(elapsed, 2),
            "statements": len(statements),
            "kinds": dict(Counter(statements)),
            "ok": active == EXPECTED_ACTIVE[name],
        }
    return results
