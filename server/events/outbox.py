"""Events derived from audit entries, at the one place every lifecycle change is recorded: the
event and its deliveries join the change's own transaction, and nothing here calls the network."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from grants.vocabulary import DeliveryStatus
from server.extensions import db
from server.models import AuditEntry, Event, EventDelivery, EventSubscription, Membership

# Audit action -> event type. An entry marked `unchanged` (a repeated install) is no event.
FROM_AUDIT = {
    "installation.install": "app.installed",
    "installation.approve": "app.installed",
    "installation.uninstall": "app.uninstalled",
    "installation.request": "app.install_requested",
    "app.enable": "app.enabled",
    "app.disable": "app.disabled",
    "app.delete": "app.deleted",
    "authorization.grant": "authorization.granted",
    "authorization.revoke": "authorization.revoked",
    "member.remove": "member.removed",
    "key.add": "key.added",
    "key.delete": "key.removed",
    "app.secret_rotate": "secret.rotated",
}

# Detail worth telling the app, by audit key; nothing else leaves (never a credential).
_DATA_KEYS = ("kind", "kid")


def _actor_role(entry: AuditEntry, tenant_id: int | None) -> str:
    if entry.actor_user_id is None:
        return "operator"
    if entry.action.startswith("authorization."):
        return "user"
    role = None
    if tenant_id is not None:
        role = db.session.scalar(
            select(Membership.role).where(
                Membership.tenant_id == tenant_id, Membership.user_id == entry.actor_user_id
            )
        )
    return role or "user"


def _tenant_of(entry: AuditEntry) -> int | None:
    if entry.tenant_id is None and entry.actor_user_id is not None:
        from server.accounts import personal_tenant  # accounts records audit entries itself

        # A consent is recorded without a tenant: it is the user's own, as for its revocation.
        tenant = personal_tenant(entry.actor_user_id)
        return tenant.id if tenant else None
    return entry.tenant_id


def from_audit(entry: AuditEntry) -> None:
    """Add the events an audit entry stands for, one delivery per matching subscription."""
    kind = FROM_AUDIT.get(entry.action)
    if kind is None or entry.detail.get("unchanged"):
        return
    if kind == "member.removed":
        apps = list(entry.detail.get("apps") or [])
        data = {"user_id": entry.target}
    else:
        apps = [entry.target]
        data = {k: entry.detail[k] for k in _DATA_KEYS if k in entry.detail}
        if kind.startswith("authorization."):
            data["user_id"] = str(entry.actor_user_id)
    subscriptions = _subscriptions(apps, kind)
    if not subscriptions:
        return
    tenant_id = _tenant_of(entry)
    data["actor_role"] = _actor_role(entry, tenant_id)
    for client_id in apps:
        wanted = subscriptions.get(client_id)
        if wanted:
            publish(kind, client_id, tenant_id, data, wanted, entry.created_at)


def _subscriptions(apps: list[str], kind: str) -> dict[str, list[EventSubscription]]:
    if not apps:
        return {}
    found: dict[str, list[EventSubscription]] = {}
    rows = db.session.scalars(
        select(EventSubscription).where(EventSubscription.client_id.in_(apps))
    )
    for subscription in rows:
        if "*" in subscription.events or kind in subscription.events:
            found.setdefault(subscription.client_id, []).append(subscription)
    return found


def publish(
    kind: str,
    client_id: str,
    tenant_id: int | None,
    data: dict,
    subscriptions: list[EventSubscription],
    now: datetime,
) -> Event:
    event = Event(
        id="evt_" + uuid.uuid4().hex,
        type=kind,
        tenant_id=tenant_id,
        client_id=client_id,
        data=data,
        created_at=now,
    )
    db.session.add(event)
    db.session.flush()
    for subscription in subscriptions:
        db.session.add(
            EventDelivery(
                event_id=event.id,
                subscription_id=subscription.id,
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    return event
