"""Connectors: a team's custom publish channels, to which its channel apps are bound.

Deleting a connector unbinds its apps in one UPDATE, which ends their tokens at once (they
carry the binding they were issued under; see grants/access.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from grants.vocabulary import Edition
from server import audit, values
from server.errors import DomainError, Msg, not_found
from server.extensions import db
from server.models import App, Connector, OAuthToken, User
from server.tenants import require_role

MAX_CONNECTORS = 100  # per tenant


def _connector(actor: User, connector_id: int, *, admin: bool = False) -> Connector:
    connector = db.session.get(Connector, connector_id)
    if connector is None:
        raise not_found("connector")
    try:
        require_role(actor, connector.tenant_id, admin=admin)
    except DomainError as exc:
        if exc.status == 404:
            raise not_found("connector") from None
        raise
    return connector


def list_connectors(actor: User, tenant_id: int) -> list[Connector]:
    require_role(actor, tenant_id)
    return list(
        db.session.scalars(
            select(Connector).where(Connector.tenant_id == tenant_id).order_by(Connector.id)
        )
    )


def get_connector(actor: User, connector_id: int) -> Connector:
    return _connector(actor, connector_id)


def create_connector(actor: User, tenant_id: int, *, name: str, description: str = "") -> Connector:
    tenant, _ = require_role(actor, tenant_id, admin=True, lock=True)
    if tenant.edition == Edition.PERSONAL:
        raise DomainError(
            422,
            "personal_tenant",
            "connectors are defined by team and enterprise tenants",
            text=Msg("Connectors are defined by team and enterprise tenants."),
        )
    count = db.session.scalar(
        select(func.count()).select_from(Connector).where(Connector.tenant_id == tenant_id)
    )
    if count >= MAX_CONNECTORS:
        raise DomainError(
            409,
            "quota_exceeded",
            f"a tenant may have at most {MAX_CONNECTORS} connectors",
            text=Msg(
                "This tenant already has %(max)d connectors, the most it may have.",
                max=MAX_CONNECTORS,
            ),
        )
    now = datetime.now(UTC)
    connector = Connector(
        tenant_id=tenant_id,
        name=values.name(name),
        description=_description(description),
        created_at=now,
        updated_at=now,
    )
    db.session.add(connector)
    db.session.flush()
    audit.record(
        "connector.create",
        tenant_id=tenant_id,
        actor_user_id=actor.id,
        target=str(connector.id),
        target_name=connector.name,
    )
    return connector


def _description(value: str) -> str:
    return values.description(value)


def update_connector(
    actor: User, connector_id: int, *, name: str | None = None, description: str | None = None
) -> Connector:
    connector = _connector(actor, connector_id, admin=True)
    if name is not None:
        connector.name = values.name(name)
    if description is not None:
        connector.description = _description(description)
    connector.updated_at = datetime.now(UTC)
    db.session.flush()
    audit.record(
        "connector.update",
        tenant_id=connector.tenant_id,
        actor_user_id=actor.id,
        target=str(connector_id),
        target_name=connector.name,
    )
    return connector


def deletion_effect(actor: User, connector_id: int) -> dict[str, Any]:
    """What deleting would end: the apps bound to it and their live tokens (of this binding)."""
    connector = _connector(actor, connector_id, admin=True)
    apps = list(
        db.session.scalars(select(App).where(App.connector_id == connector_id).order_by(App.name))
    )
    bindings = [
        and_(
            OAuthToken.client_id == a.client_id, OAuthToken.connector_binding == a.connector_binding
        )
        for a in apps
    ]
    return {
        "connector": connector,
        "apps": apps,
        "live_tokens": audit.live_tokens(or_(*bindings)) if bindings else 0,
    }


def delete_connector(actor: User, connector_id: int) -> None:
    """Delete it and unbind its apps: one UPDATE, and their tokens end with it."""
    connector = _connector(actor, connector_id, admin=True)
    unbound = db.session.execute(
        update(App)
        .where(App.connector_id == connector_id)
        .values(connector_id=None, connector_binding=None, updated_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.delete(connector)
    db.session.flush()
    audit.record(
        "connector.delete",
        tenant_id=connector.tenant_id,
        actor_user_id=actor.id,
        target=str(connector_id),
        target_name=connector.name,
        unbound_apps=unbound,
    )
