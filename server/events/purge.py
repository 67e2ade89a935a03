"""Clean-up of the delivery log: finished deliveries older than EVENTS_KEEP_DAYS go, with their
attempts and events, and so do the subscriptions of deleted apps once nothing is owed to them.
Run `flask --app wsgi events purge` from cron, beside `tokens purge`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, exists, select

from grants.vocabulary import DeliveryStatus
from server.extensions import db
from server.models import App, Event, EventAttempt, EventDelivery, EventSubscription


def purge(now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=int(current_app.config["EVENTS_KEEP_DAYS"]))
    pending = exists(
        select(EventDelivery.id).where(
            EventDelivery.subscription_id == EventSubscription.id,
            EventDelivery.status == DeliveryStatus.PENDING,
        )
    )
    orphaned = select(EventSubscription.id).where(
        ~exists(select(App.client_id).where(App.client_id == EventSubscription.client_id)),
        ~pending,
    )
    done = (EventDelivery.status != DeliveryStatus.PENDING) & (
        (EventDelivery.updated_at < cutoff) | EventDelivery.subscription_id.in_(orphaned)
    )
    gone = select(EventDelivery.id).where(done)
    db.session.execute(
        delete(EventAttempt)
        .where(EventAttempt.delivery_id.in_(gone))
        .execution_options(synchronize_session=False)
    )
    counts = {
        "deliveries": db.session.execute(
            delete(EventDelivery).where(done).execution_options(synchronize_session=False)
        ).rowcount,
        "subscriptions": db.session.execute(
            delete(EventSubscription)
            .where(EventSubscription.id.in_(orphaned))
            .execution_options(synchronize_session=False)
        ).rowcount,
        "events": db.session.execute(
            delete(Event)
            .where(~exists(select(EventDelivery.id).where(EventDelivery.event_id == Event.id)))
            .execution_options(synchronize_session=False)
        ).rowcount,
    }
    db.session.commit()
    return counts
