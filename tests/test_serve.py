"""serve.py is Granian's main process, and its workers die with it: killed outright (SIGKILL,
which lets it stop nothing), it leaves no process behind and the port free within seconds.
The servers' settings are read once, and loading gunicorn.conf.py changes nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from server.config import server_from_environment
from server.startup import ConfigError
from tests.live import ROOT, LiveServer

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


def test_server_settings_are_numbers_with_defaults():
    settings = server_from_environment({"SHUTDOWN_DRAIN_SECONDS": "1.5", "WEB_CONCURRENCY": "3"})
    assert settings["SHUTDOWN_DRAIN_SECONDS"] == 1.5 and settings["WEB_CONCURRENCY"] == 3
    assert settings["GRACEFUL_TIMEOUT"] == 20 and settings["HOST"] == "127.0.0.1"
    for bad in ("soon", "-1", "nan", "inf", "1e400"):
        with pytest.raises(ConfigError) as raised:
            server_from_environment({"GRACEFUL_TIMEOUT": bad})
        assert raised.value.variable == "GRACEFUL_TIMEOUT"


def test_loading_gunicorn_conf_changes_nothing():
    """Only settings are read: the environment is left as it was, and prometheus_client, which
    picks its multiprocess mode when imported, is not imported before the master prepares."""
    check = (
        "import os, runpy, sys; before = dict(os.environ); "
        "settings = runpy.run_path('gunicorn.conf.py'); "
        "assert dict(os.environ) == before, 'the environment changed'; "
        "assert 'prometheus_client' not in sys.modules, 'prometheus_client imported'; "
        "assert settings['workers'] == 3 and settings['logconfig_dict']"
    )
    env = {**os.environ, "METRICS_ENABLED": "true", "LOG_FORMAT": "json", "WEB_CONCURRENCY": "3"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("STOPPING_FILE", None)
    done = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
