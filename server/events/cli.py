"""`flask --app wsgi events worker [--burst]` and `events purge`."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from server.events.purge import purge as purge_log
from server.events.worker import Worker

events = AppGroup("events", help="Lifecycle events: the delivery worker.")


@events.command("worker")
@click.option("--burst", is_flag=True, help="Deliver what is due, then exit.")
def worker(burst: bool) -> None:
    """Deliver subscribed events, relaying the outbox through Redis when REDIS_URL is set."""
    done = Worker(current_app._get_current_object()).run(burst=burst)
    if burst:
        click.echo(f"{done} delivery attempts")


@events.command("purge")
def purge() -> None:
    """Delete finished deliveries older than EVENTS_KEEP_DAYS, and orphaned subscriptions."""
    click.echo(json.dumps(purge_log()))
