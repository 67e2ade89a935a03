"""gunicorn settings, for deployments that serve the app with gunicorn (`gunicorn wsgi:app` run
from the project root reads this file). `make serve` runs Granian instead (serve.py), which
measured cheaper per request and holds slow clients without a thread (bench/README.md). Every
value can be overridden on the command line. See docs/deploy.md.

- Workers from the cores, threads for the time a request waits on PostgreSQL or Redis.
- No access log: the app writes one line per request with its id (LOG_FORMAT=json for JSON).
- Forwarded headers are trusted only when PROXY_FIX_X_FOR says a proxy is in front.
- What serve.py does too, through server/serving.py: settings read once (a bad one is one line
  and exit status 4); before any worker starts, the stopping file and the metrics folder
  prepared and the configuration checked; on SIGTERM, readiness 503 for
  SHUTDOWN_DRAIN_SECONDS while requests are still served, then the graceful stop. Loading this
  file only reads settings; the hooks below do the rest, in the master.
- METRICS_ENABLED: each exited worker's live files are removed (child_exit).
"""

from __future__ import annotations

import os
import signal
from typing import Any

from server import serving

_settings = serving.settings()
workers = int(_settings["WEB_CONCURRENCY"] or 2 * (os.cpu_count() or 1))
worker_class = "gthread"
threads = int(_settings["GUNICORN_THREADS"])
# A worker silent this long is killed and replaced; no request of ours takes seconds.
timeout = 30
# Requests in flight get this long to finish after SIGTERM (after the drain).
graceful_timeout = int(_settings["GRACEFUL_TIMEOUT"])
keepalive = 5
# Several servers may share a host (one per node in tests); none uses gunicornc.
control_socket_disable = True
accesslog = None
errorlog = "-"
loglevel = "info"


def _trusts_a_proxy(raw: Any) -> bool:
    try:
        return int(raw or 0) > 0
    except ValueError:
        return False  # the app refuses it at start (server/proxy.py)


# The same trust as the app's ProxyFix: none without a proxy, else the proxy's addresses.
forwarded_allow_ips = (
    _settings["FORWARDED_ALLOW_IPS"] if _trusts_a_proxy(_settings["PROXY_FIX_X_FOR"]) else ""
)

if _settings["LOG_FORMAT"] == "json":
    # gunicorn's own lines as JSON; its access lines off, as without this dictionary (the app's
    # request line replaces them). The root logger without gunicorn's text handler: the app
    # adds its JSON handler there (server/logformat.py).
    logconfig_dict = {
        **serving.json_log_config({"gunicorn.error": "INFO", "gunicorn.access": "CRITICAL"}),
        "root": {"level": "INFO", "handlers": []},
    }


def on_starting(server) -> None:
    serving.prepare(_settings)
    if getattr(server.app, "app_uri", None) == "wsgi:app":
        serving.check_app()


def when_ready(server) -> None:
    serving.drain_on_sigterm(_settings, lambda: server.signal(signal.SIGTERM, None))


def child_exit(server, worker) -> None:
    if _settings["PROMETHEUS_MULTIPROC_DIR"]:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    serving.finish(_settings)
