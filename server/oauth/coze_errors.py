"""The Coze dialect's errors (PROTOCOL.md §7): both pairs, `error_code`/`error_message` and
`error`/`error_description`, with a non-empty message; 400, or 401 for invalid_client; never
cached; and `X-Tt-Logid` on every answer of the dialect, errors or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Response, g, jsonify

from grants.access import Denial
from grants.clients import JWT_BEARER
from grants.errors import AccessRefused, worded
from server.web import Face

if TYPE_CHECKING:
    from server.oauth.server import CoreResult

# The dialect's codes for each way access can end, (error, status), with the shared message
# (grants/errors.py MESSAGES) but where Coze words it its own way; `{app}` is the app's name.
# `access_deny` is Coze's code for an app that may not act (a disabled app above all); what
# ended a user's grant keeps RFC 6749's invalid_grant. Every Denial has an entry
# (tests/test_dialect_tables.py).
DENIALS = worded(
    {
        Denial.APP_MISSING: ("invalid_client", 401),
        Denial.APP_DISABLED: ("access_deny", 400),
        Denial.WRONG_CLIENT_TYPE: ("access_deny", 400),
        Denial.NOT_INSTALLED: ("access_deny", 400),
        Denial.INSTALL_PENDING: ("access_deny", 400),
        Denial.NOT_AUTHORIZED: ("invalid_grant", 400),
        Denial.NOT_MEMBER: ("invalid_grant", 400),
        Denial.SUPERSEDED: ("invalid_grant", 400),
        Denial.TOKEN_EXPIRED: ("invalid_grant", 400),
        Denial.TOKEN_REVOKED: ("invalid_grant", 400),
        Denial.NO_CONNECTOR: ("access_deny", 400),
        Denial.WRONG_PATH: ("access_deny", 400),
        # Only introspection (RFC dialect only) refuses for the audience.
        Denial.WRONG_AUDIENCE: ("access_deny", 400),
    },
    {Denial.APP_DISABLED: "app: {app} is currently deactivated by the owner"},
)

# Grant types that PROTOCOL.md's "not supported grant type: ..." may name back.
NAMED_GRANT_TYPES = {
    "authorization_code", "refresh_token", "password", "client_credentials", "implicit",
    "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:ietf:params:oauth:grant-type:saml2-bearer",
    "urn:ietf:params:oauth:grant-type:token-exchange",
}  # fmt: skip


class CozeFace(Face):
    name = "coze"
    blueprints = ("coze",)
    url_space = ("/api/permission/",)
    request_error = "invalid_request"
    internal_error = "internal_error"  # PROTOCOL.md §7

    def error(self, status: int, code: str, message: str) -> Response:
        response = jsonify(
            error_code=code, error_message=message, error=code, error_description=message
        )
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
        return response

    def finish(self, response: Response) -> None:
        response.headers["X-Tt-Logid"] = g.get("request_id", "")


FACE = CozeFace()
error = FACE.error


def render(result: CoreResult, grant_type: str | None) -> Response:
    """A core error in this dialect's words: a refusal by the access rule from DENIALS, any
    other error from its RFC 6749 code."""
    refused = result.error
    if isinstance(refused, AccessRefused):
        code, status, words = DENIALS[refused.denial]
        message = words.format(app=refused.app_name)
    else:
        code = result.body.get("error", "invalid_request")
        status = 401 if code == "invalid_client" else 400
        if grant_type == JWT_BEARER and code == "invalid_grant":
            # PROTOCOL.md: a bad or unverifiable assertion is a failed client authentication.
            code, status = "invalid_client", 401
        elif result.status >= 500:
            status = result.status
        message = words_for(code, result.body.get("error_description") or "", grant_type)
    response = error(status, code, message)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_client"'
    return response


def words_for(code: str, description: str, grant_type: str | None) -> str:
    """The message for an RFC 6749 error: Coze's wording where PROTOCOL.md gives one."""
    if code == "unsupported_grant_type":
        if grant_type in NAMED_GRANT_TYPES:
            return f"not supported grant type: {grant_type}"
        return "not supported grant type"
    if code == "invalid_request":
        return f"invalid request: {description or 'bad parameter'}"
    return description or code.replace("_", " ")
