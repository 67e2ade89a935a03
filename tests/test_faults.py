"""Faults, each test with processes of its own: PostgreSQL connections killed mid-request, Redis
killed and restarted with the rate limits on, a gunicorn worker killed under load, and token
requests retried after their answer was lost. Nothing half-written, nothing 500, and recovery
without a restart."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text

from server.config import database_url as sqlalchemy_url
from tests.fault_support import (
    live_families,
    obo_tokens,
    send_and_drop,
    signed_in,
    wait_until,
    worker_pids,
)
from tests.invariants import assert_consistent
from tests.live import LiveServer
from tests.oauth_support import JWT_BEARER, assertion, resource_server, service_app
from tests.test_redis_outage import PrivateRedis

APP_NAME = "oauth-fault-test"


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql"))


# PostgreSQL connections killed --------------------------------------------------------------


@pytest.fixture
def pg_server(base_config, _schema, tmp_path):
    url = base_config["SQLALCHEMY_DATABASE_URI"]
    if not _is_postgres(url):
        pytest.skip("pg_terminate_backend is PostgreSQL's; the SQLite run has no server to kill")
    named = url + ("&" if "?" in url else "?") + f"application_name={APP_NAME}"
    server = LiveServer({**base_config, "SQLALCHEMY_DATABASE_URI": named}, tmp_path / "s.log")
    admin = create_engine(sqlalchemy_url(url), isolation_level="AUTOCOMMIT")
    yield server, admin
    server.stop()
    admin.dispose()


def _server_backends(admin, waiting: bool = False) -> list[int]:
    query = "SELECT pid FROM pg_stat_activity WHERE application_name = :name"
    if waiting:
        query += " AND wait_event_type = 'Lock'"
    with admin.connect() as c:
        return [r.pid for r in c.execute(text(query), {"name": APP_NAME})]


def _kill_backends(admin, pids: list[int]) -> None:
    with admin.connect() as c:
        for pid in pids:
            c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def test_postgres_connection_killed_mid_request_answers_503_then_recovers(
    app, pg_server, make_user, make_app, auth_header
):
    server, admin = pg_server
    owner = make_user()
    headers = auth_header(owner)
    web, _ = make_app(owner, "web")
    pid_before = server.process.pid
    disable = f"{server.url}/api/v1/apps/{web.client_id}/disable"

    # Hold the app's row, so that the server's UPDATE waits in the database: in flight.
    with admin.connect() as lock:
        lock.execute(text("BEGIN"))
        lock.execute(
            text("SELECT 1 FROM apps WHERE client_id = :c FOR UPDATE"), {"c": web.client_id}
        )
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(requests.post, disable, headers=headers, timeout=30)
            assert wait_until(lambda: _server_backends(admin, waiting=True), timeout=15)
            _kill_backends(admin, _server_backends(admin, waiting=True))
            answer = pending.result()
        lock.execute(text("ROLLBACK"))
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "temporarily_unavailable" and answer.headers["Retry-After"]

    # Every other connection of the server dies too; it reconnects by itself.
    _kill_backends(admin, _server_backends(admin))
    statuses = []
    for _ in range(20):
        response = requests.post(disable, headers=headers, timeout=10)
        statuses.append(response.status_code)
        if response.status_code == 200:
            break
    assert statuses[-1] == 200 and set(statuses) <= {200, 503}, statuses
    assert server.process.poll() is None and server.process.pid == pid_before
    assert_consistent(app)


def test_postgres_connections_killed_under_load_fail_cleanly(app, pg_server, make_user, make_app):
    server, admin = pg_server
    owner = make_user()
    rs = resource_server(app)
    client_id, kid, pem = service_app(app, owner, make_app)
    audience = server.url.split("//")[1]
    token = requests.post(
        server.url + "/oauth/token",
        data={"grant_type": JWT_BEARER, "assertion": assertion(client_id, kid, pem, audience)},
        timeout=10,
    ).json()["access_token"]
    statuses: list[tuple[str, int]] = []
    stop = threading.Event()

    def load(kind: str) -> None:
        session = requests.Session()
        while not stop.is_set():
            if kind == "introspect":
                r = session.post(
                    server.url + "/oauth/introspect", data={"token": token}, headers=rs, timeout=10
                )
            else:
                signed = assertion(client_id, kid, pem, audience)
                r = session.post(
                    server.url + "/oauth/token",
                    data={"grant_type": JWT_BEARER, "assertion": signed},
                    timeout=10,
                )
            statuses.append((kind, r.status_code))

    threads = [threading.Thread(target=load, args=(k,)) for k in ("introspect", "issue") * 2]
    for t in threads:
        t.start()
    kills = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        _kill_backends(admin, _server_backends(admin))
        kills += 1
        time.sleep(0.25)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    codes = {s for _, s in statuses}
    print(f"\nkills={kills} requests={len(statuses)} statuses={sorted(codes)}")
    assert codes <= {200, 503}, sorted(codes)
    # Introspection only reads: a dropped connection is retried once on a fresh one.
    answered = [s for k, s in statuses if k == "introspect"]
    print(f"introspection: {answered.count(200)} answered, {answered.count(503)} refused")
    assert answered.count(200) > 0
    # Recovered: the next requests all succeed.
    for _ in range(10):
        r = requests.post(server.url + "/oauth/introspect", data={"token": token}, headers=rs)
        assert r.status_code == 200 and r.json()["active"] is True
    assert_consistent(app)


# Redis killed and restarted, rate limits on -------------------------------------------------


def test_redis_outage_with_limits_on_fails_closed_and_recovers(
    app, base_config, _schema, tmp_path, make_user, make_app
):
    private = PrivateRedis()
    private.start()
    server = LiveServer(
        {**base_config, "REDIS_URL": private.url},
        tmp_path / "s.log",
        workers=2,
        env={"RATELIMIT_ENABLED": "true"},
    )
    try:
        owner = make_user()
        rs = resource_server(app)
        web, secret = make_app(owner, "web")

        def calls() -> dict[str, requests.Response]:
            return {
                "token": requests.post(
                    server.url + "/oauth/token",
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": "x",
                        "client_id": web.client_id,
                        "client_secret": secret,
                    },
                    timeout=10,
                ),  # fmt: skip
                "introspect": requests.post(
                    server.url + "/oauth/introspect", data={"token": "x"}, headers=rs, timeout=10
                ),
                "login": requests.post(
                    server.url + "/login", data={"email": owner.email, "password": "x"}, timeout=10
                ),
            }

        before = {k: r.status_code for k, r in calls().items()}
        assert before == {"token": 400, "introspect": 200, "login": 400}, before
        private.kill()
        down = calls()
        # No counter, no answer: a limit is never skipped because Redis is out of reach.
        for name in ("token", "introspect"):
            assert down[name].status_code == 503, (name, down[name].text)
            assert down[name].json()["error"] == "temporarily_unavailable"
            assert down[name].headers["Retry-After"]
        private.start()
        assert wait_until(
            lambda: {k: r.status_code for k, r in calls().items()} == before, timeout=20
        )
    finally:
        server.stop()
        private.kill()


# A worker killed under load -----------------------------------------------------------------


def test_worker_killed_under_load_loses_no_issued_token(
    app, base_config, _schema, tmp_path, make_user, make_app
):
    # gunicorn's: a killed worker is replaced (Granian's main process stops with it instead).
    server = LiveServer(base_config, tmp_path / "s.log", server="gunicorn")
    try:
        owner = make_user()
        rs = resource_server(app)
        client_id, kid, pem = service_app(app, owner, make_app)
        pkce, _ = make_app(owner, "pkce")
        browser = signed_in(server.url, owner.email)
        chains = [obo_tokens(server.url, browser, pkce.client_id) for _ in range(2)]
        audience = server.url.split("//")[1]
        received: list[str] = [c["access_token"] for c in chains]
        failures: list[str] = []
        stop = threading.Event()
        lock = threading.Lock()

        def issue() -> None:
            session = requests.Session()
            while not stop.is_set():
                signed = assertion(client_id, kid, pem, audience)
                try:
                    r = session.post(
                        server.url + "/oauth/token",
                        data={"grant_type": JWT_BEARER, "assertion": signed},
                        timeout=10,
                    )
                except requests.RequestException:
                    session = requests.Session()
                    continue  # the worker died with this request: no whole answer, no promise
                if r.status_code == 200:
                    with lock:
                        received.append(r.json()["access_token"])
                elif r.status_code >= 500:
                    failures.append(f"issue {r.status_code}")

        def refresh(tokens: dict) -> None:
            session = requests.Session()
            while not stop.is_set():
                try:
                    r = session.post(
                        server.url + "/oauth/token",
                        data={"grant_type": "refresh_token", "client_id": pkce.client_id,
                              "refresh_token": tokens["refresh_token"]},
                        timeout=10,
                    )  # fmt: skip
                except requests.RequestException:
                    return  # answer lost: retrying is the next test's subject, not this one's
                if r.status_code != 200:
                    failures.append(f"refresh {r.status_code} {r.text[:80]}")
                    return
                tokens = r.json()
                with lock:
                    received.append(tokens["access_token"])

        threads = [threading.Thread(target=issue) for _ in range(3)]
        threads += [threading.Thread(target=refresh, args=(c,)) for c in chains]
        for t in threads:
            t.start()
        time.sleep(1.0)
        victims = worker_pids(server.process.pid)
        assert victims, "no gunicorn worker found"
        os.kill(victims[0], signal.SIGKILL)
        time.sleep(1.5)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert not failures, failures
        assert wait_until(lambda: worker_pids(server.process.pid) and victims[0] not in
                          worker_pids(server.process.pid), timeout=15)  # fmt: skip
        print(f"\ntokens received={len(received)}")
        assert len(received) > 3
        session = requests.Session()
        inactive = [
            t[:8]
            for t in received
            if not session.post(
                server.url + "/oauth/introspect", data={"token": t}, headers=rs, timeout=10
            ).json()["active"]
        ]
        assert not inactive, f"{len(inactive)} received tokens are not active"
        assert_consistent(app)
    finally:
        server.stop()


# Answers lost, requests retried ---------------------------------------------------------------


@pytest.fixture
def lone_server(base_config, _schema, tmp_path):
    server = LiveServer(base_config, tmp_path / "s.log")
    yield server
    server.stop()


@pytest.mark.parametrize("coze", [False, True], ids=["rfc", "coze"])
def test_refresh_retried_after_a_lost_answer_never_makes_two_live_families(
    app, lone_server, make_user, make_app, coze
):
    owner = make_user()
    pkce, _ = make_app(owner, "pkce")
    tokens = obo_tokens(lone_server.url, signed_in(lone_server.url, owner.email), pkce.client_id)
    params = {
        "grant_type": "refresh_token",
        "client_id": pkce.client_id,
        "refresh_token": tokens["refresh_token"],
    }
    if coze:
        path, body, kind = "/api/permission/oauth2/token", json.dumps(params), "application/json"
    else:
        path, body, kind = (
            "/oauth/token",
            "&".join(f"{k}={v}" for k, v in params.items()),
            ("application/x-www-form-urlencoded"),
        )
    assert live_families(app, pkce.client_id) == 1
    send_and_drop(lone_server.url + path, body.encode(), kind)
    # The server rotated the token; the client never heard. Its retry:
    assert wait_until(lambda: _rotated(app, tokens["refresh_token"]))
    retry = requests.post(
        lone_server.url + path,
        data=body,
        headers={"Content-Type": kind},
        timeout=10,
    )
    assert retry.status_code == 400 and retry.json()["error"] == "invalid_grant"
    # Reuse detection ended the family: zero live families, never two.
    assert live_families(app, pkce.client_id) == 0
    assert_consistent(app)


def _rotated(app, refresh_token: str) -> bool:
    from sqlalchemy import select

    from grants.secrets import digest
    from server.extensions import db
    from server.models import OAuthToken

    with app.app_context():
        value = db.session.scalar(
            select(OAuthToken.refresh_revoked).where(
                OAuthToken.refresh_token_hash == digest(refresh_token)
            )
        )
        db.session.remove()
    return bool(value)


def test_code_exchange_retried_after_a_lost_answer_revokes_the_first_tokens(
    app, lone_server, make_user, make_app
):
    from urllib.parse import urlencode

    from tests.oauth_support import REDIRECT_URI, query

    owner = make_user()
    web, secret = make_app(owner, "web")
    browser = signed_in(lone_server.url, owner.email)
    url = "/oauth/authorize?" + urlencode(
        {"response_type": "code", "client_id": web.client_id, "redirect_uri": REDIRECT_URI}
    )
    code = query(browser.authorize(url))["code"]
    body = urlencode(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
         "client_id": web.client_id, "client_secret": secret}
    ).encode()  # fmt: skip
    send_and_drop(lone_server.url + "/oauth/token", body, "application/x-www-form-urlencoded")
    assert wait_until(lambda: live_families(app, web.client_id) == 1)
    retry = requests.post(
        lone_server.url + "/oauth/token",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert retry.status_code == 400 and retry.json()["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: the second use revokes what the first one issued.
    assert live_families(app, web.client_id) == 0
    assert_consistent(app)
