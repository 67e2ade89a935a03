"""Liveness and readiness: JSON, no authentication, no rate limit, no INFO line; readiness
follows PostgreSQL and Redis (private instances stopped and started again) and turns 503 while
the server stops."""

from __future__ import annotations

import logging
import time

import pytest
import requests

from server import create_app
from tests.live import LiveServer
from tests.service_support import PrivatePostgres, need_postgresql_run
from tests.test_redis_outage import PrivateRedis


def test_probes_answer_json_without_authentication(client):
    for path in ("/healthz", "/readyz"):
        r = client.get(path)
        assert r.status_code == 200, r.text
        assert r.get_json() == {"status": "ok"}
        assert r.headers["Cache-Control"] == "no-store"


def test_probes_are_not_rate_limited_nor_logged_at_info(base_config, _schema, app, caplog):
    instance = create_app(
        {**base_config, "RATELIMIT_ENABLED": True, "RATELIMIT_INTROSPECTION": "1 per minute",
         "RATELIMIT_TOKEN_CLIENT": "1 per minute"}
    )  # fmt: skip
    c = instance.test_client()
    caplog.set_level(logging.INFO)
    for _ in range(25):
        assert c.get("/readyz").status_code == 200
        assert c.get("/healthz").status_code == 200
    c.get("/.well-known/oauth-authorization-server")
    lines = [r.getMessage() for r in caplog.records if r.name == "server.requests"]
    assert any("/.well-known/oauth-authorization-server 200" in line for line in lines), lines
    assert not [line for line in lines if "/readyz" in line or "/healthz" in line], lines
    caplog.set_level(logging.DEBUG)
    c.get("/readyz")
    assert any(
        r.levelno == logging.DEBUG and "GET /readyz 200" in r.getMessage() for r in caplog.records
    )


def test_readiness_is_503_while_the_server_stops(base_config, _schema, app, tmp_path):
    marker = tmp_path / "stopping"
    instance = create_app({**base_config, "STOPPING_FILE": str(marker)})
    c = instance.test_client()
    assert c.get("/readyz").status_code == 200
    marker.touch()
    r = c.get("/readyz")
    assert r.status_code == 503 and r.get_json() == {"status": "stopping"}
    assert c.get("/healthz").status_code == 200  # still alive, serving what is in flight


def _ready(server: LiveServer) -> tuple[int, dict]:
    started = time.monotonic()
    r = requests.get(server.url + "/readyz", timeout=10)
    assert time.monotonic() - started < 5, "readiness must answer within its short timeouts"
    return r.status_code, r.json()


def _until(server: LiveServer, status: int) -> dict:
    deadline = time.monotonic() + 15
    while True:
        code, body = _ready(server)
        if code == status or time.monotonic() > deadline:
            assert code == status, body
            return body
        time.sleep(0.2)


def test_readiness_follows_redis(base_config, _schema, tmp_path):
    private = PrivateRedis()
    private.start()
    server = LiveServer({**base_config, "REDIS_URL": private.url}, tmp_path / "s.log", workers=1)
    try:
        assert _ready(server) == (200, {"status": "ok"})
        private.kill()
        assert _until(server, 503) == {"status": "unavailable", "failed": ["redis"]}
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        private.start()
        assert _until(server, 200) == {"status": "ok"}
    finally:
        server.stop()
        private.kill()


def test_readiness_follows_postgresql(base_config, tmp_path):
    need_postgresql_run()
    cluster = PrivatePostgres()
    try:
        cluster.start()
        config = {**base_config, "SQLALCHEMY_DATABASE_URI": cluster.url}
        server = LiveServer(config, tmp_path / "s.log", workers=1)
        try:
            assert _ready(server) == (200, {"status": "ok"})
            cluster.stop()
            assert _until(server, 503) == {"status": "unavailable", "failed": ["database"]}
            assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
            cluster.start()
            assert _until(server, 200) == {"status": "ok"}
        finally:
            server.stop()
    finally:
        cluster.remove()


@pytest.mark.parametrize("dead", ["database", "redis"])
def test_readiness_names_what_failed_in_process(base_config, _schema, app, dead):
    config = dict(base_config)
    if dead == "database":
        config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://postgres@127.0.0.1:1/none"
    else:
        config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    r = create_app(config).test_client().get("/readyz")
    assert r.status_code == 503
    assert dead in r.get_json()["failed"]


def test_readiness_needs_no_slot_in_the_apps_pool(app, client):
    """Every pooled connection busy (a saturated worker): readiness still answers at once, and
    leaves the pool as it found it."""
    from server.extensions import db

    with app.app_context():
        pool = db.engine.pool
        held = []
        try:
            while pool.checkedout() < pool.size() + pool._max_overflow:
                held.append(db.engine.connect())
            busy = pool.checkedout()
            started = time.monotonic()
            r = client.get("/readyz")
            assert r.status_code == 200 and time.monotonic() - started < 3
            assert pool.checkedout() == busy
        finally:
            for connection in held:
                connection.close()
