"""The OpenAPI 3.1 document of the management API, built from the route table and its models."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, ConfigDict

from server.api.routing import PATH_PARAMS, ROUTES, Route, route
from server.api.schemas import ErrorOut

_REF = "#/components/schemas/{model}"

_ERRORS = {
    400: "Malformed request: not JSON, not an object, a wrong type, an unknown or missing field",
    401: "No valid personal access token or console session",
    403: "Your role in this tenant does not allow this",
    404: "Absent, or not visible to you (another tenant's); also any malformed id",
    409: "Conflict: `quota_exceeded`, `key_limit`, `duplicate_key`, `already_member`, ...",
    413: "Request body too large",
    422: "A value is not acceptable (length, format, enum), or `client_type` would change",
}

_INFO = {
    "title": "OAuth server management API",
    "version": "1.0.0",
    "description": (
        "Manage tenants, members (who join only by accepting an invitation), workspaces, apps "
        "(OAuth clients), service-app keys, installations and consents. Authenticate with "
        "`Authorization: Bearer <personal access token>` (`flask tokens create EMAIL`) or the "
        "console session; session callers send the CSRF token in `X-CSRFToken` on unsafe "
        "methods. Ids of users, tenants and workspaces are numeric strings; a path id that is "
        "not one (ASCII digits, at most 2^63-1) names no endpoint: 404. Errors are "
        '`{"error": code, "message": text}`. Endpoints without a request body accept an empty '
        "body or `{}`."
    ),
}


class OpenApiDocument(BaseModel):
    """The document itself (an open object)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


def _ref(model: type[BaseModel], mode: str, components: dict[str, Any]) -> dict[str, str]:
    if model.__name__ not in components:
        schema = model.model_json_schema(ref_template=_REF, mode=mode)  # type: ignore[arg-type]
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


def _parameters(spec: Route) -> list[dict[str, Any]]:
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": PATH_PARAMS[name].description,
            "schema": {"type": "string", "pattern": PATH_PARAMS[name].pattern},
        }
        for name in spec.path_params
    ]
    if spec.query is not None:
        schema = spec.query.model_json_schema(mode="validation")
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            prop = {k: v for k, v in prop.items() if k != "title"}
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    return params


def _operation(spec: Route, components: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": spec.endpoint,
        "summary": spec.summary,
        "tags": [spec.tag],
    }
    if spec.description:
        operation["description"] = spec.description
    parameters = _parameters(spec)
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {
            "required": spec.body_required,
            "content": {"application/json": {"schema": _ref(spec.body, "validation", components)}},
        }
    responses: dict[str, Any] = {}
    if spec.response is None:
        responses["204"] = {"description": "Done; no content"}
    else:
        responses[str(spec.status)] = {
            "description": "Created" if spec.status == 201 else "OK",
            "content": {
                "application/json": {"schema": _ref(spec.response, "serialization", components)}
            },
        }
    statuses = set(spec.errors)
    if not spec.public:
        statuses.add(401)
    if spec.path_params:
        statuses.add(404)
    if spec.method in ("POST", "PUT", "PATCH", "DELETE"):
        statuses.update((400, 413))
    if spec.query is not None:
        statuses.update((400, 422))
    error = _ref(ErrorOut, "serialization", components)
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": _ERRORS[status],
            "content": {"application/json": {"schema": error}},
        }
    operation["responses"] = responses
    if spec.public:
        operation["security"] = []
    return operation


@functools.cache
def document() -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for spec in ROUTES:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, components)
    return {
        "openapi": "3.1.0",
        "info": _INFO,
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "personalAccessToken": {"type": "http", "scheme": "bearer"},
                "consoleSession": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
        "security": [{"personalAccessToken": []}, {"consoleSession": []}],
    }


@route(
    "GET",
    "/openapi.json",
    summary="This document",
    tag="meta",
    response=OpenApiDocument,
    public=True,
)
def openapi_document() -> OpenApiDocument:
    return OpenApiDocument(**document())
