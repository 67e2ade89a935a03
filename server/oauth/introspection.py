"""POST /oauth/introspect (RFC 7662): the endpoint, as a plain WSGI callable in front of Flask.

An introspection is: authenticate the resource server, one indexed statement, the access rule
(grants/access.py, applied in server/oauth/endpoints.py), a JSON answer. Resource servers make
one for every API call they serve, so this path leaves out what it does not need: Flask's
request context and its before/after hooks, Authlib's request and endpoint objects, werkzeug's
request and response wrappers. What those give every other answer, this module gives its own,
with the same values: the request id (X-Request-Id), the security headers and `Cache-Control:
no-store`, the request log line, the request and latency metrics, the per-resource-server rate
limit, hostile-input refusals, and errors in the RFC dialect's shape (503 when the database or
Redis cannot answer). Other methods on the path go on to Flask (405, OPTIONS); the Flask route
answers through `answer()` too, so there is one implementation whichever way a request comes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

import psycopg
import redis
import sqlalchemy.exc
import werkzeug.urls  # noqa: F401 - registers the "werkzeug.url_quote" decoding error handler
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wsgi import get_content_length, get_input_stream

from server import metrics, ratelimit
from server.extensions import db
from server.logformat import request_line
from server.oauth.endpoints import introspect_for
from server.oauth.hygiene import basic_is_malformed
from server.requests import plain_authorization, request_id_from, uuid_request_id
from server.web import SECURITY_HEADERS

PATH = "/oauth/introspect"
ENDPOINT = "rfc.introspect"  # the Flask endpoint name, as metrics label it
FORM = "application/x-www-form-urlencoded"
MAX_KEY_LENGTH = 64  # of a rate-limit key taken from what the caller presents

log = logging.getLogger("server.requests")

_UNAVAILABLE = (
    # The driver's own errors too: a connection that the pool opens for the first time (the
    # dialect's first-connect check) fails with psycopg's error, not SQLAlchemy's.
    psycopg.OperationalError,
    psycopg.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
)
_REFUSED = "Resource server authentication failed."
# Authlib's words for the same refusal, as the WWW-Authenticate header carried them.
_REFUSED_CHALLENGE = f'Basic error="invalid_client", error_description="{_REFUSED}"'
_NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
_INACTIVE_BODY = b'{"active":false}\n'
# As Flask's jsonify writes it (sorted keys, compact, ASCII; _body adds the final newline), by
# one encoder for every answer: json.dumps with options makes a new one per call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))

Answer = tuple[int, dict[str, Any], list[tuple[str, str]]]


def _error(status: int, code: str, message: str, *headers: tuple[str, str]) -> Answer:
    return status, {"error": code, "error_description": message}, list(headers)


def _form(environ: dict[str, Any], max_length: int | None) -> list[tuple[str, str]]:
    """The url-encoded body as werkzeug's form parser reads it: 413 past the length limit, and
    a body that is not UTF-8 reads as empty."""
    length = get_content_length(environ)
    if length is not None and (max_length is None or length <= max_length):
        # The usual case, read in one call (werkzeug's stream would read it in pieces).
        raw = environ["wsgi.input"].read(length)
    else:  # chunked, or too long (413): werkzeug's limits, as Flask applies them
        raw = get_input_stream(environ, max_content_length=max_length).read()
    try:
        return parse_qsl(raw.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
    except ValueError:
        return []


def _caller(server_id: str | None, environ: dict[str, Any]) -> str:
    """Whose allowance the call spends: the resource server it names, else its address."""
    if isinstance(server_id, str) and 0 < len(server_id) <= MAX_KEY_LENGTH:
        return "rs:" + server_id
    return "addr:" + (environ.get("REMOTE_ADDR") or "unknown")


def answer(environ: dict[str, Any], config: Any) -> Answer:
    """Status, JSON body and extra headers for one introspection request (in an app context)."""
    authorization = environ.get("HTTP_AUTHORIZATION")
    if authorization is not None:
        value, plain = plain_authorization(authorization)
        if not plain:
            return _error(
                400,
                "invalid_request",
                "The Authorization header must be a single 'scheme credentials' pair.",
            )
        authorization = value or None
    if authorization and basic_is_malformed(authorization):
        return _error(
            401,
            "invalid_client",
            "Malformed HTTP Basic credentials.",
            ("WWW-Authenticate", 'Basic error="invalid_client"'),
        )
    mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if mimetype != FORM:
        return _error(400, "invalid_request", "The body must be application/x-www-form-urlencoded.")
    try:
        items = _form(environ, config.get("MAX_CONTENT_LENGTH"))
    except RequestEntityTooLarge as error:
        return _error(413, "invalid_request", str(error.description))
    form: dict[str, str] = {}
    for name, value in items:
        if name in form and name != "resource":
            return _error(400, "invalid_request", "A parameter is repeated.")
        form.setdefault(name, value)
    basic = authorization is not None and authorization.split(" ", 1)[0].lower() == "basic"
    if basic and ("client_secret" in form or "client_assertion" in form):
        # RFC 6749 §2.3: one request, one way of authenticating the client.
        return _error(400, "invalid_request", "The client must use only one authentication method.")
    server_id, secret = extract_basic_authorization({"Authorization": authorization})
    if config.get("RATELIMIT_ENABLED", True):
        wait = ratelimit.take("RATELIMIT_INTROSPECTION", _caller(server_id, environ))
        if wait:
            return _error(
                429,
                "temporarily_unavailable",
                f"Too many requests; retry after {wait} seconds.",
                ("Retry-After", str(wait)),
            )
    # RFC 7662 §2.1: token_type_hint is not needed, the token's own prefix says what it is.
    token = form.get("token") or ""
    found = _introspect(server_id, secret, token) if server_id and secret else None
    if found is None:
        return _error(401, "invalid_client", _REFUSED, ("WWW-Authenticate", _REFUSED_CHALLENGE))
    if not token:
        return _error(400, "invalid_request", "Missing 'token'.")
    return 200, found, []


def _introspect(server_id: str, secret: str, token: str) -> dict[str, Any] | None:
    """introspect_for, retried once on a fresh connection when the database connection dropped
    under it: safe, since it only reads. A second drop, or any other failure, is raised."""
    try:
        return introspect_for(server_id, secret, token)
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as error:
        if not error.connection_invalidated:
            raise
    db.session.rollback()
    return introspect_for(server_id, secret, token)


def _safely(environ: dict[str, Any], config: Any, request_id: str) -> Answer:
    try:
        return answer(environ, config)
    except _UNAVAILABLE as error:
        # The database or Redis cannot answer: refuse rather than guess (fail closed).
        log.warning(
            "backing service unavailable: %s",
            type(error).__name__,
            extra={"request_id": request_id},
        )
        db.session.rollback()
        return _error(
            503,
            "temporarily_unavailable",
            "the service is temporarily unavailable, retry shortly",
            ("Retry-After", "1"),
        )
    except Exception:
        log.exception("unhandled error (request %s)", request_id)
        db.session.rollback()
        return _error(500, "server_error", "Service internal error.")


def _body(status: int, body: dict[str, Any]) -> bytes:
    if status == 200 and body == {"active": False}:
        return _INACTIVE_BODY
    return (_ENCODER.encode(body) + "\n").encode()


def _headers(
    config: Any, request_id: str, extra: list[tuple[str, str]], length: int
) -> list[tuple[str, str]]:
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(length)),
        *_NO_STORE,
        *extra,
        *SECURITY_HEADERS,
        ("X-Request-Id", request_id),
    ]
    if config["OAUTH_ISSUER"].startswith("https://"):
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return headers


_STATUS_LINES = {
    200: "200 OK",
    400: "400 BAD REQUEST",
    401: "401 UNAUTHORIZED",
    413: "413 REQUEST ENTITY TOO LARGE",
    429: "429 TOO MANY REQUESTS",
    500: "500 INTERNAL SERVER ERROR",
    503: "503 SERVICE UNAVAILABLE",
}


class IntrospectionFirst:
    """WSGI middleware: POST /oauth/introspect is served here, everything else by `app_next`.

    Behind trusted proxies (PROXY_FIX_X_FOR), the client's address is taken from
    X-Forwarded-For as for the rest of the app, so that the per-address limit counts clients."""

    def __init__(self, app: Flask, app_next: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.app_next = app_next
        hops = app.config.get("PROXY_FIX_X_FOR", 0)
        self.serve: Callable[..., Iterable[bytes]] = (
            ProxyFix(self._serve, x_for=hops) if hops else self._serve
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH and environ.get("REQUEST_METHOD") == "POST":
            return self.serve(environ, start_response)
        return self.app_next(environ, start_response)

    def _serve(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID", "")) or uuid_request_id()
        config = self.app.config
        with self.app.app_context():
            status, body, extra = _safely(environ, config, request_id)
            took = time.perf_counter() - started
            if config.get("METRICS_ENABLED"):
                metrics.request_done(ENDPOINT, PATH, "rfc", status, took)
        payload = _body(status, body)
        start_response(_STATUS_LINES[status], _headers(config, request_id, extra, len(payload)))
        request_line("POST", PATH, status, took * 1000, request_id)
        return [payload]


def install(app: Flask) -> None:
    app.wsgi_app = IntrospectionFirst(app, app.wsgi_app)  # type: ignore[method-assign]


def flask_view() -> Response:
    """The Flask route's answer, for a request that reached Flask all the same (dispatched
    in-process rather than through the WSGI stack): the same `answer`, in a Flask response."""
    from flask import current_app, g

    status, body, extra = _safely(
        request.environ, current_app.config, g.get("request_id") or uuid_request_id()
    )
    response = Response(_body(status, body), status=status, mimetype="application/json")
    response.headers.extend([*_NO_STORE, *extra])
    return response
