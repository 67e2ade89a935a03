"""Lifecycle events for apps: an outbox written with each change, subscriptions, signed delivery
by a worker (`flask --app wsgi events worker`), through Redis Streams when REDIS_URL is set."""

from __future__ import annotations

from flask import Flask

from grants.vocabulary import EventType

EVENT_TYPES = tuple(EventType)

# Settings and their defaults (server/config.py reads the environment's over them).
DEFAULTS: dict[str, int | bool] = {
    "EVENTS_ALLOW_PRIVATE_HOSTS": False,  # loopback subscription URLs (tests, local demos)
    "EVENTS_BACKOFF_SECONDS": 30,  # the first retry's delay, doubling after each failure
    "EVENTS_RETRY_FOR_SECONDS": 24 * 3600,  # then the delivery is marked failed
    "EVENTS_TIMEOUT_SECONDS": 10,  # per connect and per read, so a hung subscriber costs this
    "EVENTS_LEASE_SECONDS": 300,  # a claimed delivery not finished by then is taken again
    "EVENTS_CLAIM_IDLE_SECONDS": 60,  # a stream message a worker holds this long is reclaimed
    "EVENTS_CONCURRENCY": 8,  # deliveries in flight per worker
    "EVENTS_MAX_SUBSCRIPTIONS": 10,  # per app
    "EVENTS_KEEP_DAYS": 30,  # finished deliveries stay in the log this long (events purge)
}


def init_app(app: Flask) -> None:
    from server.events import cli

    app.cli.add_command(cli.events)
