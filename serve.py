"""The production server (`make serve`): Granian, a Rust HTTP server, serving wsgi:app over WSGI.
See docs/deploy.md; bench/README.md has the measurements that chose it over gunicorn.

    python serve.py [--host 0.0.0.0] [--port 8000]

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
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise SystemExit(f"configuration error: {name}: expected a number, got {raw!r}") from None


def _json_log_config(folder: str) -> str:
    """Granian's own lines as JSON, masked like the app's (server/logformat.py)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "server.logformat.MaskedJsonFormatter"}},
        "handlers": {"json": handler},
        "loggers": {"_granian": {"level": "INFO", "handlers": ["json"], "propagate": False}},
    }
    path = os.path.join(folder, "granian-logging.json")
    Path(path).write_text(json.dumps(config))
    return path


def command(host: str, port: int, log_config: str | None) -> list[str]:
    workers = int(_number("WEB_CONCURRENCY", os.cpu_count() or 1))
    threads = int(_number("SERVER_THREADS", 4))
    graceful = int(_number("GRACEFUL_TIMEOUT", 20))
    argv = [
        sys.executable, "-m", "granian", "--interface", "wsgi",
        "--host", host, "--port", str(port),
        "--workers", str(workers), "--blocking-threads", str(threads),
        "--no-ws", "--http1-header-read-timeout", "30000",
        "--workers-kill-timeout", str(graceful),
        "--log-level", "info", "--no-access-log",
        "--working-dir", str(ROOT),
    ]  # fmt: skip
    if log_config:
        argv += ["--log-config", log_config]
    return [*argv, "wsgi:app"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()

    drain = _number("SHUTDOWN_DRAIN_SECONDS", 5)
    folder = tempfile.mkdtemp(prefix="oauth-serve-")
    # Workers inherit the environment: the app's readiness looks for this file (STOPPING_FILE).
    os.environ.setdefault("STOPPING_FILE", os.path.join(folder, "stopping"))
    stopping = Path(os.environ["STOPPING_FILE"])
    stopping.unlink(missing_ok=True)
    metrics = os.environ.get("METRICS_ENABLED", "").strip().lower() in ("1", "true", "yes", "on")
    if metrics:
        # Set before any worker imports prometheus_client; files of a previous run would be
        # summed into this one's counters.
        multiproc = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(folder, "m"))
        shutil.rmtree(multiproc, ignore_errors=True)
        os.makedirs(multiproc, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    from server import create_app

    create_app()  # a bad setting stops here, once, with exit status 4
    json_logs = os.environ.get("LOG_FORMAT", "").strip().lower() == "json"
    # A session of its own: a terminal's Ctrl-C or a signal to the process group reaches this
    # process only, which passes it on (after the drain, for SIGTERM).
    child = subprocess.Popen(  # noqa: S603 - our own command line
        command(args.host, args.port, _json_log_config(folder) if json_logs else None),
        cwd=ROOT,
        start_new_session=True,
    )

    def drain_then_stop(signum: int, frame: object) -> None:
        if drain <= 0 or stopping.exists():  # no drain, or a second SIGTERM: stop now
            child.send_signal(signal.SIGTERM)
            return
        stopping.touch()
        print(f"SIGTERM: readiness 503 for {drain:.0f} s, then a graceful stop", file=sys.stderr)
        threading.Timer(drain, child.send_signal, (signal.SIGTERM,)).start()

    signal.signal(signal.SIGTERM, drain_then_stop)
    signal.signal(signal.SIGINT, lambda signum, frame: child.send_signal(signal.SIGINT))
    try:
        return child.wait()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
