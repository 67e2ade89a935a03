"""The database connection pool: a pooled connection is checked before use only after it sat
idle for a while.

SQLAlchemy's pool_pre_ping costs a round trip on every checkout, that is on every request. A
connection in steady use has just proved itself; one that sat idle (the database may have
restarted, a firewall may have dropped it) is pinged first and replaced if dead. A connection
that dies mid-request still fails that request with a 503 (see server/web.py), and SQLAlchemy
then discards every connection opened before it.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.pool import QueuePool

IDLE_BEFORE_PING = 1.0  # seconds


def _checked_in(dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()
    except Exception as error:
        # The pool reconnects and tries again; if the database is down, the request gets 503.
        raise exc.DisconnectionError() from error


class IdlePingPool(QueuePool):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A recreated pool inherits its predecessor's listeners: add them once.
        if not event.contains(self, "checkout", _ping_if_idle):
            event.listen(self, "checkin", _checked_in)
            event.listen(self, "checkout", _ping_if_idle)
