"""A real server process for the tests that drive it with real clients over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveProcess:
    """A process that serves HTTP: started from `command` in the project root with its output
    in `log_path`, waited for until `ready_url` answers (any status), stopped by stop()."""

    def __init__(
        self, command: list[str], ready_url: str, log_path: Path, env: dict[str, str]
    ) -> None:
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self._wait(ready_url)

    def _wait(self, ready_url: str) -> None:
        # Long enough for a loaded 2-core machine to import the app in every worker.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.process.args[:3]} exited; see {self.log.name}")
            try:
                requests.get(ready_url, timeout=5)
                return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.process.args[:3]} did not start in 120 s; see {self.log.name}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class LiveServer(LiveProcess):
    """Granian (serve.py, the production server) or gunicorn (gunicorn.conf.py, for a test about
    gunicorn) serving wsgi:app on a free loopback port, sharing the tests' database and Redis."""

    def __init__(
        self,
        config: dict[str, Any],
        log_path: Path,
        workers: int | None = None,
        env: dict[str, str] | None = None,
        server: str = "granian",
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = dict(os.environ)
        environment.update(
            DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
            SECRET_KEY="live-test-secret-key-0123456789abcdef",
            OAUTH_ISSUER=self.url,
            RATELIMIT_ENABLED="false",
            # The drain before a graceful stop (server/serving.py): tests stop servers at once.
            SHUTDOWN_DRAIN_SECONDS="0",
        )
        if config.get("REDIS_URL"):
            environment["REDIS_URL"] = config["REDIS_URL"]
        else:
            environment.pop("REDIS_URL", None)
        environment.update(env or {})
        # In-process stores are per process: without Redis, one worker only.
        workers = workers or (2 if config.get("REDIS_URL") else 1)
        if server == "granian":  # the production server, as `make serve` starts it
            environment.update(WEB_CONCURRENCY=str(workers), GRACEFUL_TIMEOUT="2")
            command = [sys.executable, "serve.py", "--port", str(self.port)]
        else:
            command = [
                sys.executable, "-m", "gunicorn",
                "--workers", str(workers), "--threads", "4",
                "--bind", f"127.0.0.1:{self.port}",
                "--graceful-timeout", "2",
                "wsgi:app",
            ]  # fmt: skip
        ready = self.url + "/.well-known/oauth-authorization-server"
        super().__init__(command, ready, log_path, environment)
