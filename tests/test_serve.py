"""serve.py is Granian's main process, and its workers die with it: killed outright (SIGKILL,
which lets it stop nothing), it leaves no process behind and the port free within seconds."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import requests

from tests.live import LiveServer

WITHIN = 5.0  # seconds


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, read from /proc; zombies left out."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if int(parent) == pid and state != "Z":
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_sigkill_leaves_no_worker_and_frees_the_port(base_config, _schema, tmp_path):
    server = LiveServer(base_config, tmp_path / "s.log", workers=2, server="granian")
    try:
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
        workers = _children(server.process.pid)
        assert len(workers) == 2, workers
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        deadline = time.monotonic() + WITHIN
        while time.monotonic() < deadline:
            if not any(map(_alive, workers)) and _port_free(server.port):
                break
            time.sleep(0.05)
        assert [pid for pid in workers if _alive(pid)] == [], "workers outlived serve.py"
        assert _port_free(server.port), "the port is still held"
        try:
            requests.get(server.url + "/healthz", timeout=2)
            raise AssertionError("something still answers on the port")
        except requests.ConnectionError:
            pass
    finally:
        server.stop()
