"""gunicorn settings, for deployments that serve the app with gunicorn (`gunicorn wsgi:app` run
from the project root reads this file). `make serve` runs Granian instead (serve.py), which
measured cheaper per request and holds slow clients without a thread (bench/README.md). Every
value can be overridden on the command line. See docs/deploy.md.

- Workers from the cores, threads for the time a request waits on PostgreSQL or Redis.
- No access log: the app writes one line per request with its id (LOG_FORMAT=json for JSON).
- Forwarded headers are trusted only when PROXY_FIX_X_FOR says a proxy is in front.
- SIGTERM: readiness turns 503 for SHUTDOWN_DRAIN_SECONDS while requests are still served, so
  that load balancers stop sending; then the graceful stop lets requests in flight finish.
- METRICS_ENABLED: prometheus_client's multiprocess mode, in PROMETHEUS_MULTIPROC_DIR (a fresh
  temporary folder unless set), emptied at start and cleaned of each worker that exits.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise SystemExit(f"configuration error: {name}: expected a number, got {raw!r}") from None


_cores = os.cpu_count() or 1
workers = int(_number("WEB_CONCURRENCY", 2 * _cores))
worker_class = "gthread"
threads = int(_number("GUNICORN_THREADS", 4))
# A worker silent this long is killed and replaced; no request of ours takes seconds.
timeout = 30
# Requests in flight get this long to finish after SIGTERM (after the drain below).
graceful_timeout = int(_number("GRACEFUL_TIMEOUT", 20))
keepalive = 5
# Several servers may share a host (one per node in tests); none uses gunicornc.
control_socket_disable = True
accesslog = None
errorlog = "-"
loglevel = "info"
# The same trust as the app's ProxyFix: none without a proxy, else the proxy's addresses.
forwarded_allow_ips = (
    os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
    if int(_number("PROXY_FIX_X_FOR", 0)) > 0
    else ""
)

if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    # gunicorn's own lines as JSON too, so that every line of the stream parses; the app adds
    # its handler to the root logger (server/logformat.py).
    _json = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "server.logformat.MaskedJsonFormatter"}},
        "handlers": {"json": _json},
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False},
            # Off, as without this dictionary: the app's request line replaces it.
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }

DRAIN_SECONDS = _number("SHUTDOWN_DRAIN_SECONDS", 5)
# Workers inherit the environment: the app's readiness looks for this file (STOPPING_FILE).
os.environ.setdefault(
    "STOPPING_FILE", os.path.join(tempfile.gettempdir(), f"oauth-stopping-{os.getpid()}")
)

_metrics_on = os.environ.get("METRICS_ENABLED", "").strip().lower() in ("1", "true", "yes", "on")
if _metrics_on and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Set before any worker imports prometheus_client, which reads it at import.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="oauth-metrics-")


def on_starting(server) -> None:
    Path(os.environ["STOPPING_FILE"]).unlink(missing_ok=True)
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        # Files left by a previous run would be summed into this one's counters.
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)
    if getattr(server.app, "app_uri", None) == "wsgi:app":
        # The configuration checked once, in the master, before any worker starts: a bad
        # setting is one line and exit status 4 (server/startup.py), not one per worker.
        from server import create_app

        create_app()


def when_ready(server) -> None:
    if DRAIN_SECONDS <= 0:
        return
    stopping = Path(os.environ["STOPPING_FILE"])

    def drain_then_stop(signum, frame) -> None:
        if stopping.exists():  # a second SIGTERM: stop now
            server.signal(signum, frame)
            return
        stopping.touch()
        server.log.info("SIGTERM: readiness 503 for %.0f s, then a graceful stop", DRAIN_SECONDS)
        threading.Timer(DRAIN_SECONDS, server.signal, (signal.SIGTERM, None)).start()

    signal.signal(signal.SIGTERM, drain_then_stop)


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    Path(os.environ["STOPPING_FILE"]).unlink(missing_ok=True)
