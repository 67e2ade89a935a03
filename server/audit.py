"""The audit trail: one entry per management or lifecycle action, in the same transaction."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from server import metrics
from server.events import outbox
from server.extensions import db
from server.models import App, AuditEntry, OAuthToken, User

# The shapes of the audit log's filters (the console's and the management API's): an action
# code such as app.update, and an id (a user's, or an app's client_id) within a signed 64-bit
# integer. Anything else matches no entry and is refused before it reaches the database.
ACTION_CODE = r"[a-z_]{1,32}\.[a-z_]{1,32}"
ID_DIGITS = r"[1-9][0-9]{0,18}"


def filter_value(pattern: str, value: str) -> bool:
    """Whether `value` has the shape of an audit filter (see ACTION_CODE and ID_DIGITS)."""
    if not re.fullmatch(pattern, value):
        return False
    return not value.isdigit() or int(value) <= 2**63 - 1


def record(
    action: str,
    *,
    tenant_id: int | None,
    actor_user_id: int | None,
    target: str = "",
    **detail: Any,
) -> AuditEntry:
    """Add an entry to the session; the caller's commit writes it with the change itself,
    and with the lifecycle event it stands for, if any app subscribed to it.

    The names involved are kept as they are now (the actor's email, the app's name, the
    member's email), so that the log still reads right after a rename or a deletion.
    """
    entry = AuditEntry(
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        action=action,
        target=target,
        detail={**_names(action, actor_user_id, target), **detail},
        created_at=datetime.now(UTC),
    )
    db.session.add(entry)
    metrics.lifecycle_change(db.session, action)
    outbox.from_audit(entry)
    return entry


def _names(action: str, actor_user_id: int | None, target: str) -> dict[str, str]:
    # Usually in the session already (the action just loaded them): no extra statement.
    names: dict[str, str] = {}
    actor = db.session.get(User, actor_user_id) if actor_user_id else None
    if actor is not None:
        names["actor_email"] = actor.email
    if len(target) == 19 and target.isdigit():
        app = db.session.get(App, target)
        if app is not None:
            names["app_name"] = app.name
    elif action.startswith("member.") and target.isdigit():
        member = db.session.get(User, int(target))
        if member is not None:
            names["member_email"] = member.email
    return names


def _usable() -> ColumnElement[bool]:
    now = int(time.time())
    return or_(
        and_(OAuthToken.revoked.is_(False), OAuthToken.expires_at > now),
        and_(OAuthToken.refresh_revoked.is_(False), OAuthToken.refresh_expires_at > now),
    )


def live_tokens(scope: ColumnElement[bool]) -> int:
    """How many access or refresh tokens in `scope` were still usable: one COUNT, recorded as
    `destroyed_tokens` by the actions that end them."""
    stmt = select(func.count()).select_from(OAuthToken).where(scope, _usable())
    return db.session.scalar(stmt) or 0


def live_token_apps(scope: ColumnElement[bool]) -> list[str]:
    """The apps holding usable tokens in `scope`, recorded as `apps` so that events reach them."""
    stmt = select(OAuthToken.client_id).where(scope, _usable()).distinct()
    return list(db.session.scalars(stmt))
