"""The route table: each management endpoint declared once with its models, which both the
request handling here and the OpenAPI document read.

A handler receives the caller, its parsed path ids and its validated body or query; it returns
a response model (or None for 204). Domain errors roll the transaction back and become
`{"error", "message"}` responses; success commits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy.exc
from flask import Blueprint, Response, g, jsonify, request
from pydantic import BaseModel, ValidationError

from grants.vocabulary import ID_PATTERN
from server.api import errors as api_errors
from server.errors import DomainError
from server.extensions import transaction
from server.requests import BadJSON, parse_json

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@dataclass(frozen=True)
class PathParam:
    pattern: str
    what: str
    convert: Callable[[str], Any]
    description: str
    converter: str = ""  # a URL converter that already parsed the value (server/requests.py)


_ID = ID_PATTERN

PATH_PARAMS: dict[str, PathParam] = {
    "tenant_id": PathParam(_ID, "tenant", int, "A tenant's id.", "id"),
    "user_id": PathParam(_ID, "member", int, "A user's id.", "id"),
    "invitation_id": PathParam(_ID, "invitation", int, "An invitation's id.", "id"),
    "client_id": PathParam(r"^[1-9][0-9]{18}$", "app", str, "An app's client_id (19 digits)."),
    "kid": PathParam(r"^[A-Za-z0-9_-]{43}$", "key", str, "A key's RFC 7638 thumbprint."),
    "connector_id": PathParam(_ID, "connector", int, "A connector's id.", "id"),
    "service_token_id": PathParam(_ID, "service token", int, "A service access token's id.", "id"),
    "subscription_id": PathParam(_ID, "subscription", int, "A subscription's id.", "id"),
    "delivery_id": PathParam(_ID, "delivery", int, "A delivery's id.", "id"),
}


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    endpoint: str
    summary: str
    tag: str
    status: int
    body: type[BaseModel] | None
    body_required: bool
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    errors: tuple[int, ...]
    public: bool
    description: str = ""
    path_params: tuple[str, ...] = field(default_factory=tuple)

    @property
    def path(self) -> str:
        return bp.url_prefix + re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", self.rule)


ROUTES: list[Route] = []


class Refused(Exception):
    """A request refused before it reaches the domain: malformed, or naming nothing."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# Pydantic error types that mean "not the expected shape" (400) rather than "a bad value" (422).
_MALFORMED = {"missing", "extra_forbidden", "string_unicode", "json_invalid"}


def _is_malformed(error: Any) -> bool:
    kind = error["type"]
    if kind in _MALFORMED or kind.endswith(("_type", "_parsing")):
        return True
    # null, or a non-string where a string from a fixed set is expected, is a wrong type too.
    return kind == "literal_error" and not isinstance(error.get("input"), str)


def _describe(exc: ValidationError) -> tuple[int, str]:
    errors = exc.errors(include_url=False)
    status = 400 if any(_is_malformed(e) for e in errors) else 422
    parts = []
    for e in errors[:3]:
        where = ".".join(str(p)[:40] for p in e["loc"]) or "body"
        if e["type"] == "extra_forbidden":
            parts.append(f"{where}: unknown field")
        elif e["type"] == "missing":
            parts.append(f"{where}: is required")
        elif e["type"] == "string_pattern_mismatch":
            parts.append(f"{where}: contains characters that are not allowed")
        else:
            parts.append(f"{where}: {e['msg'][:200]}")
    return status, "; ".join(parts)


def _path_values(names: tuple[str, ...], raw: dict[str, str]) -> dict[str, Any]:
    parsed = {}
    for name in names:
        spec = PATH_PARAMS[name]
        value = raw[name]
        if spec.converter:
            parsed[name] = value
            continue
        try:
            if not re.fullmatch(spec.pattern, value):
                raise ValueError(value)
            parsed[name] = spec.convert(value)
        except ValueError:
            # A value that cannot be an id names nothing: the same answer as an absent one.
            raise Refused(404, "not_found", f"{spec.what} not found") from None
    return parsed


def _json_body(required: bool) -> dict[str, Any] | None:
    """The body as a JSON object; None when empty and allowed to be. Raises 413 when too big."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise Refused(400, "invalid_request", "a JSON object body is required")
        return None
    if not request.is_json:
        raise Refused(400, "invalid_request", "the body must be JSON (application/json)")
    try:
        data = parse_json(raw)
    except BadJSON as exc:
        raise Refused(400, "invalid_request", str(exc)) from None
    if not isinstance(data, dict):
        raise Refused(400, "invalid_request", "the body must be a JSON object")
    return data


def _validated(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        status, message = _describe(exc)
        code = "invalid_request" if status == 400 else "invalid_value"
        raise Refused(status, code, message) from None


def _inputs(spec: Route, raw_path: dict[str, str]) -> dict[str, Any]:
    kwargs = _path_values(spec.path_params, raw_path)
    if spec.body is not None:
        data = _json_body(spec.body_required)
        kwargs["body"] = _validated(spec.body, data or {})
    elif request.method in ("POST", "PUT", "PATCH", "DELETE"):
        data = _json_body(required=False)
        if data:
            raise Refused(400, "invalid_request", "this endpoint takes no request body")
    if spec.query is not None:
        kwargs["query"] = _validated(spec.query, request.args.to_dict())
    return kwargs


def _render(spec: Route, result: Any) -> Response:
    if spec.response is None:
        return Response(status=204)
    response = jsonify(result.model_dump(mode="json"))
    response.status_code = spec.status
    # Secrets and private keys are shown once: no cache may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    return response


def _run(spec: Route, handler: Callable[..., Any], raw_path: dict[str, str]) -> Response:
    try:
        with transaction():
            kwargs = _inputs(spec, raw_path)
            result = handler(**kwargs) if spec.public else handler(g.api_user, **kwargs)
    except (Refused, DomainError) as exc:
        return api_errors.error(exc.status, exc.code, exc.message)
    except sqlalchemy.exc.IntegrityError:
        # Two requests raced to create the same thing; the loser sees a conflict.
        return api_errors.error(409, "conflict", "a concurrent change conflicts, retry")
    return _render(spec, result)


def route(
    method: str,
    rule: str,
    *,
    summary: str,
    tag: str,
    status: int = 200,
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (),
    public: bool = False,
    description: str = "",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an endpoint: register it on the blueprint and in the route table."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        params = tuple(re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", rule))
        unknown = [p for p in params if p not in PATH_PARAMS]
        if unknown:
            raise ValueError(f"no converter for path parameters {unknown}")
        spec = Route(
            method=method,
            rule=rule,
            endpoint=handler.__name__,
            summary=summary,
            tag=tag,
            status=status if response is not None else 204,
            body=body,
            body_required=body_required,
            query=query,
            response=response,
            errors=errors,
            public=public,
            description=description,
            path_params=params,
        )
        ROUTES.append(spec)

        @functools.wraps(handler)
        def view(**raw_path: str) -> Response:
            return _run(spec, handler, raw_path)

        # Ids are parsed by the URL converter every face shares: a value that is not one names
        # no route, the same 404 as an absent id.
        url_rule = re.sub(
            r"<([a-z_]+)>",
            lambda m: (
                f"<{PATH_PARAMS[m[1]].converter}:{m[1]}>" if PATH_PARAMS[m[1]].converter else m[0]
            ),
            rule,
        )
        bp.add_url_rule(url_rule, endpoint=handler.__name__, view_func=view, methods=[method])
        return handler

    return decorate


def public_endpoints() -> set[str]:
    return {f"{bp.name}.{r.endpoint}" for r in ROUTES if r.public}
