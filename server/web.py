"""What every request shares: a request id, one log line, security headers, and the face it
addresses, which renders its errors. Each face owns its error shape in a module of its own
(server/oauth/rfc_errors.py, server/oauth/coze_errors.py, server/api/errors.py,
server/pages/errors.py) and registers it here; this module only decides, once per request,
which face a request belongs to.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import redis
import sqlalchemy.exc
from flask import Flask, Response, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from server import requests
from server.extensions import db
from server.logformat import request_line

log = logging.getLogger("server.requests")

HTTP_CODES = {
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


class Face:
    """A face of the server (a dialect, the management API, the pages) and the shape of its
    errors. It claims the requests its blueprints route and, where no route matched, the paths
    in its URL space; the default face (the pages') takes every other request."""

    name: str
    blueprints: tuple[str, ...] = ()
    url_space: tuple[str, ...] = ()
    # The face's code for HTTP's own malformed-request errors (400, 413, 415), if not Werkzeug's.
    request_error: str | None = None
    internal_error = "server_error"

    def error(self, status: int, code: str, message: str) -> Response:
        raise NotImplementedError

    def http_error(self, exc: HTTPException) -> Response:
        status = exc.code or 500
        code = HTTP_CODES.get(status, "error")
        if self.request_error and status in (400, 413, 415):
            code = self.request_error
        return self.error(status, code, self.http_message(exc, code))

    def http_message(self, exc: HTTPException, code: str) -> str:
        return exc.description or code

    def unexpected(self) -> Response:
        return self.error(500, self.internal_error, "Service internal error.")

    def finish(self, response: Response) -> None:
        """Headers every answer of this face carries, errors included."""


def register_face(app: Flask, face: Face, *, default: bool = False) -> None:
    faces = app.extensions.setdefault("faces", {"all": [], "default": None})
    faces["all"].append(face)
    if default:
        faces["default"] = face


def current_face() -> Face:
    """The face this request addresses, decided once: that of its route's blueprint; where no
    route matched, that of the URL space the path is in; else the default."""
    environ = request.environ  # per request (`g` outlives it where a test holds an app context)
    found = environ.get("server.face")
    if found is None:
        found = environ["server.face"] = _face_of_request()
    return found


def _face_of_request() -> Face:
    faces = current_app.extensions["faces"]
    blueprint = _routed_blueprint()
    for face in faces["all"]:
        if blueprint is not None:
            if blueprint in face.blueprints:
                return face
        elif face.url_space and request.path.startswith(face.url_space):
            return face
    return faces["default"]


def _routed_blueprint() -> str | None:
    """The (top-level) blueprint of the route the request names, None when no route matched. A
    method the route does not take (405) still names the route: the one another method takes."""
    if request.url_rule is not None:
        endpoint = request.url_rule.endpoint
    elif isinstance(request.routing_exception, MethodNotAllowed):
        allowed = request.routing_exception.valid_methods or []
        adapter = current_app.create_url_adapter(request)
        try:
            endpoint, _ = adapter.match(method=allowed[0])  # type: ignore[union-attr]
        except (HTTPException, IndexError):
            return None
    else:
        return None
    blueprint, dot, _ = endpoint.partition(".")
    return blueprint if dot else ""


def face() -> str:
    """The name of the face a request addresses (a metrics label)."""
    return current_face().name


def logid() -> str:
    return g.get("request_id") or uuid.uuid4().hex


def error_response(status: int, code: str, message: str) -> Response:
    """One error, in the shape of the face the request addresses (for steps every face shares:
    header checks, rate limits); a face's own code calls its own module."""
    return current_face().error(status, code, message)


def _http_error(exc: HTTPException) -> Response:
    response = current_face().http_error(exc)
    if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
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
    return current_face().unexpected()


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
    current_face().finish(response)
    took = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    request_line(
        request.method, requests.loggable_path(), response.status_code, took, g.get("request_id")
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
