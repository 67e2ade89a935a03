"""Event subscriptions of an app and their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from grants.vocabulary import DeliveryStatus
from server.api.routing import route
from server.api.schemas import Id, Strict, _no_default, one_of
from server.events import EVENT_TYPES, subscriptions
from server.models import Event, EventAttempt, EventDelivery, EventSubscription, User

EventType = one_of((*EVENT_TYPES, "*"))
DeliveryStatusName = one_of(DeliveryStatus)


class SubscriptionCreate(Strict):
    url: Annotated[str, Field(min_length=1, max_length=subscriptions.MAX_URL_LENGTH)] = Field(
        description="https only (loopback http only with EVENTS_ALLOW_PRIVATE_HOSTS=true); "
        "the host must resolve to public addresses."
    )
    events: Annotated[list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES))] = Field(
        description='Event types, or ["*"] for all.'
    )


class SubscriptionOut(Strict):
    id: Id
    client_id: str
    url: str
    events: list[str]
    created_at: datetime

    @classmethod
    def of(cls, s: EventSubscription) -> SubscriptionOut:
        return cls(
            id=str(s.id), client_id=s.client_id, url=s.url, events=s.events, created_at=s.created_at
        )


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(
        description="The signing secret, shown this once: the key of the X-Signature HMAC."
    )


class SubscriptionList(Strict):
    items: list[SubscriptionOut]


class AttemptOut(Strict):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None

    @classmethod
    def of(cls, a: EventAttempt) -> AttemptOut:
        return cls(
            attempted_at=a.attempted_at,
            status_code=a.status_code,
            error=a.error,
            next_attempt_at=a.next_attempt_at,
        )


class DeliveryOut(Strict):
    id: Id
    event_id: str
    type: str
    status: DeliveryStatusName
    attempts: int
    last_status_code: int | None
    next_attempt_at: datetime | None
    created_at: datetime
    log: list[AttemptOut] = Field(description="Every attempt, oldest first.")

    @classmethod
    def of(cls, d: EventDelivery, e: Event, log: list[EventAttempt]) -> DeliveryOut:
        return cls(
            id=str(d.id),
            event_id=e.id,
            type=e.type,
            status=d.status,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            next_attempt_at=d.next_attempt_at,
            created_at=d.created_at,
            log=[AttemptOut.of(a) for a in log],
        )


class DeliveryList(Strict):
    items: list[DeliveryOut]


class DeliveryQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=50, ge=1, le=subscriptions.MAX_PAGE)
    before: int = Field(default=None, ge=1, le=2**63 - 1, json_schema_extra=_no_default)


@route(
    "GET",
    "/apps/<client_id>/subscriptions",
    summary="An app's event subscriptions",
    tag="events",
    response=SubscriptionList,
    errors=(403,),
)
def list_subscriptions(user: User, client_id: str) -> SubscriptionList:
    items = subscriptions.list_subscriptions(user, client_id)
    return SubscriptionList(items=[SubscriptionOut.of(s) for s in items])


@route(
    "POST",
    "/apps/<client_id>/subscriptions",
    summary="Subscribe a URL to an app's events; the signing secret is in this response only",
    description="App admins only. Each event is POSTed as JSON with `X-Signature: "
    't=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`; see the README, Events. '
    "At most 10 subscriptions per app (409 `subscription_limit`); a URL that is not https or "
    "whose host is not public is a 422 `invalid_url`.",
    tag="events",
    status=201,
    body=SubscriptionCreate,
    response=SubscriptionCreated,
    errors=(403, 409, 422),
)
def create_subscription(
    user: User, client_id: str, body: SubscriptionCreate
) -> SubscriptionCreated:
    created, secret = subscriptions.create_subscription(user, client_id, body.url, body.events)
    return SubscriptionCreated(**SubscriptionOut.of(created).model_dump(), secret=secret)


@route(
    "DELETE",
    "/subscriptions/<subscription_id>",
    summary="Delete a subscription and its delivery log",
    tag="events",
    errors=(403,),
)
def delete_subscription(user: User, subscription_id: int) -> None:
    subscriptions.delete_subscription(user, subscription_id)


@route(
    "GET",
    "/subscriptions/<subscription_id>/deliveries",
    summary="A subscription's deliveries, newest first, each with its attempts",
    description="`before` pages on by delivery id.",
    tag="events",
    query=DeliveryQuery,
    response=DeliveryList,
    errors=(403, 422),
)
def list_deliveries(user: User, subscription_id: int, query: DeliveryQuery) -> DeliveryList:
    _, rows = subscriptions.deliveries(
        user, subscription_id, limit=query.limit, before=query.before
    )
    return DeliveryList(items=[DeliveryOut.of(d, e, log) for d, e, log in rows])


@route(
    "POST",
    "/subscriptions/<subscription_id>/deliveries/<delivery_id>/redeliver",
    summary="Deliver an event again now (same event id)",
    tag="events",
    response=DeliveryOut,
    errors=(403,),
)
def redeliver(user: User, subscription_id: int, delivery_id: int) -> DeliveryOut:
    return DeliveryOut.of(*subscriptions.redeliver(user, subscription_id, delivery_id))
