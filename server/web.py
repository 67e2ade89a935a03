"""What every request shares: a request id, one log line, security headers, and errors rendered
in the shape of the face that was called (management API, RFC dialect, Coze dialect, pages).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import redis
import sqlalchemy.exc
from flask import Flask, Response, g, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from server import requests
from server.extensions import db

log = logging.getLogger("server.requests")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "temporarily_unavailable",
}


def face() -> str:
    """Which face a request addresses, for the shape of its error responses."""
    path = request.path
    if path.startswith("/api/v1"):
        return "api"
    if path.startswith("/api/permission/"):
        return "coze"
    if path.startswith(("/oauth/", "/.well-known/")) and path != "/oauth/consent":
        return "rfc"
    return "html"


def logid() -> str:
    return g.get("request_id") or uuid.uuid4().hex


def error_response(
    status: int, code: str, message: str, where: str | None = None, detail: str | None = None
) -> Response:
    """One error, rendered for the face that was called; a page also shows `detail`, the
    protocol's own words, as a technical note."""
    where = where or face()
    if where == "api":
        response = jsonify(error=code, message=message)
    elif where == "coze":
        response = jsonify(
            error_code=code, error_message=message, error=code, error_description=message
        )
    elif where == "rfc":
        response = jsonify(error=code, error_description=message)
    else:
        response = Response(
            render_template("error.html", status=status, code=code, message=message, detail=detail),
            mimetype="text/html",
        )
    response.status_code = status
    # Errors are never cached, like the successes of the same faces.
    if where in ("coze", "rfc", "api"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "error")
    if face() == "rfc" and status in (400, 413, 415):
        code = "invalid_request"
    if face() == "coze" and status in (400, 413, 415):
        code = "invalid_request"
    message = exc.description or code
    if face() == "html" and message == type(exc).description:
        # Werkzeug's stock sentence is English: pages say it in the person's language.
        from server.pages.words import STOCK_DETAILS

        message = str(STOCK_DETAILS.get(status, message))
    response = error_response(status, code, message)
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response


def _unavailable(exc: Exception) -> Response:
    """The database or Redis cannot answer: refuse rather than guess (fail closed)."""
    log.warning("backing service unavailable: %s", type(exc).__name__)
    db.session.rollback()
    response = error_response(
        503, "temporarily_unavailable", "the service is temporarily unavailable, retry shortly"
    )
    response.headers["Retry-After"] = "1"
    return response


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error (request %s)", g.get("request_id"))
    db.session.rollback()
    where = face()
    code = "internal_error" if where == "coze" else "server_error"
    return error_response(500, code, "Service internal error.")


def _begin() -> None:
    g.request_id = requests.request_id()
    g.started = time.perf_counter()


SECURITY_HEADERS = (
    ("X-Frame-Options", "DENY"),
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    # same-origin: Flask-WTF checks the Referer on HTTPS, and nothing leaks to other sites.
    ("Referrer-Policy", "same-origin"),
)


def _finish(response: Response) -> Response:
    headers = response.headers
    # Added unless a view set its own; one pass over the headers rather than one per name.
    present = {name.lower() for name, _ in headers.items()}
    headers.extend([(k, v) for k, v in SECURITY_HEADERS if k.lower() not in present])
    headers["X-Request-Id"] = g.get("request_id", "")
    if face() == "coze":
        headers["X-Tt-Logid"] = g.get("request_id", "")
    # The path only: query strings can carry codes and tokens, which never reach the log.
    took = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    log.info(
        "%s %s %s %.1fms rid=%s",
        request.method,
        requests.loggable_path(),
        response.status_code,
        took,
        g.get("request_id"),
        extra={"status": response.status_code, "duration_ms": round(took, 1)},
    )
    return response


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building a signer for a request that carries no
    session cookie (every OAuth and API call): its session is empty either way."""

    def open_session(self, app: Flask, request: Any) -> Any:
        if app.secret_key and self.get_cookie_name(app) not in request.environ.get(
            "HTTP_COOKIE", ""
        ):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
    # First of all, before the CSRF check Flask-WTF registered earlier: every answer, a refusal
    # included, carries its request id.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_finish)
    requests.init_app(app)
    app.register_error_handler(HTTPException, _http_error)
    for exc_type in (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        sqlalchemy.exc.TimeoutError,
    ):
        app.register_error_handler(exc_type, _unavailable)
    app.register_error_handler(Exception, _unexpected)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def json_object() -> dict[str, Any] | None:
    """The request's JSON body if it is an object, else None (never raises)."""
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None
