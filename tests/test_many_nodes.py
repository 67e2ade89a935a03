"""Many nodes behind a real proxy: a private nginx in front of three Granian nodes sharing the
database and Redis, configured as docs/deploy.md says. Through the proxy: the load with
lifecycle changes (zero stale `active`, zero 5xx), rate limits counted across nodes, per-address
limits that see the client's own address (X-Forwarded-For, PROXY_FIX_X_FOR=1), and a node
killed mid-run without losing a request the proxy may retry.

Redis is what makes the nodes count limits together: on the embedded default it is skipped.
NODES_LOAD_SECONDS sets the load's length (8 s by default).
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from tests.live import ROOT, LiveServer, free_port
from tests.oauth_support import hidden
from tests.test_load_with_changes import LOAD_THREADS, assert_held, load_with_changes

pytestmark = pytest.mark.usefixtures("fast_passwords")

SECONDS = float(os.environ.get("NODES_LOAD_SECONDS", "8"))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LOCATIONS = ROOT / "docs" / "nginx-oauth-proxy.conf"


class Proxy:
    """A private nginx: the documented proxy settings in front of `upstreams`, on `port`."""

    def __init__(self, folder: Path, upstreams: list[str], port: int) -> None:
        assert Path(NGINX).exists(), "nginx is required (.ci/run installs Debian's package)"
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        folder.mkdir(parents=True, exist_ok=True)
        kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        temp = " ".join(f"{kind}_temp_path {folder}/{kind};" for kind in kinds)
        servers = " ".join(f"server {u} max_fails=1 fail_timeout=10s;" for u in upstreams)
        user = "user root;" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(
            f"{user}\nworker_processes 1;\npid {folder}/nginx.pid;\n"
            f"error_log {folder}/error.log warn;\nevents {{ worker_connections 512; }}\n"
            f"http {{\n access_log {folder}/access.log;\n {temp}\n"
            f" upstream oauth_nodes {{ {servers} }}\n"
            # Which node answered, for the test to see the requests spread.
            f" server {{ listen 127.0.0.1:{port}; add_header X-Upstream $upstream_addr always;"
            f" include {LOCATIONS}; }}\n}}\n"
        )
        self.process = subprocess.Popen(
            [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("nginx exited: " + self.process.stderr.read())
            try:
                requests.get(self.url + "/healthz", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(base_config, _schema, tmp_path_factory):
    if not base_config.get("REDIS_URL"):
        pytest.skip("nodes count limits together through Redis: PostgreSQL+Redis run only")
    folder = tmp_path_factory.mktemp("nodes")
    proxy_port = free_port()
    proxy_url = f"http://127.0.0.1:{proxy_port}"
    env = {
        "OAUTH_ISSUER": proxy_url,
        "PROXY_FIX_X_FOR": "1",
        "RATELIMIT_ENABLED": "true",
        # The load's clients stay under these; the limits tested below are the sign-in ones.
        "RATELIMIT_TOKEN_CLIENT": "100000 per minute",
        "RATELIMIT_INTROSPECTION": "100000 per minute",
        "RATELIMIT_LOGIN_ACCOUNT": "3 per 15 minutes",
        "RATELIMIT_LOGIN_ADDRESS": "6 per 15 minutes",
    }
    nodes = [LiveServer(base_config, folder / f"node{n}.log", workers=1, env=env) for n in range(3)]
    proxy = None
    try:
        proxy = Proxy(folder / "nginx", [f"127.0.0.1:{node.port}" for node in nodes], proxy_port)
        yield proxy, nodes
    finally:
        if proxy is not None:
            proxy.stop()
        for node in nodes:
            node.stop()


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie whose sockets are closed."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _attempt(proxy: Proxy, source: str, email: str, forwarded: str | None = None):
    """A failed sign-in from the loopback address `source`, through the proxy:
    (status, the node that answered the POST)."""

    def call(method: str, body: str | None, headers: dict) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection(
            "127.0.0.1", proxy.port, timeout=10, source_address=(source, 0)
        )
        connection.request(method, "/login", body, headers)
        response = connection.getresponse()
        response.text = response.read().decode()
        connection.close()
        return response

    extra = {"X-Forwarded-For": forwarded} if forwarded else {}
    page = call("GET", None, extra)
    cookie = SimpleCookie(page.getheader("Set-Cookie"))
    form = urlencode({"email": email, "password": "not-it",
                      "csrf_token": hidden(page.text, "csrf_token")})  # fmt: skip
    cookies = "; ".join(f"{k}={v.value}" for k, v in cookie.items())
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies, **extra}
    answer = call("POST", form, headers)
    return answer.status, answer.getheader("X-Upstream")


def test_limits_count_across_nodes_and_see_the_client_address(app, cluster):
    proxy, _ = cluster
    # One account, failures spread over the nodes: its limit is the same whichever node counts.
    seen = [_attempt(proxy, "127.0.0.2", "target@example.com") for _ in range(3)]
    assert [status for status, _ in seen] == [401, 401, 401], seen
    assert len({node for _, node in seen}) >= 2, f"the proxy used one node only: {seen}"
    assert _attempt(proxy, "127.0.0.2", "target@example.com")[0] == 429
    # One address: three more accounts reach its limit of six failures.
    for n in range(3):
        assert _attempt(proxy, "127.0.0.2", f"other{n}@example.com")[0] == 401
    assert _attempt(proxy, "127.0.0.2", "fresh@example.com")[0] == 429
    # Another client address is its own, even when it claims to be the first.
    assert _attempt(proxy, "127.0.0.3", "fresh@example.com")[0] == 401
    assert _attempt(proxy, "127.0.0.3", "next@example.com", forwarded="127.0.0.2")[0] == 401


def test_load_with_changes_through_the_proxy_survives_a_node_killed(
    app, cluster, make_user, make_app, auth_header, capsys
):
    proxy, nodes = cluster
    killed_at: list[float] = []

    def kill_one_node() -> None:
        killed_at.append(time.monotonic())
        victim = nodes[0].process.pid
        workers = subprocess.run(["pgrep", "-P", str(victim)], capture_output=True, text=True)
        pids = [victim, *map(int, workers.stdout.split())]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        nodes[0].process.wait(timeout=30)
        # Dead when its port refuses connections: a worker's leading thread can be a zombie
        # while its other threads, still exiting, hold the listening socket open.
        while any(_alive(pid) for pid in pids[1:]) or _listening(nodes[0].port):
            time.sleep(0.01)  # a loaded machine takes its time
        killed_at.append(time.monotonic())  # the node died between the two times

    run, counts = load_with_changes(
        app, [proxy], make_user, make_app, auth_header, capsys,
        label="3 nodes behind nginx, one killed halfway", seconds=SECONDS, midway=kill_one_node,
    )  # fmt: skip
    assert killed_at, "the node was not killed"
    killing, killed = killed_at
    # Token requests on the node as it died: nginx must not send them twice (docs/deploy.md).
    in_flight = [a for a in run.answers if a.kind in ("issue", "refresh") and a.status == 502
                 and a.sent <= killed and a.done >= killing]  # fmt: skip
    failed = [a for a in run.answers if a.status >= 500 and a not in in_flight]
    assert not failed, (killing, killed, failed[:5])
    assert len(in_flight) <= LOAD_THREADS, in_flight  # at most one per load thread
    after = [a for a in run.answers if a.sent > killed + 0.2]
    assert after and all(a.status < 500 for a in after)
    assert any(a.kind == "introspect" and a.status == 200 for a in after)
    assert_held(run, counts)
    from tests.invariants import assert_consistent

    assert_consistent(app)
