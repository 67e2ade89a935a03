"""The production server (`make serve`): Granian, a Rust HTTP server, serving wsgi:app over WSGI.
See docs/deploy.md; bench/README.md has the measurements that chose it over gunicorn.

    python serve.py [--host 0.0.0.0] [--port 8000]

This process is Granian's main process (its Python API, not a child): it prepares what the
workers share and checks the configuration (server/serving.py), then starts the workers, which
are its children and die with it, even when it is killed outright.

- Workers from the cores (WEB_CONCURRENCY), each with SERVER_THREADS Python threads for the
  time a request waits on PostgreSQL or Redis. Granian's Rust runtime owns the sockets: it
  reads a request's headers and keeps idle keep-alive connections without holding a Python
  thread, so slow or idle clients cannot starve the workers (tests/test_slow_clients.py).
  Headers not complete within 30 s close the connection.
- No access log: the app writes one line per request with its id (LOG_FORMAT=json for JSON,
  Granian's own lines included).
- SIGTERM: readiness turns 503 for SHUTDOWN_DRAIN_SECONDS while requests are still served, so
  that load balancers stop sending; then Granian's graceful stop lets requests in flight
  finish (GRACEFUL_TIMEOUT). A second SIGTERM, or SIGINT, stops at once.
- The configuration is checked once, here, before any worker starts: a bad setting is one line
  and exit status 4 (server/startup.py).
- METRICS_ENABLED: prometheus_client's multiprocess mode in PROMETHEUS_MULTIPROC_DIR (a fresh
  temporary folder unless set), emptied at start.

gunicorn.conf.py still serves the same app with gunicorn (`gunicorn wsgi:app`), for
deployments that prefer it; it measured slower (bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from typing import Any

from granian import Granian
from granian.constants import Interfaces
from granian.http import HTTP1Settings

from server import serving


def worker_app(target: str, parent: int) -> Any:
    """Granian's loader of `target`, in each worker: bound to this process first."""
    serving.die_with_parent(parent)
    from wsgi import app

    return app


def main() -> int:
    config = serving.settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default=config["HOST"])
    parser.add_argument("--port", type=int, default=int(config["PORT"]))
    args = parser.parse_args()

    serving.prepare(config)
    try:
        serving.check_app()
        json_logs = config["LOG_FORMAT"] == "json"
        server = Granian(
            "wsgi:app",
            address=args.host,
            port=args.port,
            interface=Interfaces.WSGI,
            workers=int(config["WEB_CONCURRENCY"] or os.cpu_count() or 1),
            blocking_threads=int(config["SERVER_THREADS"]),
            websockets=False,
            http1_settings=HTTP1Settings(header_read_timeout=30_000),
            workers_kill_timeout=int(config["GRACEFUL_TIMEOUT"]),
            log_access=False,
            log_dictconfig=serving.json_log_config({"_granian": "INFO"}) if json_logs else None,
        )
        # After Granian's own handlers, which its start installs, and before the workers start.
        server.on_startup(lambda: serving.drain_on_sigterm(config, server.signal_handler_interrupt))
        server.serve(target_loader=partial(worker_app, parent=os.getpid()))
    finally:
        serving.finish(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
