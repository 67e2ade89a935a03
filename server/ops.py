"""The operations face: liveness and readiness probes, and Prometheus metrics.

Probes need no authentication, are not rate-limited (no limit names them) and are logged below
INFO (server/logformat.py). Readiness opens its own short-lived database connection, outside the
app's pool, so that a probe never waits for a pool slot nor keeps one, and a database refusing
new connections shows as not ready.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from server import metrics
from server.extensions import db
from server.startup import connect_timeout
from server.web import face

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)
PROBE_TIMEOUT = 2  # seconds per dependency


def _status(code: int, **body: object) -> Response:
    response = jsonify(body)
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    return _status(200, status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    stopping = current_app.config.get("STOPPING_FILE")
    if stopping and os.path.exists(stopping):
        return _status(503, status="stopping")
    checks = [("database", _database_answers)]
    if current_app.config.get("REDIS_URL"):
        checks.append(("redis", _redis_answers))
    failed = [name for name, answers in checks if not answers()]
    if failed:
        return _status(503, status="unavailable", failed=failed)
    return _status(200, status="ok")


def _probe_engine() -> Engine:
    engine = current_app.extensions.get("probe_engine")
    if engine is None:
        url = current_app.config["SQLALCHEMY_DATABASE_URI"]
        args = connect_timeout(url, PROBE_TIMEOUT)
        if url.startswith("postgresql"):
            args["options"] = f"-c statement_timeout={PROBE_TIMEOUT * 1000}"
        engine = create_engine(url, poolclass=NullPool, connect_args=args)
        current_app.extensions["probe_engine"] = engine
    return engine


def _database_answers() -> bool:
    try:
        with _probe_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception as error:
        log.warning("readiness: the database does not answer (%s)", type(error).__name__)
        return False


def _redis_answers() -> bool:
    try:
        return bool(current_app.extensions["store"].ping())
    except Exception as error:
        log.warning("readiness: Redis does not answer (%s)", type(error).__name__)
        return False


@bp.get("/metrics")
def metrics_endpoint() -> Response:
    if not current_app.config.get("METRICS_ENABLED"):
        return _status(404, error="not_found", message="metrics are off (METRICS_ENABLED)")
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        presented = request.headers.get("Authorization", "")
        if not hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
            response = _status(401, error="unauthorized", message="a bearer token is required")
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return Response(metrics.exposition(), mimetype="text/plain; version=0.0.4; charset=utf-8")


def _observe(response: Response) -> Response:
    if current_app.config.get("METRICS_ENABLED"):
        rule = request.url_rule
        started = g.get("started")
        metrics.request_done(
            rule.endpoint if rule is not None else "unmatched",
            rule.rule if rule is not None else "",
            face(),
            response.status_code,
            time.perf_counter() - started if started is not None else 0.0,
        )
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(_observe)
    metrics.listen(app, db.session)
