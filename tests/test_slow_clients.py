"""Resource servers keep connections open, and some clients are slow: neither may starve the
production server (serve.py, Granian). Idle keep-alive connections, connections that have sent
nothing yet and requests whose headers never finish are all held open while introspection, on
fresh connections, still answers promptly. (gunicorn's gthread worker fails this: a request
whose headers never finish holds one of its threads. A body that trickles in holds a thread
under either server while the app reads it: nginx in front, which reads whole requests before
passing them on, covers that; see docs/deploy.md.)"""

from __future__ import annotations

import http.client
import socket
import time

import requests

from tests.live import LiveServer
from tests.oauth_support import resource_server

IDLE = 64  # keep-alive connections left idle after an answered request
SILENT = 16  # connections opened, nothing sent
SLOW = 16  # request headers begun, never finished
PROMPT = 1.0  # seconds: an introspection on a loaded 2-core machine takes milliseconds


def test_idle_and_slow_connections_do_not_starve_introspection(app, base_config, _schema, tmp_path):
    rs = resource_server(app)
    server = LiveServer(base_config, tmp_path / "s.log", workers=2, server="granian")
    idle: list[http.client.HTTPConnection] = []
    raw: list[socket.socket] = []
    try:
        for _ in range(IDLE):
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            connection.request("GET", "/healthz")
            answer = connection.getresponse()
            assert answer.status == 200 and answer.read()
            assert answer.getheader("Connection", "").lower() != "close"  # kept alive
            idle.append(connection)
        for _ in range(SILENT):
            raw.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        for _ in range(SLOW):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(b"POST /oauth/introspect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-")
            raw.append(sock)
        time.sleep(0.5)  # every one of them reached the server

        took = []
        for _ in range(20):
            started = time.monotonic()
            response = requests.post(
                server.url + "/oauth/introspect",
                data={"token": "czu_unknown"},
                headers={**rs, "Connection": "close"},
                timeout=30,
            )
            took.append(time.monotonic() - started)
            assert response.status_code == 200 and response.json() == {"active": False}
        assert max(took) < PROMPT, [round(t, 3) for t in took]

        # The idle connections are still usable: kept alive, not dropped to make room.
        for connection in idle[:4]:
            connection.request("GET", "/healthz")
            assert connection.getresponse().status == 200
    finally:
        for connection in idle:
            connection.close()
        for sock in raw:
            sock.close()
        server.stop()
