"""Abuse limits on the OAuth endpoints, checked before any grant runs: assertion size, token
calls per client (introspection calls per resource server: server/oauth/introspection.py).

Each answers in the error shape of the request's face (server/web.py): 429 with
`Retry-After` and error `temporarily_unavailable`, the RFC 6749 code that clients already treat
as "try again later". Keys are what the caller presents, read without trusting it, so that one
client's flood never spends another client's allowance.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Response, current_app, request

from server import ratelimit
from server.oauth.server import DialectRequest
from server.web import error_response

# RFC 7523 assertions from our SDKs are under 1 KiB; 8 KiB leaves room for long claims and
# refuses anything larger before a byte of it is decoded.
MAX_ASSERTION_BYTES = 8 * 1024
MAX_KEY_LENGTH = 64


def _address() -> str:
    return "addr:" + (request.remote_addr or "unknown")


def _unverified_issuer(assertion: str) -> str | None:
    """The `iss` of a JWT without verifying it: only to pick a rate-limit bucket."""
    parts = assertion.split(".")
    if len(parts) != 3 or len(parts[1]) > MAX_ASSERTION_BYTES:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else None


def _bounded(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_KEY_LENGTH else None


def token_caller(core_request: DialectRequest) -> str:
    """Whose allowance a token request spends: the client_id presented (Basic user, body
    client_id, or the assertion's iss), else the caller's address."""
    data = core_request.form
    basic_user, _ = extract_basic_authorization(core_request.headers)
    assertion = data.get("assertion")
    client_id = (
        _bounded(basic_user)
        or _bounded(data.get("client_id"))
        or (_bounded(_unverified_issuer(assertion)) if isinstance(assertion, str) else None)
    )
    return "client:" + client_id if client_id else _address()


def _too_many(wait: int) -> Response:
    response = error_response(
        429, "temporarily_unavailable", f"Too many requests; retry after {wait} seconds."
    )
    response.headers["Retry-After"] = str(wait)
    return response


def check_token_request(core_request: DialectRequest) -> Response | None:
    """None when the token request may run; else the refusal to send."""
    assertion = core_request.form.get("assertion")
    if isinstance(assertion, str) and len(assertion) > MAX_ASSERTION_BYTES:
        return error_response(
            400, "invalid_request", f"The assertion is longer than {MAX_ASSERTION_BYTES} bytes."
        )
    if not _limits_on():
        return None
    wait = ratelimit.take("RATELIMIT_TOKEN_CLIENT", token_caller(core_request))
    return _too_many(wait) if wait else None


def check_registration() -> Response | None:
    """Self-registration per client address (RFC 7591 §5: registration invites abuse)."""
    if not _limits_on():
        return None
    wait = ratelimit.take("RATELIMIT_REGISTRATION", _address())
    return _too_many(wait) if wait else None


def _limits_on() -> bool:
    # Checked first, so that with limits off (benchmarks) no key is even worked out.
    return bool(current_app.config.get("RATELIMIT_ENABLED", True))
