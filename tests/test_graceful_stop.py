"""SIGTERM under load: readiness turns 503 first while requests are still served, requests in
flight finish, the server exits, and no request it accepted goes unanswered."""

from __future__ import annotations

import signal
import threading
import time

import pytest
import requests

from tests.live import LiveServer
from tests.oauth_support import resource_server

DRAIN = 1.5


# Granian (serve.py) is the production server; gunicorn.conf.py stays supported.
@pytest.mark.parametrize("kind", ["granian", "gunicorn"])
def test_sigterm_under_load_loses_nothing_and_readiness_goes_first(
    app, base_config, _schema, tmp_path, kind
):
    rs = resource_server(app)
    server = LiveServer(
        base_config,
        tmp_path / "s.log",
        workers=2,
        env={"SHUTDOWN_DRAIN_SECONDS": str(DRAIN)},
        server=kind,
    )
    draining = threading.Event()  # what a load balancer learns from readiness
    done = threading.Event()
    readiness: list[tuple[float, object]] = []
    answers: list[tuple[float, float, object]] = []  # (sent, answered, status or error)
    lock = threading.Lock()

    def poll() -> None:
        while not done.is_set():
            try:
                r = requests.get(server.url + "/readyz", timeout=5, headers={"Connection": "close"})
                seen: object = (r.status_code, r.json()["status"])
                if r.status_code == 503:
                    draining.set()
            except requests.ConnectionError:
                seen = "refused"
            readiness.append((time.monotonic(), seen))
            time.sleep(0.05)

    def load() -> None:
        while not draining.is_set() and not done.is_set():
            sent = time.monotonic()
            try:
                r = requests.post(server.url + "/oauth/introspect", data={"token": "czu_x"},
                                  headers={**rs, "Connection": "close"}, timeout=15)  # fmt: skip
                outcome: object = r.status_code
            except requests.RequestException as error:
                outcome = repr(error)
            with lock:
                answers.append((sent, time.monotonic(), outcome))

    threads = [threading.Thread(target=poll)] + [threading.Thread(target=load) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        stopped_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        exited_at = time.monotonic()
    finally:
        done.set()
        for t in threads:
            t.join(timeout=30)
        server.stop()

    lost = [a for a in answers if a[2] != 200]
    assert not lost, lost[:5]
    assert any(sent < stopped_at for sent, _, _ in answers)
    # Served after the SIGTERM: the drain keeps serving until the balancer has let go.
    assert any(sent > stopped_at for sent, _, _ in answers), "no request during the drain"
    after = [seen for at, seen in readiness if at > stopped_at]
    turned = next(i for i, seen in enumerate(after) if seen != (200, "ok"))
    assert after[turned] == (503, "stopping"), after
    assert exited_at - stopped_at >= DRAIN, "stopped before the drain was over"
