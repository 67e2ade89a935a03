"""Short-lived shared state: authorize keys, used JWT ids, device polling pace, rate counters.

Redis in production (`REDIS_URL`); an in-process stand-in when unset, good for one process
only. Both expose the same few operations. Redis errors are not caught here: the server turns
them into 503 so that nothing is ever decided without the shared state (fail closed).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import redis


class Store(Protocol):
    def add(self, key: str, value: str, ttl: int) -> bool:
        """Set `key` only if absent (SET NX EX); True when this call set it."""

    def put(self, key: str, value: str, ttl: int) -> None: ...

    def get(self, key: str) -> str | None: ...

    def take(self, key: str) -> str | None:
        """Get and delete in one step, so that a value is consumed at most once."""

    def delete(self, key: str) -> None: ...

    def incr(self, key: str, ttl: int) -> int:
        """Increment a counter that expires `ttl` seconds after its first increment."""

    def pace(self, key: str, interval: int, step: int, ttl: int) -> int | None:
        """Record a poll of `key`, in one step: None when the one before it was at least the
        interval ago (the interval starts at `interval`); else the interval grown by `step`
        for good (kept `ttl` seconds), which the next poll must wait."""

    def ping(self) -> bool: ...


# KEYS: the poll's marker, its interval. ARGV: the first interval, the step, the interval's ttl.
# A Lua script runs atomically and in one round trip.
_PACE = """
local interval = tonumber(redis.call('GET', KEYS[2]) or ARGV[1])
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', interval) then
    return nil
end
interval = interval + tonumber(ARGV[2])
redis.call('SET', KEYS[2], interval, 'EX', ARGV[3])
redis.call('SET', KEYS[1], '1', 'EX', interval)
return interval
"""


class RedisStore:
    def __init__(self, url: str, prefix: str = "oauth:") -> None:
        self._redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=30,
        )
        self._prefix = prefix
        self._pace = self._redis.register_script(_PACE)

    def add(self, key: str, value: str, ttl: int) -> bool:
        return bool(self._redis.set(self._prefix + key, value, nx=True, ex=max(ttl, 1)))

    def put(self, key: str, value: str, ttl: int) -> None:
        self._redis.set(self._prefix + key, value, ex=max(ttl, 1))

    def get(self, key: str) -> str | None:
        return self._redis.get(self._prefix + key)

    def take(self, key: str) -> str | None:
        return self._redis.getdel(self._prefix + key)

    def delete(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    def incr(self, key: str, ttl: int) -> int:
        pipe = self._redis.pipeline()
        pipe.incr(self._prefix + key)
        pipe.expire(self._prefix + key, max(ttl, 1), nx=True)
        count, _ = pipe.execute()
        return int(count)

    def pace(self, key: str, interval: int, step: int, ttl: int) -> int | None:
        keys = [self._prefix + key, self._prefix + key + ":interval"]
        grown = self._pace(keys=keys, args=[max(interval, 1), step, max(ttl, 1)])
        return None if grown is None else int(grown)

    def ping(self) -> bool:
        return bool(self._redis.ping())


class MemoryStore:
    """The embedded default: a dict with expiry under a lock."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            del self._data[key]
            return None
        return item[0]

    def add(self, key: str, value: str, ttl: int) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._data[key] = (value, time.monotonic() + ttl)
            return True

    def put(self, key: str, value: str, ttl: int) -> None:
        with self._lock:
            self._data[key] = (value, time.monotonic() + ttl)

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._live(key)

    def take(self, key: str) -> str | None:
        with self._lock:
            value = self._live(key)
            self._data.pop(key, None)
            return value

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def incr(self, key: str, ttl: int) -> int:
        with self._lock:
            item = self._data.get(key)
            if item is None or item[1] <= time.monotonic():
                item = ("0", time.monotonic() + ttl)
            count = int(item[0]) + 1
            self._data[key] = (str(count), item[1])
            return count

    def pace(self, key: str, interval: int, step: int, ttl: int) -> int | None:
        with self._lock:
            now = time.monotonic()
            interval = int(self._live(key + ":interval") or max(interval, 1))
            if self._live(key) is None:
                self._data[key] = ("1", now + interval)
                return None
            interval += step
            self._data[key + ":interval"] = (str(interval), now + max(ttl, 1))
            self._data[key] = ("1", now + interval)
            return interval

    def ping(self) -> bool:
        return True


def make_store(redis_url: str | None) -> Store:
    return RedisStore(redis_url) if redis_url else MemoryStore()
