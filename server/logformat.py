"""Log output: text by default, or with LOG_FORMAT=json one JSON object per line (time, level,
logger, message, and during a request its id, method and path; the request line adds status and
duration), masked like every other line (server/logsafety.py). Probe and scrape request lines
go out at DEBUG: an orchestrator calls them every few seconds."""

from __future__ import annotations

import logging
import sys

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

from server.logsafety import redact

_installed: set[str] = set()
requests_log = logging.getLogger("server.requests")


class RequestFields(logging.Filter):
    """Adds the request's id, method and path to each record logged while it is served, unless
    the record brings its own (the request line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and not hasattr(record, "request_id"):
            record.request_id = g.get("request_id")
            record.method = request.method
            record.path = request.path  # never the query string, which can carry codes
        return True


class MaskedJsonFormatter(JsonFormatter):
    """JSON lines, with every credential shape masked in the whole line (fields included)."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class QuietProbes(logging.Filter):
    """The request line of /healthz, /readyz and /metrics, at DEBUG instead of INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and request.blueprint == "ops":
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def request_line(
    method: str, path: str, status: int, took_ms: float, request_id: str | None
) -> None:
    """The one line each request gets at its end, whichever way it was served (server/web.py,
    server/oauth/introspection.py). `path` without the query string, which can carry codes."""
    if not requests_log.isEnabledFor(logging.INFO):
        return
    # Made and handled directly (logging's public Logger.makeRecord and handle), its message
    # formatted once: the caller's file and line, which Logger.info would find by walking the
    # stack on every request, are in neither format.
    record = requests_log.makeRecord(
        requests_log.name,
        logging.INFO,
        __file__,
        0,
        f"{method} {path} {status} {took_ms:.1f}ms rid={request_id}",
        None,
        None,
        extra={
            "status": status,
            "duration_ms": round(took_ms, 1),
            "request_id": request_id,
            "method": method,
            "path": path,
        },
    )
    requests_log.handle(record)


def json_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskedJsonFormatter())
    handler.addFilter(RequestFields())
    return handler


def init_app(app: Flask) -> None:
    # Logging is process-wide: each piece is installed once, whichever app comes first.
    if "quiet" not in _installed:
        logging.getLogger("server.requests").addFilter(QuietProbes())
        _installed.add("quiet")
    if app.config["LOG_FORMAT"] == "json" and "json" not in _installed:
        root = logging.getLogger()
        root.addHandler(json_handler())
        root.setLevel(logging.INFO)
        _installed.add("json")
