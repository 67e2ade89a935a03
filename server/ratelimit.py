"""Rate limits, shared through Redis: the pages (sign-in failures, wrong device codes) and the
OAuth endpoints (token calls per client, introspection calls per resource server).

Built on `limits`, the engine of Flask-Limiter, with one limiter per app so that every app the
factory builds has its own storage and reads `RATELIMIT_ENABLED` at each request (the contract's
switch; tests turn it on and off per app). Storage is `REDIS_URL` when set, so every process
counts together; otherwise in-process memory (one process only). A Redis failure propagates
and becomes a 503: a limit is never skipped because its counter is out of reach.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from server import metrics
from server.startup import ConfigError

# What each limit counts, and how many per window: the defaults of settings of the same name.
DEFAULT_LIMITS = {
    # Failed sign-ins for one account, from anywhere: slows guessing one password.
    "RATELIMIT_LOGIN_ACCOUNT": "10 per 15 minutes",
    # Failed sign-ins from one client address, for any account: slows credential stuffing.
    "RATELIMIT_LOGIN_ADDRESS": "30 per 15 minutes",
    # Wrong device user codes from one client address: codes are short, so guessing is capped.
    "RATELIMIT_DEVICE_CODE": "10 per 10 minutes",
    # Token endpoint calls per client (client_id as presented, or the assertion's iss): far
    # above what a well-behaved client sends, low enough to stop a runaway or guessing loop.
    "RATELIMIT_TOKEN_CLIENT": "600 per minute",
    # Introspection calls per resource server: it introspects on behalf of every API call.
    "RATELIMIT_INTROSPECTION": "6000 per minute",
    # Self-registrations (RFC 7591) from one client address: an agent registers once per
    # install; more is a loop or someone filling the apps table.
    "RATELIMIT_REGISTRATION": "20 per hour",
}


def init_app(app: Flask) -> None:
    for name in DEFAULT_LIMITS:
        # Set in server/config.py (e.g. RATELIMIT_TOKEN_CLIENT="1200 per minute" in the
        # environment); each is checked here so a typo fails at start-up.
        try:
            parse(app.config[name])
        except ValueError:
            raise ConfigError(
                name, f"expected a limit like '600 per minute', got {app.config[name]!r}"
            ) from None
    uri = app.config.get("REDIS_URL") or "memory://"
    options = {"key_prefix": "oauth:ratelimit"} if uri.startswith("redis") else {}
    app.extensions["ratelimit"] = MovingWindowRateLimiter(storage_from_string(uri, **options))


def _active(limit: str) -> tuple[MovingWindowRateLimiter, RateLimitItem] | None:
    """The limiter and the named limit (read from settings each time); None when limits are off."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    return current_app.extensions["ratelimit"], parse(current_app.config[limit])


def retry_after(limit: str, *keys: str) -> int | None:
    """Seconds to wait if the limit named `limit` is used up for any of `keys`, else None."""
    active = _active(limit)
    if active is None:
        return None
    strategy, item = active
    waits = []
    for key in keys:
        if not strategy.test(item, limit, key):
            reset = strategy.get_window_stats(item, limit, key).reset_time
            waits.append(max(1, math.ceil(reset - time.time())))
    if waits:
        metrics.rate_limited(limit)
    return max(waits) if waits else None


def hit(limit: str, *keys: str) -> None:
    """Count one event against the limit for each of `keys`."""
    active = _active(limit)
    if active is None:
        return
    strategy, item = active
    for key in keys:
        strategy.hit(item, limit, key)


def take(limit: str, key: str) -> int | None:
    """Count one request against the limit for `key`: None when allowed, else seconds to wait
    (a refused request is not counted). One atomic round trip when the request is allowed."""
    active = _active(limit)
    if active is None:
        return None
    strategy, item = active
    if strategy.hit(item, limit, key):
        return None
    metrics.rate_limited(limit)
    reset = strategy.get_window_stats(item, limit, key).reset_time
    return max(1, math.ceil(reset - time.time()))
