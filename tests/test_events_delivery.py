"""Event delivery by the worker: signatures by the documented recipe, backoff then failure,
redelivery, slow or failing subscribers that hold nothing else up, and at-least-once delivery
across a worker killed in the middle (in Redis Streams mode when REDIS_URL is set, else from
the table)."""

from __future__ import annotations

import hashlib
import hmac
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from server.events import signing
from server.events.worker import Worker
from server.extensions import db
from server.models import EventDelivery
from tests.event_support import Receiver
from tests.live import ROOT

API = "/api/v1"


@pytest.fixture
def receivers(app):
    app.config["EVENTS_ALLOW_PRIVATE_HOSTS"] = True
    made: list[Receiver] = []

    def make(status: int = 200) -> Receiver:
        made.append(Receiver(status))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def owner(make_user, auth_header, fast_passwords):
    user = make_user()
    return user, auth_header(user)


def subscribe(client, headers, client_id: str, url: str) -> dict:
    response = client.post(
        f"{API}/apps/{client_id}/subscriptions", json={"url": url, "events": ["*"]}, headers=headers
    )
    assert response.status_code == 201
    return response.json


def burst(app, now: datetime | None = None) -> int:
    worker = Worker(app)
    try:
        return worker.run(burst=True, now=now)
    finally:
        worker.close()


