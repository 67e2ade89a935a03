"""The Coze dialect: JSON bodies, secret or assertion as a Bearer header, absolute `expires_in`,
workspace-scoped paths (PROTOCOL.md); its errors are server/oauth/coze_errors.py's.

It turns each request into the RFC parameters the core expects and renders the core's answer
back in Coze's shape; nothing here decides who may do what.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from grants.clients import JWT_BEARER
from server.oauth import authorize, coze_errors, hygiene, throttle
from server.oauth.core import endpoint_response, token_response
from server.oauth.server import CoreResult, DialectRequest, request_from_flask
from server.requests import BadJSON, parse_json

bp = Blueprint("coze", __name__, url_prefix="/api/permission/oauth2")

# Parameters named in error messages; any other name is the caller's own and never echoed.
KNOWN = {
    "grant_type", "client_id", "client_secret", "code", "redirect_uri", "refresh_token",
    "device_code", "code_verifier", "duration_seconds", "scope", "account_id", "enterprise_id",
    "resource",
}  # fmt: skip


class BadBody(ValueError):
    pass


# Top-level body fields the core would read as its own parameters, which the Coze dialect takes
# elsewhere (the path, the scope object): coze-go sends `account_id` and `enterprise_id` in the
# body of every JWT request, so they are ignored there.
_NOT_FROM_BODY = ("enterprise_id", "account_id", "bot_id_list")


def _parameters() -> dict[str, Any]:
    """The body as a flat dict of strings (plus `duration_seconds`; a `scope` object becomes
    `scope` and `bot_id_list`, space-separated)."""
    if request.is_json:
        try:
            body = parse_json(request.get_data())
        except BadJSON as exc:
            raise BadBody(str(exc)) from None
        if not isinstance(body, dict):
            raise BadBody("the body must be a JSON object")
    elif request.mimetype == "application/x-www-form-urlencoded":
        form = request.form
        if any(len(form.getlist(name)) > 1 for name in form):
            raise BadBody("a parameter is repeated")
        body = form.to_dict()
    elif not request.get_data():
        body = {}
    else:
        raise BadBody("the body must be JSON")
    data: dict[str, Any] = {}
    for name, value in body.items():
        if value is None or name in _NOT_FROM_BODY:
            continue
        if name == "scope":
            data["scope"], bots = _scope(value)
            if bots is not None:
                data["bot_id_list"] = bots
        elif name == "resource" and isinstance(value, list):
            # RFC 8707 allows several; in JSON they come as a list of strings.
            if not value or not all(isinstance(v, str) for v in value):
                raise BadBody("resource must be a string or a list of strings")
            data[name] = value
        elif isinstance(value, bool) or not isinstance(value, str | int):
            # The name is the caller's: say which only when it is one of ours.
            kind = "an integer" if name == "duration_seconds" else "a string"
            raise BadBody(f"{name if name in KNOWN else 'a parameter'} must be {kind}")
        elif name == "duration_seconds":
            data[name] = value
        else:
            data[name] = str(value)
    return data


_SCOPE_FIELDS = {"account_permission", "attribute_constraint", "workspace_permission"}


def _words(value: Any, where: str) -> str:
    """A non-empty JSON list of strings without spaces, as one space-separated string."""
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v and not any(c.isspace() for c in v) for v in value)
    ):
        raise BadBody(f"{where} must be a non-empty list of names")
    return " ".join(value)


def _only(value: Any, field: str, where: str) -> Any:
    """`value` must be an object holding `field` and nothing else; returns that field."""
    if not isinstance(value, dict) or set(value) != {field}:
        raise BadBody(f'{where} must be {{"{field}": ...}}')
    return value[field]


def _scope(value: Any) -> tuple[str, str | None]:
    """Coze's scope object → (permission names, bot ids or None), both space-separated.

    {"account_permission": {"permission_list": [...]}, "attribute_constraint":
    {"connector_bot_chat_attribute": {"bot_id_list": [...]}}}: each part may be null (cozepy's
    Scope.build_bot_chat sends a null constraint when it has no bots); any other shape is
    refused, since ignoring a narrowing the client meant would widen its token.
    """
    if isinstance(value, str):
        return value, None
    if not isinstance(value, dict):
        raise BadBody("scope must be an object")
    unknown = sorted(set(value) - _SCOPE_FIELDS)
    if unknown:
        raise BadBody("scope has a field that is not supported")
    if value.get("workspace_permission") is not None:
        raise BadBody("scope.workspace_permission is not supported")
    names = ""
    account = value.get("account_permission")
    if account is not None:
        where = "scope.account_permission"
        names = _words(_only(account, "permission_list", where), where + ".permission_list")
    bots = None
    constraint = value.get("attribute_constraint")
    if constraint is not None:
        where = "scope.attribute_constraint"
        chat = _only(constraint, "connector_bot_chat_attribute", where)
        where += ".connector_bot_chat_attribute"
        bots = _words(_only(chat, "bot_id_list", where), where + ".bot_id_list")
    return names, bots


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    # coze-js sends a bare "Bearer" on public-client requests: that means no credential.
    return value.strip() or None


def _core_request(data: dict[str, Any]) -> DialectRequest:
    bearer = _bearer()
    if bearer and ("client_secret" in data or "assertion" in data):
        # RFC 6749 §2.3: one request, one way of authenticating the client.
        raise BadBody("the client authenticates once: in the Authorization header or the body")
    if bearer:
        if data.get("grant_type") == JWT_BEARER:
            data["assertion"] = bearer
        else:
            data["client_secret"] = bearer
    return request_from_flask(data)


def render_success(result: CoreResult, *, absolute_expiry: bool) -> Response:
    body = dict(result.body)
    body.pop("scope", None)
    if absolute_expiry and "expires_in" in body:
        body["expires_in"] = int(time.time()) + int(body["expires_in"])
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _token(account_id: int | None = None, enterprise_id: int | None = None) -> Response:
    refused = hygiene.refuse_malformed_credentials()
    if refused:
        return refused
    try:
        data = _parameters()
        if enterprise_id is not None:  # from the path; the body's is ignored (_NOT_FROM_BODY)
            data["enterprise_id"] = str(enterprise_id)
        core_request = _core_request(data)
    except BadBody as exc:
        return coze_errors.error(400, "invalid_request", f"invalid request: {exc}")
    core_request.target_tenant_id = account_id
    refused = throttle.check_token_request(core_request)
    if refused:
        return refused
    result = token_response(core_request)
    if result.status == 200:
        return render_success(result, absolute_expiry=True)
    return coze_errors.render(result, data.get("grant_type"))


@bp.post("/token")
def token() -> Response:
    return _token()


@bp.post("/account/<id:account_id>/token")
def account_token(account_id: int) -> Response:
    return _jwt_only_token(account_id=account_id)


@bp.post("/enterprise_id/<id:enterprise_id>/token")
def enterprise_token(enterprise_id: int) -> Response:
    """Enterprise-privileged apps' JWT grant; `enterprise_id` is the tenant's id."""
    return _jwt_only_token(enterprise_id=enterprise_id)


def _jwt_only_token(**tenant: int) -> Response:
    try:
        grant_type = _parameters().get("grant_type")
    except BadBody as exc:
        return coze_errors.error(400, "invalid_request", f"invalid request: {exc}")
    if grant_type != JWT_BEARER:
        words = coze_errors.words_for("unsupported_grant_type", "", grant_type)
        return coze_errors.error(400, "unsupported_grant_type", words)
    return _token(**tenant)


def _device_code(workspace_id: int | None) -> Response:
    refused = hygiene.refuse_malformed_credentials()
    if refused:
        return refused
    try:
        data = _parameters()
        core_request = _core_request(data)
    except BadBody as exc:
        return coze_errors.error(400, "invalid_request", f"invalid request: {exc}")
    core_request.workspace_id = workspace_id
    result = endpoint_response("device_authorization", core_request)
    if result.status == 200:
        return render_success(result, absolute_expiry=False)
    return coze_errors.render(result, None)


@bp.post("/device/code")
def device_code() -> Response:
    return _device_code(None)


@bp.post("/workspace_id/<id:workspace_id>/device/code")
def workspace_device_code(workspace_id: int) -> Response:
    return _device_code(workspace_id)


@bp.get("/authorize")
def authorize_endpoint() -> Response:
    return authorize.begin(request.args, None, "coze")


@bp.get("/workspace_id/<id:workspace_id>/authorize")
def workspace_authorize(workspace_id: int) -> Response:
    return authorize.begin(request.args, workspace_id, "coze")
