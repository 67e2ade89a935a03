"""One delivery attempt: claim, sign, POST with timeouts, record the attempt, schedule the retry.

No database transaction stays open across the network call, and redirects are never
followed (a redirect could point past the SSRF guard).
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import or_, select, update

from grants.vocabulary import DeliveryStatus
from server import netguard
from server.events import sealing, signing
from server.extensions import db
from server.models import Event, EventAttempt, EventDelivery, EventSubscription

BATCH = 50
log = logging.getLogger("server.events")
USER_AGENT = "oauth-server-events/1"


def _now() -> datetime:
    return datetime.now(UTC)


def payload(event: Event) -> bytes:
    """The body every subscriber receives, byte for byte what is signed."""
    created = event.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "id": event.id,
        "type": event.type,
        "created_at": created,
        "tenant_id": str(event.tenant_id) if event.tenant_id is not None else None,
        "client_id": event.client_id,
        "data": event.data,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def claim_due(now: datetime | None = None, limit: int = BATCH) -> list[int]:
    """Claim up to `limit` deliveries that are due and not held by a live claim.

    Each claim is one conditional UPDATE, so two workers never claim the same row within a
    lease; the caller commits (the Redis relay only after the queue took the messages).
    """
    now = now or _now()
    lease = timedelta(seconds=int(current_app.config["EVENTS_LEASE_SECONDS"]))
    free = or_(EventDelivery.claimed_at.is_(None), EventDelivery.claimed_at < now - lease)
    candidates = db.session.scalars(
        select(EventDelivery.id)
        .where(
            EventDelivery.status == DeliveryStatus.PENDING,
            EventDelivery.next_attempt_at <= now,
            free,
        )
        .order_by(EventDelivery.next_attempt_at, EventDelivery.id)
        .limit(limit)
    ).all()
    claimed = []
    for delivery_id in candidates:
        result = db.session.execute(
            update(EventDelivery)
            .where(
                EventDelivery.id == delivery_id,
                EventDelivery.status == DeliveryStatus.PENDING,
                free,
            )
            .values(claimed_at=now)
        )
        if result.rowcount == 1:
            claimed.append(delivery_id)
    return claimed


def _post(url: str, body: bytes, signature: str, timeout: float) -> tuple[int | None, str | None]:
    """POST to the address the guard approved; (status code, None) or (None, network error)."""
    try:
        addresses = netguard.check_url(
            url, allow_private=current_app.config["EVENTS_ALLOW_PRIVATE_HOSTS"]
        )
    except netguard.UnsafeURL as exc:
        return None, f"refused: {exc}"
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        # Connect to the checked address, not a second lookup that could answer otherwise.
        sock = socket.create_connection((addresses[0], port), timeout=timeout)
        if parts.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.sock = sock
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            connection.request(
                "POST",
                path,
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                    signing.HEADER: signature,
                },
            )
            response = connection.getresponse()
            response.read(1024)
            return response.status, None
        finally:
            connection.close()
    except TimeoutError:
        return None, "timeout"
    except (OSError, http.client.HTTPException) as exc:
        return None, type(exc).__name__ + (f": {exc}" if str(exc) else "")


def attempt(delivery_id: int, now: datetime | None = None) -> str | None:
    """Try one delivery if it is still pending; returns its new status (None if nothing to do)."""
    row = db.session.execute(
        select(EventDelivery, Event, EventSubscription)
        .join(Event, Event.id == EventDelivery.event_id)
        .join(EventSubscription, EventSubscription.id == EventDelivery.subscription_id)
        .where(EventDelivery.id == delivery_id)
    ).first()
    if row is None or row.EventDelivery.status != DeliveryStatus.PENDING:
        db.session.rollback()
        return None
    body = payload(row.Event)
    started = now or _now()
    signature = signing.sign(
        sealing.unseal(row.EventSubscription.secret_encrypted), body, int(started.timestamp())
    )
    url = row.EventSubscription.url
    db.session.rollback()  # no transaction open while the subscriber takes its time
    status_code, error = _post(
        url, body, signature, float(current_app.config["EVENTS_TIMEOUT_SECONDS"])
    )
    return record(delivery_id, status_code, error, now or _now())


def record(delivery_id: int, status_code: int | None, error: str | None, now: datetime) -> str:
    """Log the attempt and decide: delivered, a retry after a doubling delay, or failed."""
    delivery = db.session.get(EventDelivery, delivery_id)
    if delivery is None:  # the subscription went away meanwhile
        db.session.rollback()
        return "gone"
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.claimed_at = None
    delivery.updated_at = now
    next_at: datetime | None = None
    if status_code is not None and 200 <= status_code < 300:
        delivery.status = DeliveryStatus.DELIVERED
    else:
        backoff = int(current_app.config["EVENTS_BACKOFF_SECONDS"])
        next_at = now + timedelta(seconds=backoff * 2 ** (delivery.attempts - 1))
        window = timedelta(seconds=int(current_app.config["EVENTS_RETRY_FOR_SECONDS"]))
        if next_at - delivery.created_at > window:
            delivery.status, next_at = DeliveryStatus.FAILED, None
    delivery.next_attempt_at = next_at
    db.session.add(
        EventAttempt(
            delivery_id=delivery_id,
            attempted_at=now,
            status_code=status_code,
            error=(error or None) and error[:200],
            next_attempt_at=next_at,
        )
    )
    db.session.commit()
    log.info(
        "event delivery %s attempt %s: %s -> %s",
        delivery_id,
        delivery.attempts,
        status_code if status_code is not None else error,
        delivery.status,
    )
    return delivery.status
