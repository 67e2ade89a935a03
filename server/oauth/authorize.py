"""The authorization endpoint of both dialects: validate, keep the request, send to consent."""

from __future__ import annotations

import re
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from flask import Response, redirect, url_for

from grants.access import check_standing
from grants.errors import AccessRefused
from grants.resources import InvalidTarget, audience
from server.oauth.core import oauth_server, save_authorize_request
from server.oauth.server import DialectRequest, request_from_flask, unreflected

_RESPONSE_TYPE = re.compile(r"[A-Za-z0-9_]+(?: [A-Za-z0-9_]+)*")
AUTHORIZE_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


def _echoable(value: str) -> bool:
    """Whether Authlib may quote the value in an error description (RFC 6749 §5.2 characters)."""
    return all(0x20 <= ord(c) <= 0x7E and c not in '"\\' for c in value)


def validate(request: DialectRequest) -> Any:
    """Authlib's checks (client, redirect URI, response type, scope, PKCE), then the access rule."""
    redirect_uri = request.payload.redirect_uri
    if redirect_uri and not _echoable(redirect_uri):
        # Never a registered URI; Authlib would quote it in its error and fail on the quote.
        raise InvalidRequestError("The redirect URI is not registered for this client.")
    grant = oauth_server().get_consent_grant(request)
    denial = check_standing(oauth_server().storage, request.client.client_id).denial
    if denial:
        error = AccessRefused(denial, request.client.name)
        error.redirect_uri = grant.redirect_uri
        error.state = request.payload.state
        raise error
    try:
        audience(request.resources, None, oauth_server().storage.known_resources)
    except InvalidTarget as error:
        error.redirect_uri = grant.redirect_uri
        error.state = request.payload.state
        raise
    return grant


def refusal(request: DialectRequest, error: OAuth2Error) -> Response:
    """Redirect the error to a validated redirect URI; otherwise show it to the person."""
    error = unreflected(error)
    if error.redirect_uri:
        error.state = request.payload.state
        result = oauth_server().handle_error_response(request, error)
        return redirect(dict(result.headers)["Location"], code=302)
    from server.pages import errors as page_errors
    from server.pages.words import refusal_words

    code = error.error or "invalid_request"
    return page_errors.error(
        error.status_code or 400,
        code,
        refusal_words(code, error.description),
        detail=error.description,
    )


def _malformed(data: dict[str, Any]) -> str | None:
    """The first parameter outside RFC 6749 Appendix A's characters (VSCHAR; response_type's own
    grammar), refused before Authlib, which would quote it in its error description."""
    for name, value in data.items():
        values = value if isinstance(value, list) else [value]  # `resource` repeats
        if not all(0x20 <= ord(c) <= 0x7E for one in values for c in one):
            return name
    response_type = data.get("response_type")
    if response_type is not None and not _RESPONSE_TYPE.fullmatch(response_type):
        return "response_type"
    return None


def begin(args: Any, workspace_id: int | None, dialect: str) -> Response:
    repeated = [name for name in AUTHORIZE_PARAMETERS if len(args.getlist(name)) > 1]
    data = {name: args.get(name) for name in AUTHORIZE_PARAMETERS if args.get(name) is not None}
    if args.getlist("resource"):
        data["resource"] = args.getlist("resource")  # RFC 8707: repeatable
    malformed = _malformed(data)
    if malformed:
        data = {}
    request = request_from_flask(data)
    try:
        if repeated:
            raise OAuth2Error(
                description=f"Repeated parameter: {repeated[0]}.", error="invalid_request"
            )
        if malformed:
            raise InvalidRequestError(f"The parameter {malformed} is malformed.")
        validate(request)
    except OAuth2Error as error:
        return refusal(request, error)
    key = save_authorize_request(data, workspace_id, dialect)
    return redirect(url_for("pages.consent_page", authorize_key=key), code=302)