def recipe(secret: str, raw: bytes, header: str, now: float) -> bool:
    """The README's verification recipe, written out as a receiver would."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + raw, hashlib.sha256
    ).hexdigest()
    fresh = abs(now - int(parts["t"])) <= 300
    return fresh and hmac.compare_digest(expected, parts["v1"])


def test_a_delivery_is_signed_and_logged(app, client, make_app, owner, receivers):
    user, h = owner
    receiver = receivers()
    web, _ = make_app(user)
    sub = subscribe(client, h, web.client_id, receiver.url)
    client.post(f"{API}/apps/{web.client_id}/disable", headers=h)
    assert burst(app) == 1
    (got,) = receiver.received
    body, raw, header = got["body"], got["raw"], got["headers"]["X-Signature"]
    assert set(body) == {"id", "type", "created_at", "tenant_id", "client_id", "data"}
    assert (body["type"], body["client_id"]) == ("app.disabled", web.client_id)
    assert body["data"] == {"actor_role": "super_admin"} and body["id"].startswith("evt_")
    assert got["headers"]["Content-Type"] == "application/json"

    now = time.time()
    assert recipe(sub["secret"], raw, header, now)
    assert signing.verify(sub["secret"], raw, header)
    tampered = raw.replace(b"app.disabled", b"app.enabled_")
    assert not recipe(sub["secret"], tampered, header, now)
    assert not signing.verify(sub["secret"], tampered, header)
    assert not recipe(sub["secret"], raw, header, now + 301)
    assert not signing.verify(sub["secret"], raw, header, now=now + 301)
    assert not signing.verify("whsec_other", raw, header)

    (logged,) = client.get(f"{API}/subscriptions/{sub['id']}/deliveries", headers=h).json["items"]
    assert (logged["status"], logged["attempts"], logged["last_status_code"]) == (
        "delivered",
        1,
        200,
    )
    assert logged["event_id"] == body["id"] and logged["log"][0]["status_code"] == 200
    assert logged["log"][0]["next_attempt_at"] is None
    assert burst(app) == 0  # nothing left


def test_retries_back_off_then_fail_and_redeliver_sends_the_same_event(
    app, client, make_app, owner, receivers
):
    app.config.update(EVENTS_BACKOFF_SECONDS=30, EVENTS_RETRY_FOR_SECONDS=300)
    user, h = owner
    receiver = receivers(status=500)
    web, _ = make_app(user)
    sub = subscribe(client, h, web.client_id, receiver.url)
    client.post(f"{API}/apps/{web.client_id}/disable", headers=h)
    with app.app_context():
        created = db.session.query(EventDelivery).one().created_at
    # Attempts at +0, +30, +90 and +210 s; the next would be +450, past the 300 s window.
    for offset, next_offset in ((0, 30), (30, 90), (90, 210), (210, None)):
        assert burst(app, created + timedelta(seconds=offset - 1)) == 0  # not due yet
        assert burst(app, created + timedelta(seconds=offset)) == 1
        (item,) = client.get(f"{API}/subscriptions/{sub['id']}/deliveries", headers=h).json["items"]
        due = item["log"][-1]["next_attempt_at"]
        if next_offset is None:
            assert item["status"] == "failed" and due is None
        else:
            assert item["status"] == "pending"
            assert datetime.fromisoformat(due) == created + timedelta(seconds=next_offset)
    assert [entry["status_code"] for entry in item["log"]] == [500] * 4
    assert burst(app, created + timedelta(days=2)) == 0  # failed is final

    receiver.status = 200
    again = client.post(
        f"{API}/subscriptions/{sub['id']}/deliveries/{item['id']}/redeliver", headers=h
    )
    assert again.status_code == 200 and again.json["status"] == "pending"
    assert burst(app) == 1
    ids = {r["body"]["id"] for r in receiver.received}
    assert len(receiver.received) == 5 and ids == {item["event_id"]}
    (item,) = client.get(f"{API}/subscriptions/{sub['id']}/deliveries", headers=h).json["items"]
    assert (item["status"], item["attempts"]) == ("delivered", 5)


def test_slow_failing_or_absent_subscribers_hold_up_nothing(
    app, client, make_app, owner, receivers
):
    app.config["EVENTS_TIMEOUT_SECONDS"] = 2
    user, h = owner
    hung, failing, healthy = receivers(), receivers(status=500), receivers()
    hung.hang = True
    web, _ = make_app(user)
    subs = {
        name: subscribe(client, h, web.client_id, url)
        for name, url in (
            ("hung", hung.url),
            ("failing", failing.url),
            ("healthy", healthy.url),
            ("absent", "http://127.0.0.1:9/closed"),
        )
    }
    started = time.monotonic()
    assert client.post(f"{API}/apps/{web.client_id}/disable", headers=h).status_code == 200
    assert time.monotonic() - started < 1  # the change never waits for a subscriber

    worker_started = time.monotonic()
    runner = threading.Thread(target=burst, args=(app,))
    runner.start()
    healthy.wait_for(1)
    failing.wait_for(1)
    assert healthy.received[0]["at"] - worker_started < 1.5  # not behind the hung one
    runner.join(10)
    assert not runner.is_alive()
    assert time.monotonic() - worker_started < 5  # the hung one costs its timeout, no more

    def last(name: str) -> dict:
        path = f"{API}/subscriptions/{subs[name]['id']}/deliveries"
        return client.get(path, headers=h).json["items"][0]

    assert last("healthy")["status"] == "delivered"
    assert last("failing")["log"][0]["status_code"] == 500
    assert last("hung")["log"][0]["error"] == "timeout"
    absent = last("absent")["log"][0]
    assert absent["status_code"] is None and "Connection" in absent["error"]
    assert {last(n)["status"] for n in ("failing", "hung", "absent")} == {"pending"}


def _worker(app, *args: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        SECRET_KEY=app.config["SECRET_KEY"],
        EVENTS_ALLOW_PRIVATE_HOSTS="true",
        EVENTS_LEASE_SECONDS="2",
        EVENTS_CLAIM_IDLE_SECONDS="1",
        EVENTS_TIMEOUT_SECONDS="30",
    )
    if app.config.get("REDIS_URL"):
        env["REDIS_URL"] = app.config["REDIS_URL"]
    else:
        env.pop("REDIS_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi", "events", "worker", *args]
    return subprocess.Popen(flask, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


def _run_forked(app) -> None:
    with app.app_context():
        db.engine.dispose(close=False)  # the parent's connections stay the parent's
    Worker(app).run()


def test_a_worker_killed_mid_delivery_loses_nothing(app, client, make_app, owner, receivers):
    user, h = owner
    receiver = receivers()
    receiver.hang = True
    web, _ = make_app(user)
    sub = subscribe(client, h, web.client_id, receiver.url)
    for action in ("disable", "enable", "disable"):
        client.post(f"{API}/apps/{web.client_id}/{action}", headers=h)

    # The first worker, forked from this process to spare an interpreter's start-up, has all
    # three in flight, none answered, when it is killed.
    app.config.update(EVENTS_LEASE_SECONDS=2, EVENTS_CLAIM_IDLE_SECONDS=1)
    first = multiprocessing.get_context("fork").Process(target=_run_forked, args=(app,))
    first.start()
    try:
        receiver.wait_for(3, timeout=30)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.join(10)
    sent = {r["body"]["id"] for r in receiver.received}
    receiver.hang = False
    receiver.released.set()
    time.sleep(2.1)  # past the lease and the stream's idle time

    second = _worker(app, "--burst")
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0, out
    ids = [r["body"]["id"] for r in receiver.received]
    assert len(ids) >= 6 and set(ids) == sent and len(sent) == 3  # duplicates share the id
    items = client.get(f"{API}/subscriptions/{sub['id']}/deliveries", headers=h).json["items"]
    assert [i["status"] for i in items] == ["delivered"] * 3


def test_purge_keeps_what_is_owed_and_the_recent_log(app, client, make_app, owner, receivers):
    from server.events.purge import purge
    from server.models import Event, EventAttempt, EventSubscription

    user, h = owner
    receiver = receivers()
    kept, _ = make_app(user)
    deleted, _ = make_app(user)
    subscribe(client, h, kept.client_id, receiver.url)
    subscribe(client, h, deleted.client_id, receiver.url)
    client.post(f"{API}/apps/{kept.client_id}/disable", headers=h)
    assert burst(app) == 1
    client.post(f"{API}/apps/{kept.client_id}/enable", headers=h)  # pending, never purged
    assert client.delete(f"{API}/apps/{deleted.client_id}", headers=h).status_code == 204

    def rows() -> tuple[int, ...]:
        with app.app_context():
            return tuple(
                db.session.query(m).count()
                for m in (EventSubscription, Event, EventDelivery, EventAttempt)
            )

    with app.app_context():
        assert purge() == {"deliveries": 0, "subscriptions": 0, "events": 0}  # app.deleted owed
    assert rows() == (2, 3, 3, 1)
    receiver.status = 500
    assert burst(app) == 2
    with app.app_context():
        late = datetime.now(UTC) + timedelta(days=31)
        assert purge(late) == {"deliveries": 1, "subscriptions": 0, "events": 1}
    assert rows() == (2, 2, 2, 2)  # retries still owed: the deleted app's subscription stays
    receiver.status = 200
    with app.app_context():
        db.session.query(EventDelivery).update({"next_attempt_at": datetime.now(UTC)})
        db.session.commit()
    assert burst(app) == 2
    with app.app_context():
        assert purge() == {"deliveries": 1, "subscriptions": 1, "events": 1}
    assert rows() == (1, 1, 1, 2)
