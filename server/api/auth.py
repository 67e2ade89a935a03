"""Who is calling the management API: a personal access token, or the console's session.

A bearer credential that is not a live personal access token (an OAuth access token
included) is refused; session callers must also present a CSRF token on unsafe methods.
"""

from __future__ import annotations

from flask import Response, current_app, g, request, session
from flask_wtf.csrf import CSRFError

from server.api import errors
from server.api.routing import public_endpoints
from server.credentials import touch_personal_access_token, user_for_personal_access_token
from server.extensions import csrf, db
from server.models import User

_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _unauthorized(message: str, invalid_token: bool = False) -> Response:
    response = errors.error(401, "unauthorized", message)
    challenge = 'Bearer realm="api"'
    if invalid_token:
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip()


def _session_user() -> User | None:
    user_id = session.get("user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return None
    return db.session.get(User, user_id)


def authenticate() -> Response | None:
    """Run before every API view: set g.api_user, or answer 401 (or 400 for a bad CSRF token)."""
    if request.endpoint in public_endpoints():
        return None
    if "Authorization" in request.headers:
        token = _bearer_token()
        user = user_for_personal_access_token(token) if token else None
        if user is None:
            return _unauthorized("a valid personal access token is required", invalid_token=True)
        touch_personal_access_token(token)
        g.api_user = user
        return None
    user = _session_user()
    if user is None:
        return _unauthorized("sign in or send a personal access token")
    if request.method not in _SAFE_METHODS and current_app.config.get("WTF_CSRF_ENABLED", True):
        # Read the body first, so that the form parsing CSRF does cannot consume it.
        request.get_data(cache=True)
        try:
            csrf.protect()
        except CSRFError as exc:
            return errors.error(400, "csrf_failed", exc.description)
    g.api_user = user
    return None
