"""What the production servers share: serve.py (Granian, `make serve`) and gunicorn.conf.py
(gunicorn) call this module for their settings, for what they prepare before any worker starts,
for the SIGTERM drain and for their own log lines as JSON. Importing it changes nothing: each
step runs when the server process calls it.

- Settings: server/config.py's server_from_environment; a bad one is one line and exit status
  4 (server/startup.py), as for the app's own.
- The stopping file (STOPPING_FILE): created on the first SIGTERM. Readiness answers 503 while
  it exists (server/ops.py) and requests are still served, so that load balancers stop sending
  before the workers stop.
- Metrics (METRICS_ENABLED): prometheus_client's multiprocess mode, every worker writing its
  files in PROMETHEUS_MULTIPROC_DIR (server/metrics.py), emptied at start: a previous run's
  files would be summed into this one's counters.
Both are set in the server process's environment before its workers start, which inherit it;
unless the deployment sets them, they live in a fresh temporary folder removed at exit.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server import startup
from server.config import server_from_environment

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def settings() -> dict[str, Any]:
    """The server process's settings, from its environment; a bad one stops the process."""
    try:
        return server_from_environment(os.environ)
    except startup.ConfigError as error:
        startup.refuse(error)


def prepare(config: dict[str, Any]) -> None:
    """Before any worker starts: the stopping file and the metrics folder, in the environment
    the workers inherit, as a previous run may not have left them (finish() removes them)."""
    folder = config["SERVER_FOLDER"] = tempfile.mkdtemp(prefix="oauth-server-")
    stopping = os.environ.setdefault("STOPPING_FILE", os.path.join(folder, "stopping"))
    Path(stopping).unlink(missing_ok=True)
    config["STOPPING_FILE"] = stopping
    if config["METRICS_ENABLED"]:
        multiproc = os.environ.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", os.path.join(folder, "metrics")
        )
        shutil.rmtree(multiproc, ignore_errors=True)
        os.makedirs(multiproc, exist_ok=True)
        config["PROMETHEUS_MULTIPROC_DIR"] = multiproc


def check_app() -> None:
    """The app's configuration checked once, in the server process, before any worker starts: a
    bad setting is one line and exit status 4, not one per worker."""
    from server import create_app

    create_app()


def finish(config: dict[str, Any]) -> None:
    """At exit: the stopping file gone, and the temporary folder."""
    Path(config["STOPPING_FILE"]).unlink(missing_ok=True)
    shutil.rmtree(config["SERVER_FOLDER"], ignore_errors=True)


def drain_on_sigterm(config: dict[str, Any], stop: Callable[[], None]) -> None:
    """SIGTERM creates the stopping file, then calls `stop` (the server's graceful stop) after
    SHUTDOWN_DRAIN_SECONDS. A second SIGTERM, or no drain, stops at once."""
    seconds = config["SHUTDOWN_DRAIN_SECONDS"]
    stopping = Path(config["STOPPING_FILE"])

    def drain_then_stop(signum: int, frame: object) -> None:
        if seconds <= 0 or stopping.exists():
            stop()
            return
        stopping.touch()
        log.info("SIGTERM: readiness 503 for %g s, then a graceful stop", seconds)
        threading.Timer(seconds, stop).start()

    signal.signal(signal.SIGTERM, drain_then_stop)


def json_log_config(loggers: dict[str, str]) -> dict[str, Any]:
    """logging.config's dictionary for the server's own loggers (name: level): JSON lines on
    stderr, masked like the app's (server/logformat.py), so that every line of the stream
    parses. CRITICAL means off."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "server.logformat.MaskedJsonFormatter"}},
        "handlers": {"json": handler},
        "loggers": {
            name: {
                "level": level,
                "handlers": [] if level == "CRITICAL" else ["json"],
                "propagate": False,
            }
            for name, level in loggers.items()
        },
    }


def die_with_parent(parent: int) -> None:
    """In a worker: killed with the server process that started it. A server process that stops
    stops its workers first; one killed outright (SIGKILL) cannot, and its workers, orphaned,
    would keep the port and serve on with nothing left to stop them. Linux only."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # it died before the call
        os._exit(1)
