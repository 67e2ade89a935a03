"""The audit trail: one entry per management or lifecycle action, in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.extensions import db
from server.models import AuditEntry


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
    return entry
