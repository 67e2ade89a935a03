"""Service access tokens (SAT): tenant-owned bearer tokens for the platform's APIs, made by
admins with permissions, the workspaces they reach and an expiry; shown once, stored hashed.

Revoking one deletes its row, so the next introspection finds nothing; an expiry, a workspace
it reaches disappearing or its tenant's deletion are judged at introspection (grants/access.py).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select

from grants.secrets import SERVICE_ACCESS_TOKEN, digest, new_secret
from server import audit, permissions, values
from server.errors import DomainError, Msg, not_found
from server.extensions import db
from server.limits import MAX_SERVICE_TOKEN_DAYS
from server.models import ServiceToken, ServiceTokenWorkspace, User, Workspace
from server.tenants import require_role

PRESET_DAYS = (1, 30, 90, 180)  # what the console offers; any day count up to the limit is valid
DAYS_PROBLEM = Msg("Enter a number of days from 1 to %(max)d.", max=MAX_SERVICE_TOKEN_DAYS)


def list_service_tokens(actor: User, tenant_id: int) -> list[ServiceToken]:
    require_role(actor, tenant_id, admin=True)
    return list(
        db.session.scalars(
            select(ServiceToken)
            .where(ServiceToken.tenant_id == tenant_id)
            .order_by(ServiceToken.id.desc())
        )
    )


def create_service_token(
    actor: User,
    tenant_id: int,
    *,
    name: str,
    permission_names: list[str],
    workspace_ids: list[int],
    expires_in_days: int | None,
) -> tuple[ServiceToken, str]:
    """A new SAT; the clear token is returned once and only its digest is kept."""
    require_role(actor, tenant_id, admin=True, lock=True)
    name = values.name(name)
    perms = permissions.validate(permission_names)
    if not perms:
        raise DomainError(
            422,
            "invalid_value",
            "permissions: at least one is required",
            field="permissions",
            text=Msg("Choose at least one permission."),
        )
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_SERVICE_TOKEN_DAYS:
        raise DomainError(
            422,
            "invalid_value",
            f"expires_in_days must be between 1 and {MAX_SERVICE_TOKEN_DAYS}, or null",
            field="expiry",
            text=DAYS_PROBLEM,
        )
    reached = list(dict.fromkeys(workspace_ids))
    if not reached:
        raise DomainError(
            422,
            "invalid_value",
            "workspace_ids: at least one is required",
            field="workspace_ids",
            text=Msg("Choose at least one workspace."),
        )
    found = set(
        db.session.scalars(
            select(Workspace.id).where(Workspace.tenant_id == tenant_id, Workspace.id.in_(reached))
        )
    )
    missing = [w for w in reached if w not in found]
    if missing:
        raise DomainError(
            422,
            "invalid_value",
            f"workspace {missing[0]} is not in this tenant",
            field="workspace_ids",
            text=Msg("Workspace %(id)s is not in this tenant.", id=missing[0]),
        )
    quota = int(current_app.config["SAT_QUOTA"])
    count = db.session.scalar(
        select(func.count()).select_from(ServiceToken).where(ServiceToken.tenant_id == tenant_id)
    )
    if count >= quota:
        raise DomainError(
            409,
            "quota_exceeded",
            f"a tenant may have at most {quota} service access tokens",
            text=Msg(
                "This tenant already has %(quota)d service access tokens, the most it may have.",
                quota=quota,
            ),
        )
    secret = new_secret(SERVICE_ACCESS_TOKEN)
    now = int(time.time())
    token = ServiceToken(
        tenant_id=tenant_id,
        name=name,
        token_hash=digest(secret),
        permissions=perms,
        workspace_ids=reached,
        created_by=actor.id,
        created_at=datetime.fromtimestamp(now, UTC),
        expires_at=now + expires_in_days * 86400 if expires_in_days is not None else None,
    )
    db.session.add(token)
    db.session.flush()
    db.session.add_all(ServiceTokenWorkspace(token_id=token.id, workspace_id=w) for w in reached)
    db.session.flush()
    audit.record(
        "service_token.create",
        tenant_id=tenant_id,
        actor_user_id=actor.id,
        target=str(token.id),
        target_name=token.name,
        expires_in_days=expires_in_days,
    )
    return token, secret


def revocation_effect(actor: User, token_id: int) -> dict[str, Any]:
    """What revoking would end: the token, and the workspaces it reaches (by name)."""
    token = _admin_token(actor, token_id)
    workspaces = list(
        db.session.scalars(
            select(Workspace.name)
            .join(ServiceTokenWorkspace, ServiceTokenWorkspace.workspace_id == Workspace.id)
            .where(ServiceTokenWorkspace.token_id == token_id)
            .order_by(Workspace.name)
        )
    )
    return {"token": token, "workspaces": workspaces}


def _admin_token(actor: User, token_id: int) -> ServiceToken:
    """The token, if the actor is an admin of its tenant; else 404 (or 403 for its members)."""
    token = db.session.get(ServiceToken, token_id)
    if token is None:
        raise not_found("service token")
    try:
        require_role(actor, token.tenant_id, admin=True)
    except DomainError as exc:
        raise (not_found("service token") if exc.status == 404 else exc) from None
    return token


def revoke_service_token(actor: User, token_id: int) -> None:
    """Revoke for good: the row goes, so the next introspection finds nothing."""
    token = _admin_token(actor, token_id)
    db.session.execute(
        delete(ServiceTokenWorkspace).where(ServiceTokenWorkspace.token_id == token_id)
    )
    db.session.execute(delete(ServiceToken).where(ServiceToken.id == token_id))
    db.session.expunge(token)
    audit.record(
        "service_token.revoke",
        tenant_id=token.tenant_id,
        actor_user_id=actor.id,
        target=str(token_id),
        target_name=token.name,
    )
