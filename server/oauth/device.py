"""The person's side of the device flow: find a pending user code, approve or deny it."""

from __future__ import annotations

import time

from sqlalchemy import select, update

from grants.device_code import normalize_user_code
from grants.secrets import digest
from grants.storage import IssueContext
from grants.vocabulary import DeviceCodeStatus
from server.extensions import db
from server.models import DeviceCode


def find(user_code: str) -> DeviceCode | None:
    """The device request behind a user code, whatever its state; None if the code is unknown."""
    code = normalize_user_code(user_code)
    if code is None:
        return None
    return db.session.scalar(select(DeviceCode).where(DeviceCode.user_code_hash == digest(code)))


def is_open(row: DeviceCode) -> bool:
    return row.status == DeviceCodeStatus.PENDING and row.expires_at > int(time.time())


def decide(row: DeviceCode, context: IssueContext | None) -> bool:
    """Approve (with what to issue under) or deny (context None); False if it was no longer open."""
    values: dict[str, object] = {"status": DeviceCodeStatus.DENIED}
    if context is not None:
        values = {
            "status": DeviceCodeStatus.APPROVED,
            "user_id": context.user_id,
            "tenant_id": context.tenant_id,
            "workspace_id": context.workspace_id,
            "installation_id": context.installation_id,
            "authorization_id": context.authorization_id,
        }
    changed = db.session.execute(
        update(DeviceCode)
        .where(
            DeviceCode.id == row.id,
            DeviceCode.status == DeviceCodeStatus.PENDING,
            DeviceCode.expires_at > int(time.time()),
        )
        .values(**values)
    ).rowcount
    return bool(changed)
