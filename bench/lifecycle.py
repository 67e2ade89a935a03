"""Disable, enable, uninstall and delete on an app holding N tokens: wall time until the change
is committed and in force, the SQL statements it sends (counted at the cursor), and apart from
those the audit entry's count of the tokens it ended, made after the commit
(server/audit.py, count_after_commit)."""

from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session

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
    """The statements sent, and when the commit ended and how many had been sent by then."""
    statements: list[str] = []
    committed: dict[str, float] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split(None, 1)[0].upper())

    def after_commit(session):
        committed.setdefault("at", time.perf_counter())
        committed.setdefault("statements", len(statements))

    event.listen(db.engine, "before_cursor_execute", before)
    # Ahead of the audit's own after-commit count, so "at" is the commit itself.
    event.listen(Session, "after_commit", after_commit, insert=True)
    try:
        yield statements, committed
    finally:
        event.remove(Session, "after_commit", after_commit)
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
        with counting() as (statements, committed):
            started = time.perf_counter()
            _operation(name, user, tenant_id, client_id)
            db.session.commit()
            finished = time.perf_counter()
        active = introspect(sample)["active"]
        db.session.rollback()
        in_force = committed["statements"]
        results[name] = {
            "ms": round((committed["at"] - started) * 1000, 2),
            "statements": in_force,
            "kinds": dict(Counter(statements[:in_force])),
            # The audit entry's count of the tokens ended, after the commit (0: none to make).
            "count_ms": round((finished - committed["at"]) * 1000, 2),
            "count_statements": len(statements) - in_force,
            "ok": active == EXPECTED_ACTIVE[name],
        }
    return results
