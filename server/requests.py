"""Where hostile input is stopped on entry, for every route at once: the request id, the shape of
the Authorization header, ids in paths, and JSON bodies (SECURITY.md, "Hostile input")."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, current_app, request
from werkzeug.routing import BaseConverter

MAX_ID = 2**63 - 1
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# RFC 9110 §11.4: `auth-scheme [ 1*SP token68 ]`. A comma (a list, or two headers merged by the
# server in front), a tab, a control character or a byte outside ASCII is none of that.
_AUTHORIZATION = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+(?: [A-Za-z0-9._~+/-]+=*)?")


def request_id() -> str:
    """The caller's X-Request-Id when short and plain, else a new one: it is echoed in headers
    and written in log lines, so nothing else of the caller's may pass."""
    return request_id_from(request.headers.get("X-Request-Id", "")) or uuid_request_id()


def request_id_from(given: str) -> str | None:
    return given if _REQUEST_ID.fullmatch(given) else None


def uuid_request_id() -> str:
    return uuid.uuid4().hex


def loggable_path() -> str:
    """The path as a log line may hold it: percent-encoded again, so that a decoded newline,
    control character or byte outside ASCII cannot forge or break a line."""
    return quote(request.path, safe="/:@!$&'()*+,;=-._~")


def _refuse_malformed_authorization() -> Response | None:
    """Refuse an Authorization header that is not one `scheme [SP credentials]`, before any
    parser (Authlib's included) reads it. Trailing whitespace is dropped as an HTTP server would
    (so a bare `Bearer ` means no credentials, as coze-js sends on public-client calls)."""
    environ = request.environ
    raw = environ.get("HTTP_AUTHORIZATION")
    if raw is None:
        return None
    value, plain = plain_authorization(raw)
    if value != raw:
        if value:
            environ["HTTP_AUTHORIZATION"] = value
        else:
            del environ["HTTP_AUTHORIZATION"]
    if plain:
        return None
    from server.web import error_response

    return error_response(
        400,
        "invalid_request",
        "The Authorization header must be a single 'scheme credentials' pair.",
    )


def plain_authorization(raw: str) -> tuple[str, bool]:
    """The header without trailing whitespace, and whether it is acceptable: empty, or one
    `scheme [SP credentials]`."""
    value = raw.rstrip(" \t")
    return value, not value or _AUTHORIZATION.fullmatch(value) is not None


def _hardening_headers(response: Response) -> Response:
    if request.endpoint in NO_STORE_PAGES:
        # Sign-in, consent and device pages carry CSRF tokens and what the person chose.
        response.headers["Cache-Control"] = "no-store"
    if current_app.config["OAUTH_ISSUER"].startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


NO_STORE_PAGES = {
    "pages.login",
    "pages.logout",
    "pages.consent_page",
    "pages.device_page",
    "pages.request_install",
}


def _at_most(limit: int) -> str:
    """A regex for 1..limit in plain decimal. In the pattern itself, not in to_python: werkzeug
    compares methods before converting, so an id refused there would be a 405, not a 404."""
    digits = str(limit)
    shorter = f"[1-9][0-9]{{0,{len(digits) - 2}}}"
    same_length = [
        digits[:i] + f"[{'1' if i == 0 else '0'}-{int(d) - 1}]" + f"[0-9]{{{len(digits) - i - 1}}}"
        for i, d in enumerate(digits)
        if int(d) > (1 if i == 0 else 0)
    ]
    return "(?:" + "|".join([shorter, *same_length, digits]) + ")"


class IdConverter(BaseConverter):
    """`<id:name>`: ASCII digits without a leading zero, within a signed 64-bit integer. Anything
    else matches no route (404), so no id that Python's int() or isdigit() would stretch to
    (superscripts, other scripts' digits, signs, spaces, underscores) reaches a view."""

    regex = _at_most(MAX_ID)

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


class BadJSON(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise BadJSON("a key is repeated")
    return result


def _no_constant(name: str) -> Any:
    raise BadJSON(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise BadJSON("a number is out of range")
    return number


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no repeated keys, no NaN/Infinity, no number beyond a double, no
    nesting deeper than the parser's recursion allows. Raises BadJSON with a safe message."""
    try:
        return json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite,
        )
    except BadJSON:
        raise
    except (UnicodeDecodeError, RecursionError, ValueError):
        # ValueError also covers integers of more digits than Python converts.
        raise BadJSON("the body is not valid JSON") from None


def init_app(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
    app.before_request(_refuse_malformed_authorization)
    app.after_request(_hardening_headers)
