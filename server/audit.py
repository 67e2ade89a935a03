"""The audit trail: one entry per management or lifecycle action, in the same transaction."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from server import metrics
from server.extensions import db
from server.models import AuditEntry, OAuthToken


def record(
    action: str,
    *,
    tenant_id: int | None,
    actor_user_id: int | None,
    target: str = "",
    **detail: Any,
) -> AuditEntry:
    """Add an entry to the session; the caller's commit writes it with the change itself."""
    entry = AuditEntry(
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        action=action,
        target=target,
        detail=detail,
        created_at=datetime.now(UTC),
    )
    db.session.add(entry)
    metrics.lifecycle_change(db.session, action)
    return entry


def live_tokens(scope: ColumnElement[bool]) -> int:
    """How many access or refresh tokens in `scope` were still usable: one COUNT, recorded as
    `destroyed_tokens` by the actions that end them."""
    now = int(time.time())
    live = or_(
        and_(OAuthToken.revoked.is_(False), OAuthToken.expires_at > now),
        and_(OAuthToken.refresh_revoked.is_(False), OAuthToken.refresh_expires_at > now),
    )
    return db.session.scalar(select(func.count()).select_from(OAuthToken).where(scope, live)) or 0
