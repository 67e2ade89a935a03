"""Subscriptions of an app to its events, managed by the app's admins, and their delivery log.

Functions take the acting user, check their role in the app's tenant and raise DomainError;
they flush, and the caller commits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from grants.vocabulary import DeliveryStatus
from server import netguard
from server.clients import get_app
from server.errors import DomainError, Msg, not_found
from server.events import EVENT_TYPES, sealing
from server.extensions import db
from server.models import App, Event, EventAttempt, EventDelivery, EventSubscription, User
from server.tenants import require_role

MAX_URL_LENGTH = 2048
MAX_PAGE = 200


def _admin_app(actor: User, client_id: str) -> App:
    app = get_app(actor, client_id)
    require_role(actor, app.tenant_id, admin=True)
    return app


def get_subscription(actor: User, subscription_id: int) -> EventSubscription:
    """The subscription, if the actor is an admin of its app's tenant (else 404 or 403)."""
    subscription = db.session.get(EventSubscription, subscription_id)
    if subscription is None:
        raise not_found("subscription")
    try:
        _admin_app(actor, subscription.client_id)
    except DomainError as exc:
        if exc.status == 404:
            raise not_found("subscription") from None
        raise
    return subscription


def check_url(url: str) -> str:
    if len(url) > MAX_URL_LENGTH:
        raise DomainError(
            422,
            "invalid_url",
            f"the URL is longer than {MAX_URL_LENGTH}",
            field="url",
            text=Msg("The URL is longer than %(max)d characters.", max=MAX_URL_LENGTH),
        )
    try:
        netguard.check_url(url, allow_private=current_app.config["EVENTS_ALLOW_PRIVATE_HOSTS"])
    except netguard.UnsafeURL as exc:
        raise DomainError(422, "invalid_url", str(exc), field="url", text=exc.reason) from None
    return url


def _event_types(events: list[str]) -> list[str]:
    if events == ["*"]:
        return events
    unknown = [e for e in events if e not in EVENT_TYPES]
    if not events or unknown:
        raise DomainError(
            422,
            "invalid_value",
            'events must be ["*"] or a list of: ' + ", ".join(EVENT_TYPES),
            field="events",
            text=Msg("Choose the events to send, or all events."),
        )
    return list(dict.fromkeys(events))


def list_subscriptions(actor: User, client_id: str) -> list[EventSubscription]:
    _admin_app(actor, client_id)
    return list(
        db.session.scalars(
            select(EventSubscription)
            .where(EventSubscription.client_id == client_id)
            .order_by(EventSubscription.id)
        )
    )


def create_subscription(
    actor: User, client_id: str, url: str, events: list[str]
) -> tuple[EventSubscription, str]:
    """A new subscription; returns it with its signing secret, shown this once."""
    _admin_app(actor, client_id)
    kinds = _event_types(events)
    check_url(url)
    limit = int(current_app.config["EVENTS_MAX_SUBSCRIPTIONS"])
    count = db.session.scalar(
        select(func.count())
        .select_from(EventSubscription)
        .where(EventSubscription.client_id == client_id)
    )
    if count >= limit:
        raise DomainError(
            409,
            "subscription_limit",
            f"an app may have at most {limit} subscriptions",
            text=Msg(
                "This app already has %(limit)d subscriptions, the most it may have.", limit=limit
            ),
        )
    secret = sealing.new_secret()
    subscription = EventSubscription(
        client_id=client_id,
        url=url,
        events=kinds,
        secret_encrypted=sealing.seal(secret),
        created_by=actor.id,
        created_at=datetime.now(UTC),
    )
    db.session.add(subscription)
    db.session.flush()
    return subscription, secret


def deletion_effect(actor: User, subscription_id: int) -> dict[str, Any]:
    """What deleting would drop: deliveries still waiting, and the delivery log."""
    subscription = get_subscription(actor, subscription_id)
    counts = dict(
        db.session.execute(
            select(EventDelivery.status, func.count())
            .where(EventDelivery.subscription_id == subscription_id)
            .group_by(EventDelivery.status)
        ).all()
    )
    return {
        "subscription": subscription,
        "waiting": counts.get(DeliveryStatus.PENDING, 0),
        "logged": sum(counts.values()),
    }


def delete_subscription(actor: User, subscription_id: int) -> None:
    """Delete a subscription with its deliveries and their log."""
    subscription = get_subscription(actor, subscription_id)
    deliveries = select(EventDelivery.id).where(EventDelivery.subscription_id == subscription.id)
    db.session.execute(
        EventAttempt.__table__.delete().where(EventAttempt.delivery_id.in_(deliveries))
    )
    db.session.execute(
        EventDelivery.__table__.delete().where(EventDelivery.subscription_id == subscription.id)
    )
    db.session.delete(subscription)
    db.session.flush()


def deliveries(
    actor: User, subscription_id: int, *, limit: int = 50, before: int | None = None
) -> tuple[EventSubscription, list[tuple[EventDelivery, Event, list[EventAttempt]]]]:
    """The subscription's deliveries, newest first, each with its event and its attempts."""
    subscription = get_subscription(actor, subscription_id)
    if not 1 <= limit <= MAX_PAGE:
        raise DomainError(422, "invalid_value", f"limit must be between 1 and {MAX_PAGE}")
    stmt = (
        select(EventDelivery, Event)
        .join(Event, Event.id == EventDelivery.event_id)
        .where(EventDelivery.subscription_id == subscription.id)
    )
    if before is not None:
        stmt = stmt.where(EventDelivery.id < before)
    rows = db.session.execute(stmt.order_by(EventDelivery.id.desc()).limit(limit)).all()
    attempts: dict[int, list[EventAttempt]] = {d.id: [] for d, _ in rows}
    if attempts:
        for attempt in db.session.scalars(
            select(EventAttempt)
            .where(EventAttempt.delivery_id.in_(list(attempts)))
            .order_by(EventAttempt.id)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return subscription, [(d, e, attempts[d.id]) for d, e in rows]


def redeliver(
    actor: User, subscription_id: int, delivery_id: int
) -> tuple[EventDelivery, Event, list[EventAttempt]]:
    """Queue a delivery again now, whatever its state; the receiver sees the same event id."""
    subscription = get_subscription(actor, subscription_id)
    delivery = db.session.get(EventDelivery, delivery_id)
    if delivery is None or delivery.subscription_id != subscription.id:
        raise not_found("delivery")
    now = datetime.now(UTC)
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    delivery.claimed_at = None
    delivery.updated_at = now
    db.session.flush()
    attempts = list(
        db.session.scalars(
            select(EventAttempt)
            .where(EventAttempt.delivery_id == delivery.id)
            .order_by(EventAttempt.id)
        )
    )
    return delivery, db.session.get(Event, delivery.event_id), attempts
