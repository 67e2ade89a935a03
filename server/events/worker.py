"""The delivery worker. With REDIS_URL, due deliveries are relayed from the outbox to a Redis
stream and consumed through a consumer group (several workers, several hosts; a dead worker's
messages are reclaimed with XAUTOCLAIM). Without it, the worker delivers straight from the table.
Either way a delivery is acknowledged only after its attempt is recorded: at least once.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

import redis
from flask import Flask

from server.events import delivery
from server.extensions import db

log = logging.getLogger("server.events")
STREAM = "oauth:events:deliveries"
GROUP = "workers"
STREAM_MAX_LENGTH = 100_000  # a trimmed message is relayed again once its claim's lease ends


class Worker:
    """Keeps up to EVENTS_CONCURRENCY deliveries in flight and tops them up each round, so a
    subscriber that hangs holds one slot until its timeout, never the others."""

    def __init__(self, app: Flask, name: str | None = None) -> None:
        self.app = app
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.slots = int(app.config["EVENTS_CONCURRENCY"])
        self.pool = ThreadPoolExecutor(max_workers=self.slots)
        self.inflight: set[Future[str | None]] = set()
        url = app.config.get("REDIS_URL")
        self.redis = redis.Redis.from_url(url, decode_responses=True) if url else None
        if self.redis is not None:
            try:
                self.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def _task(self, delivery_id: int, message: str | None, now: datetime | None) -> str | None:
        with self.app.app_context():
            try:
                return delivery.attempt(delivery_id, now)
            except Exception:
                # Still owed: the claim's lease runs out and the delivery is taken again.
                log.exception("event delivery %s: attempt failed", delivery_id)
                return None
            finally:
                db.session.remove()
                if message is not None:
                    # Acknowledged only once the attempt is recorded: a crash before this
                    # leaves the message pending, for XAUTOCLAIM by another worker.
                    self.redis.xack(STREAM, GROUP, message)
                    self.redis.xdel(STREAM, message)

    def _free(self) -> int:
        self.inflight = {f for f in self.inflight if not f.done()}
        return self.slots - len(self.inflight)

    def _submit(self, work: list[tuple[int, str | None]], now: datetime | None) -> None:
        for delivery_id, message in work:
            self.inflight.add(self.pool.submit(self._task, delivery_id, message, now))

    def tick(self, *, block_ms: int | None = None, now: datetime | None = None) -> int:
        """One round: start an attempt for what is due, as far as free slots allow."""
        free = self._free()
        if free <= 0:
            time.sleep(0.05)
            return 0
        if self.redis is None:
            with self.app.app_context():
                ids = delivery.claim_due(now, limit=free)
                db.session.commit()
            work: list[tuple[int, str | None]] = [(i, None) for i in ids]
        else:
            self.relay(now)
            work = self.receive(free, block_ms)
        self._submit(work, now)
        return len(work)

    def relay(self, now: datetime | None = None) -> int:
        """Move due deliveries from the outbox onto the stream; committed after XADD."""
        with self.app.app_context():
            ids = delivery.claim_due(now)
            if ids:
                pipe = self.redis.pipeline()
                for delivery_id in ids:
                    pipe.xadd(
                        STREAM,
                        {"delivery": str(delivery_id)},
                        maxlen=STREAM_MAX_LENGTH,
                        approximate=True,
                    )
                pipe.execute()
            db.session.commit()
            return len(ids)

    def receive(self, count: int, block_ms: int | None) -> list[tuple[int, str | None]]:
        """Messages of dead workers (idle too long) first, then new ones."""
        idle = int(self.app.config["EVENTS_CLAIM_IDLE_SECONDS"]) * 1000
        _, reclaimed, *_ = self.redis.xautoclaim(STREAM, GROUP, self.name, idle, "0-0", count)
        messages = list(reclaimed)
        if len(messages) < count:
            streams = self.redis.xreadgroup(
                GROUP, self.name, {STREAM: ">"}, count=count - len(messages), block=block_ms
            )
            for _, items in streams or []:
                messages.extend(items)
        return [(int(fields["delivery"]), m) for m, fields in messages if fields]

    def wait(self) -> None:
        for future in list(self.inflight):
            future.result()
        self.inflight.clear()

    def close(self) -> None:
        self.wait()
        self.pool.shutdown()

    def run(self, *, burst: bool = False, now: datetime | None = None) -> int:
        """Deliver until stopped; `burst` stops once nothing is due or in flight. Returns how
        many attempts were started."""
        total = 0
        while True:
            try:
                started = self.tick(block_ms=None if burst else 1000, now=now)
            except redis.ConnectionError as exc:
                if burst:
                    raise
                # The outbox keeps everything owed; carry on once Redis answers again.
                log.warning("Redis unavailable, retrying: %s", exc)
                time.sleep(2)
                continue
            total += started
            if burst and started == 0:
                if self._free() == self.slots:
                    return total
                self.wait()
            elif started == 0 and self.redis is None:
                time.sleep(0.5)
