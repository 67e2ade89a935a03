"""The audit trail: one entry per management or lifecycle action, in the same transaction."""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, event, func, inspect, or_, select, update
from sqlalchemy.orm import Session

from server import metrics
from server.events import outbox
from server.extensions import db
from server.models import App, AuditEntry, OAuthToken, User

log = logging.getLogger(__name__)

# The shapes of the audit log's filters (the console's and the management API's): an action
# code such as app.update, a user's id (within a signed 64-bit integer, checked below) and an
# app's client_id (up to 19 digits, stored as text: it may exceed 2^63 - 1). Anything else
# matches no entry and is refused before it reaches the database.
ACTION_CODE = r"[a-z_]{1,32}\.[a-z_]{1,32}"
USER_ID = CLIENT_ID = r"[1-9][0-9]{0,18}"


def filter_value(pattern: str, value: str, *, int64: bool = False) -> bool:
    """Whether `value` has the shape of an audit filter (ACTION_CODE, USER_ID or CLIENT_ID);
    `int64` for a value compared with an integer column (a user's id)."""
    if not re.fullmatch(pattern, value):
        return False
    return not int64 or int(value) <= 2**63 - 1


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


def count_after_commit(entry: AuditEntry, scope: ColumnElement[bool]) -> None:
    """Record as `destroyed_tokens` in `entry` how many tokens in `scope` were usable now, but
    count them only once the change is committed: the COUNT reads every token row of the scope
    (tens of milliseconds at 10^5), and inside the change's transaction it would hold the
    change's locks and delay its effect that long. The rows it counts are the ones the change
    just ended, which nothing but an explicit revocation or a purge touches afterwards, and
    usability is judged as of now, so the later count gives the same number."""
    criteria = and_(scope, _usable())  # "now" is bound here, at the change
    session = db.session()
    session.info.setdefault(_PENDING, []).append((entry, dict(entry.detail), criteria))


_PENDING = "audit_counts_after_commit"


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    try:
        with session.get_bind().connect() as connection:  # a short transaction of its own
            for entry, detail, criteria in pending:
                (entry_id,) = inspect(entry).identity or (None,)
                count = connection.scalar(
                    select(func.count()).select_from(OAuthToken).where(criteria)
                )
                connection.execute(
                    update(AuditEntry)
                    .where(AuditEntry.id == entry_id)
                    .values(detail={**detail, "destroyed_tokens": count or 0})
                )
            connection.commit()
    except Exception:
        # The change itself is committed and in force; only its count is missing.
        log.warning("could not count the tokens a committed change ended", exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget_counts(session: Session) -> None:
    session.info.pop(_PENDING, None)
