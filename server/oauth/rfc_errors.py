"""The RFC dialect's errors: RFC 6749 §5.2 JSON (`error`, `error_description`) with the RFC's
status codes, never cached.

Its words for each way access can end are grants/errors.py's RFC table: the core (Authlib)
speaks RFC 6749, so a core answer is rendered as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Response, jsonify

from grants.errors import RFC
from server.web import Face

if TYPE_CHECKING:  # imported only for types, so that any OAuth module may import this one
    from server.oauth.server import CoreResult

DENIALS = RFC  # tests/test_dialect_tables.py holds every dialect's table to every Denial


def respond(result: CoreResult) -> Response:
    """Any core answer, a success or an error, in this dialect's shape."""
    response = jsonify(result.body)
    response.status_code = result.status
    for name, value in result.headers:
        if name.lower() != "content-type":
            response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def render(error: OAuth2Error) -> Response:
    """An OAuth error (Authlib's or the access rule's) as this dialect answers it: through the
    core, so that it is counted, quotes nothing the caller sent and keeps its own headers
    (`WWW-Authenticate` for invalid_client)."""
    from server.oauth.core import error_result

    return respond(error_result(error))


class RfcFace(Face):
    name = "rfc"
    blueprints = ("rfc",)
    url_space = ("/oauth/", "/.well-known/")
    request_error = "invalid_request"

    def error(self, status: int, code: str, message: str) -> Response:
        response = jsonify(error=code, error_description=message)
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
        return response


FACE = RfcFace()
error = FACE.error  # an error found before the core runs (a malformed request)
