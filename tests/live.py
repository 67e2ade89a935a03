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


class LiveServer:
    """gunicorn (gunicorn.conf.py) or Granian (serve.py, the production default) serving wsgi:app
    on a free loopback port, sharing the tests' database and Redis."""

    def __init__(
        self,
        config: dict[str, Any],
        log_path: Path,
        workers: int | None = None,
        env: dict[str, str] | None = None,
        server: str = "gunicorn",
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = dict(os.environ)
        environment.update(
            DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
            SECRET_KEY="live-test-secret-key-0123456789abcdef",
            OAUTH_ISSUER=self.url,
            RATELIMIT_ENABLED="false",
            # gunicorn.conf.py's drain before a graceful stop: tests stop servers at once.
            SHUTDOWN_DRAIN_SECONDS="0",
        )
        if config.get("REDIS_URL"):
            environment["REDIS_URL"] = config["REDIS_URL"]
        else:
            environment.pop("REDIS_URL", None)
        environment.update(env or {})
        # In-process stores are per process: without Redis, one worker only.
        workers = workers or (2 if config.get("REDIS_URL") else 1)
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
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
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT
        )
        try:
            self._wait()
        except RuntimeError:
            self.stop()  # nothing left behind by a server that did not come up
            raise

    def _wait(self) -> None:
        # Long enough for a loaded 2-core machine to import the app in every worker.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited; see {self.log.name}")
            try:
                requests.get(self.url + "/.well-known/oauth-authorization-server", timeout=5)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 120 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
