"""Prometheus series, recorded where outcomes are already reported: the request's end (requests,
latency), the token store (tokens issued), the access rule's refusals as the dialects render
them, the rate limiter's refusals, and the audit trail's committed actions (lifecycle changes).

Labels are bounded: Flask endpoint names, dialects, status codes, grant and auth types, the
access rule's reasons, limit names and audit actions; never a path, client id or user id.
Nothing is recorded unless METRICS_ENABLED. Under a server with several workers,
PROMETHEUS_MULTIPROC_DIR makes every worker write its own files there and /metrics sum them
(server/serving.py manages it).

prometheus_client decides when it is imported whether values live in the process or in that
folder's files, so importing this module imports nothing of it: series() does, when an app with
metrics on is made (listen()), which a server does after choosing the folder (server/serving.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from flask import current_app, has_app_context
from sqlalchemy import event

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram


@dataclass(frozen=True)
class Series:
    requests: Counter
    latency: Histogram
    tokens: Counter
    refusals: Counter
    rate_limited: Counter
    lifecycle: Counter


@cache
def series() -> Series:
    from prometheus_client import Counter, Histogram

    return Series(
        requests=Counter(
            "oauth_http_requests",
            "HTTP requests answered, by Flask endpoint, dialect (face) and status code.",
            ["endpoint", "dialect", "status"],
        ),
        latency=Histogram(
            "oauth_request_duration_seconds",
            "Time to answer the token, introspection and authorization endpoints.",
            ["operation", "dialect"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        ),
        tokens=Counter(
            "oauth_tokens_issued", "Tokens issued, by grant and auth type.", ["grant", "auth_type"]
        ),
        refusals=Counter(
            "oauth_access_refusals",
            "Requests the access rule refused (issuance, authorization, introspection), by reason.",
            ["reason"],
        ),
        rate_limited=Counter(
            "oauth_rate_limit_refusals", "Requests refused by a rate limit, by limit.", ["limit"]
        ),
        lifecycle=Counter(
            "oauth_lifecycle_changes",
            "Committed management and lifecycle actions (the audit trail's), by kind.",
            ["kind"],
        ),
    )


# The Flask endpoints whose latency is kept, by what their rule ends with, in the dialects.
_OPERATIONS = {"/token": "token", "/introspect": "introspection", "/authorize": "authorization"}
_DIALECT_BLUEPRINTS = ("rfc", "coze")
_operation_of: dict[str, str | None] = {}


def enabled() -> bool:
    return has_app_context() and bool(current_app.config.get("METRICS_ENABLED"))


def operation(endpoint: str, rule: str) -> str | None:
    """token, introspection or authorization for a dialect's endpoint; None for the rest."""
    if endpoint not in _operation_of:
        found = None
        if endpoint.split(".", 1)[0] in _DIALECT_BLUEPRINTS:
            found = next((op for end, op in _OPERATIONS.items() if rule.endswith(end)), None)
        _operation_of[endpoint] = found
    return _operation_of[endpoint]


def request_done(endpoint: str, rule: str, dialect: str, status: int, seconds: float) -> None:
    found = series()
    found.requests.labels(endpoint, dialect, str(status)).inc()
    op = operation(endpoint, rule)
    if op:
        found.latency.labels(op, dialect).observe(seconds)


def token_issued(grant_type: str, auth_type: str) -> None:
    if enabled():
        # The URN grants by their last segment: device_code, jwt-bearer.
        series().tokens.labels(grant_type.rsplit(":", 1)[-1], auth_type).inc()


def refused(reason: Any) -> None:
    if enabled():
        series().refusals.labels(str(reason)).inc()


def rate_limited(limit: str) -> None:
    if enabled():
        series().rate_limited.labels(limit).inc()


def lifecycle_change(session: Any, kind: str) -> None:
    """Counted when the session commits it (see _committed), not if it is rolled back."""
    if enabled():
        session.info.setdefault("metrics_changes", []).append(kind)


def _committed(session: Any) -> None:
    for kind in session.info.pop("metrics_changes", ()):
        series().lifecycle.labels(kind).inc()


def _rolled_back(session: Any, *args: Any) -> None:
    session.info.pop("metrics_changes", None)


def exposition() -> bytes:
    """The text format: summed over every worker's files in multiprocess mode."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

    series()  # every series present from the first scrape on
    if current_app.config["PROMETHEUS_MULTIPROC_DIR"]:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def listen(app: Any, session_factory: Any) -> None:
    if app.config.get("METRICS_ENABLED"):
        series()  # made here, once, rather than by two of a worker's threads at once
    if not event.contains(session_factory, "after_commit", _committed):
        event.listen(session_factory, "after_commit", _committed)
        event.listen(session_factory, "after_rollback", _rolled_back)
