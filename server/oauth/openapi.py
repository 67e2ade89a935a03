"""The OpenAPI 3.1 document of the OAuth endpoints of both dialects, served at /oauth/openapi.json.

Written out by hand (the endpoints are Authlib's, not a route table): request bodies, every
answer with its schema, and links from each answer to the calls that use what it returned.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from grants.device_code import USER_CODE_ALPHABET, USER_CODE_LENGTH
from grants.vocabulary import (
    ID_PATTERN,
    OAUTH_AUTH_TYPES,
    AppKind,
    AuthMethod,
    AuthType,
    ClientType,
    CodeChallengeMethod,
    GrantType,
)
from server.limits import MAX_BODY_BYTES, MAX_JWT_DURATION

_STR = {"type": "string"}
_INT = {"type": "integer"}


def _enum(values: type[StrEnum] | tuple[StrEnum, ...]) -> dict[str, list[str]]:
    return {"enum": [str(v) for v in values]}


# Authlib's user codes: two groups of the alphabet's letters joined by a hyphen.
_USER_CODE_GROUP = f"[{USER_CODE_ALPHABET}]{{{USER_CODE_LENGTH // 2}}}"
_USER_CODE_PATTERN = f"^{_USER_CODE_GROUP}-{_USER_CODE_GROUP}$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _errors(shape: str, *statuses: int) -> dict[str, Any]:
    words = {
        400: "Malformed request, or a refused grant (`invalid_grant`, `unauthorized_client`, ...)",
        401: "Client (or resource server) authentication failed: `invalid_client`",
        404: "No such endpoint: a path id that is not an id (ASCII digits, at most 2^63-1), "
        "or registration while it is off (OAUTH_REGISTRATION=off)",
        405: "Method not allowed",
        413: f"Request body larger than {MAX_BODY_BYTES // 1024} KiB",
        429: "Rate limit: `temporarily_unavailable`, with `Retry-After`",
        503: "The database or Redis cannot answer: `temporarily_unavailable`, with `Retry-After`",
    }
    return {str(s): _json(shape, words[s]) for s in statuses}


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}}

_CLIENT_METADATA = {
    "type": "object",
    "description": "RFC 7591 §2 client metadata (this server takes the fields below).",
    "properties": {
        "redirect_uris": {"type": "array", "items": _STR},
        "token_endpoint_auth_method": _enum(AuthMethod),
        "grant_types": {"type": "array", "items": _STR},
        "response_types": {"type": "array", "items": _STR},
        "client_name": _STR,
        "client_uri": _STR,
        "logo_uri": _STR,
        "scope": _STR,
        "contacts": {"type": "array", "items": _STR},
        "tos_uri": _STR,
        "policy_uri": _STR,
        "software_id": _STR,
        "software_version": _STR,
    },
}

_SCHEMAS: dict[str, Any] = {
    "ClientMetadata": _CLIENT_METADATA,
    "ClientInformation": {
        "type": "object",
        "description": "The registered metadata, the client_id, and how to manage it (RFC 7592)."
        " `client_secret` only for client_secret_* methods, `registration_access_token` only "
        "in the answer to the registration.",
        "required": ["client_id", "client_id_issued_at", "registration_client_uri"],
        "properties": {
            **_CLIENT_METADATA["properties"],
            "client_id": _STR,
            "client_id_issued_at": _INT,
            "client_secret": _STR,
            "client_secret_expires_at": _INT,
            "registration_access_token": _STR,
            "registration_client_uri": _STR,
        },
    },
    "RfcError": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": _STR, "error_description": _STR, "error_uri": _STR},
    },
    "CozeError": {
        "type": "object",
        "description": "Both pairs: Coze's `error_code`/`error_message` and RFC 6749's.",
        "required": ["error_code", "error_message", "error", "error_description"],
        "properties": {
            "error_code": _STR,
            "error_message": {"type": "string", "minLength": 1},
            "error": _STR,
            "error_description": _STR,
        },
    },
    "TokenResponse": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in"],
        "additionalProperties": False,
        "properties": {
            "access_token": _STR,
            "token_type": {"const": "Bearer"},
            "expires_in": {**_INT, "description": "Seconds from now", "minimum": 1},
            "refresh_token": _STR,
            "scope": _STR,
        },
    },
    "CozeTokenResponse": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in"],
        "additionalProperties": False,
        "properties": {
            "access_token": _STR,
            "token_type": {"const": "Bearer"},
            "expires_in": {**_INT, "description": "Absolute UNIX time of expiry"},
            "refresh_token": _STR,
        },
    },
    "DeviceAuthorization": {
        "type": "object",
        "required": ["device_code", "user_code", "verification_uri", "expires_in", "interval"],
        "additionalProperties": False,
        "properties": {
            "device_code": _STR,
            "user_code": {
                "type": "string",
                "pattern": _USER_CODE_PATTERN,
            },
            "verification_uri": _STR,
            "verification_uri_complete": _STR,
            "expires_in": {**_INT, "description": "Seconds from now (both dialects)"},
            "interval": _INT,
        },
    },
    "Introspection": {
        "oneOf": [
            {
                "type": "object",
                "required": ["active"],
                "additionalProperties": False,
                "properties": {"active": {"const": False}},
            },
            {
                "type": "object",
                "required": [
                    "active",
                    "client_id",
                    "scope",
                    "token_type",
                    "exp",
                    "iat",
                    "auth_type",
                    "app_type",
                    "tenant_id",
                ],  # fmt: skip
                "additionalProperties": False,
                "properties": {
                    "active": {"const": True},
                    "client_id": _STR,
                    "scope": _STR,
                    "token_type": {"enum": ["Bearer", "refresh_token"]},
                    "exp": _INT,
                    "iat": _INT,
                    "sub": {**_STR, "description": "The user (OBO tokens only)"},
                    "auth_type": _enum(OAUTH_AUTH_TYPES),
                    "app_type": _enum(ClientType),
                    "tenant_id": _STR,
                    "workspace_id": _STR,
                    "session_name": _STR,
                    "app_kind": _enum(AppKind),
                    "connector_id": {**_STR, "description": "A channel app's connector"},
                    "bot_id_list": {
                        "type": "array",
                        "items": _STR,
                        "description": "The bots a channel app's token was narrowed to; absent: "
                        "every bot published to the connector",
                    },
                },
            },
            {
                "type": "object",
                "description": "A service access token (SAT)",
                "required": [
                    "active",
                    "auth_type",
                    "token_type",
                    "tenant_id",
                    "scope",
                    "workspace_ids",
                ],
                "additionalProperties": False,
                "properties": {
                    "active": {"const": True},
                    "auth_type": {"const": AuthType.SAT.value},
                    "token_type": {"const": "Bearer"},
                    "tenant_id": _STR,
                    "scope": _STR,
                    "workspace_ids": {"type": "array", "items": _STR},
                    "exp": {**_INT, "description": "Absent when it never expires"},
                },
            },
        ]
    },
    "Revoked": {"type": "object", "maxProperties": 0},
    "Metadata": {
        "type": "object",
        "required": [
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "response_types_supported",
            "authorization_response_iss_parameter_supported",
        ],  # fmt: skip
        "properties": {
            "issuer": _STR,
            "authorization_endpoint": _STR,
            "token_endpoint": _STR,
            "device_authorization_endpoint": _STR,
            "introspection_endpoint": _STR,
            "revocation_endpoint": _STR,
            "response_types_supported": {"type": "array", "items": _STR},
            "grant_types_supported": {"type": "array", "items": _STR},
            "code_challenge_methods_supported": {"type": "array", "items": _STR},
            "authorization_response_iss_parameter_supported": {"const": True},
        },
    },
    "OpenApi": {"type": "object", "required": ["openapi", "paths"]},
}

_TOKEN_FIELDS: dict[str, Any] = {
    "grant_type": {"type": "string", **_enum(GrantType)},
    "code": _STR,
    "redirect_uri": _STR,
    "code_verifier": _STR,
    "refresh_token": _STR,
    "device_code": _STR,
    "client_id": _STR,
    "scope": _STR,
}

_RFC_TOKEN_BODY = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        **_TOKEN_FIELDS,
        "client_secret": {**_STR, "description": "client_secret_post"},
        "assertion": {**_STR, "description": "RFC 7523 JWT (service apps); at most 8 KiB"},
        "enterprise_id": {
            **_STR,
            "description": "JWT grant of an enterprise-privileged app: the enterprise (tenant) "
            "id; the only way such an app gets a token here, and refused for other apps",
        },
        "bot_id_list": {
            **_STR,
            "description": "JWT grant of a channel app: space-separated bot ids the token is "
            "narrowed to (400 `invalid_scope` for other apps)",
        },
    },
}
_SCOPE_OBJECT = {
    "type": ["object", "string", "null"],
    "description": "Coze's scope object. `account_permission.permission_list` narrows the "
    "token's permissions (never beyond the app's: 400 `invalid_scope`); "
    "`attribute_constraint.connector_bot_chat_attribute.bot_id_list` narrows a channel app's "
    "token to those bots (400 `invalid_scope` for other apps). Either part may be null; any "
    "other shape is a 400 `invalid_request`.",
    "additionalProperties": False,
    "properties": {
        "account_permission": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "required": ["permission_list"],
            "properties": {"permission_list": {"type": "array", "items": _STR, "minItems": 1}},
        },
        "attribute_constraint": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "required": ["connector_bot_chat_attribute"],
            "properties": {
                "connector_bot_chat_attribute": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["bot_id_list"],
                    "properties": {"bot_id_list": {"type": "array", "items": _STR, "minItems": 1}},
                }
            },
        },
        "workspace_permission": {"type": "null", "description": "Not supported: null only"},
    },
}
_COZE_TOKEN_BODY = {
    "type": "object",
    "required": ["grant_type"],
    "description": "The client secret or the JWT assertion travels as `Authorization: Bearer`.",
    "properties": {
        **_TOKEN_FIELDS,
        "duration_seconds": {"type": "integer", "minimum": 1, "maximum": MAX_JWT_DURATION},
        "scope": _SCOPE_OBJECT,
    },
}
_TOKEN_LINKS = {
    "IntrospectAccessToken": {
        "operationId": "rfcIntrospect",
        "requestBody": {"token": "$response.body#/access_token"},
    },
    "RefreshToken": {
        "operationId": "rfcToken",
        "requestBody": {
            "grant_type": GrantType.REFRESH_TOKEN.value,
            "refresh_token": "$response.body#/refresh_token",
        },
    },
    "RevokeRefreshToken": {
        "operationId": "rfcRevoke",
        "requestBody": {"token": "$response.body#/refresh_token"},
    },
}
_DEVICE_LINKS = {
    "PollDeviceCode": {
        "operationId": "rfcToken",
        "requestBody": {
            "grant_type": GrantType.DEVICE_CODE.value,
            "device_code": "$response.body#/device_code",
        },
    }
}


def _form(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


def _authorize(operation_id: str, dialect: str, path_params: list[str]) -> dict[str, Any]:
    query = [
        {"name": "response_type", "in": "query", "required": True, "schema": {"const": "code"}},
        {"name": "client_id", "in": "query", "required": True, "schema": _STR},
        {"name": "redirect_uri", "in": "query", "required": False, "schema": _STR},
        {"name": "state", "in": "query", "required": False, "schema": _STR},
        {"name": "scope", "in": "query", "required": False, "schema": _STR},
        {"name": "code_challenge", "in": "query", "required": False, "schema": _STR},
        {
            "name": "code_challenge_method",
            "in": "query",
            "required": False,
            "schema": _enum(CodeChallengeMethod),
        },
    ]
    path = [{"name": n, "in": "path", "required": True, "schema": _ID} for n in path_params]
    return {
        "get": {
            "operationId": operation_id,
            "tags": [dialect],
            "summary": "Authorization endpoint: 302 to sign-in and consent, or to the redirect URI "
            "with an error (and `iss`, RFC 9207)",
            "parameters": path + query,
            "responses": {
                "302": {
                    "description": "To the consent page, or the app's redirect URI with an error"
                },
                "400": {
                    "description": "No valid client or redirect URI: an error page, no redirect",
                    "content": {"text/html": {"schema": _STR}},
                },
                **(
                    {"404": _json("CozeError", "The workspace id is not an id")}
                    if path_params
                    else {}
                ),
                "503": {
                    "description": "The database or Redis cannot answer",
                    "content": {"text/html": {"schema": _STR}},
                },
            },
        }
    }


def _post(
    operation_id: str,
    dialect: str,
    summary: str,
    body: dict[str, Any],
    ok: str,
    errors: tuple[int, ...],
    *,
    security: list[dict[str, list]] | None = None,
    links: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    shape = "CozeError" if dialect == "coze" else "RfcError"
    responses: dict[str, Any] = {"200": _json(ok, "Success")}
    if links:
        responses["200"]["links"] = links
    responses.update(_errors(shape, *errors))
    for status in ("429", "503"):
        if status in responses:
            responses[status]["headers"] = _RETRY_AFTER
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [dialect],
        "summary": summary,
        "requestBody": body,
        "responses": responses,
        "security": security if security is not None else [{}],
    }
    if parameters:
        operation["parameters"] = parameters
    return {"post": operation}


_ID = {"type": "string", "pattern": ID_PATTERN}


def _path_id(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": _ID}]


def _configuration() -> dict[str, Any]:
    """RFC 7592: read, update and delete a registration with its registration access token."""
    refused = _errors("RfcError", 400, 401, 404, 503)
    common = {
        "tags": ["rfc"],
        "security": [{"registrationToken": []}],
        "parameters": _path_id("client_id"),
    }
    return {
        "get": {
            **common,
            "operationId": "rfcReadRegistration",
            "summary": "Read a registration (RFC 7592)",
            "responses": {"200": _json("ClientInformation", "The registration"), **refused},
        },
        "put": {
            **common,
            "operationId": "rfcUpdateRegistration",
            "summary": "Replace a registration's metadata (RFC 7592); `client_id` in the body",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ClientMetadata")}},
            },
            "responses": {
                "200": _json("ClientInformation", "The registration"),
                **refused,
                "400": _json("RfcError", "Invalid metadata or request"),
                **_errors("RfcError", 413),
            },
        },
        "delete": {
            **common,
            "operationId": "rfcDeleteRegistration",
            "summary": "Delete a registration for good (RFC 7592)",
            "responses": {"204": {"description": "Deleted"}, **refused},
        },
    }


def _coze_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": False,
        "content": {
            "application/json": {"schema": schema},
            "application/x-www-form-urlencoded": {"schema": schema},
        },
    }


def document(issuer: str) -> dict[str, Any]:
    """The OpenAPI document, with this server's issuer as its server URL."""
    coze_token_errors = (400, 401, 413, 429, 503)
    device_body = {
        "type": "object",
        "properties": {"client_id": _STR, "scope": _STR},
    }
    paths: dict[str, Any] = {
        "/.well-known/oauth-authorization-server": {
            "get": {
                "operationId": "metadata",
                "tags": ["rfc"],
                "summary": "RFC 8414 authorization server metadata",
                "security": [],
                "responses": {"200": _json("Metadata", "The metadata")},
            }
        },
        "/oauth/openapi.json": {
            "get": {
                "operationId": "oauthOpenapi",
                "tags": ["rfc"],
                "summary": "This document",
                "security": [],
                "responses": {"200": _json("OpenApi", "The OpenAPI document")},
            }
        },
        "/oauth/authorize": _authorize("rfcAuthorize", "rfc", []),
        "/oauth/token": _post(
            "rfcToken",
            "rfc",
            "Token endpoint (RFC 6749, 7636, 8628, 7523); form-encoded, each parameter once",
            _form(_RFC_TOKEN_BODY),
            "TokenResponse",
            (400, 401, 413, 429, 503),
            security=[{}, {"clientBasic": []}],
            links=_TOKEN_LINKS,
        ),
        "/oauth/device_authorization": _post(
            "rfcDeviceAuthorization",
            "rfc",
            "Device authorization (RFC 8628 §3.1), device apps",
            _form(device_body),
            "DeviceAuthorization",
            (400, 401, 413, 503),
            links=_DEVICE_LINKS,
        ),
        "/oauth/introspect": _post(
            "rfcIntrospect",
            "rfc",
            "Introspection (RFC 7662) for registered resource servers, HTTP Basic",
            _form(
                {
                    "type": "object",
                    "required": ["token"],
                    "properties": {"token": _STR, "token_type_hint": _STR},
                }
            ),
            "Introspection",
            (400, 401, 413, 429, 503),
            security=[{"resourceServerBasic": []}],
        ),
        "/oauth/revoke": _post(
            "rfcRevoke",
            "rfc",
            "Revocation (RFC 7009): an app revokes its own tokens",
            _form(
                {
                    "type": "object",
                    "required": ["token"],
                    "properties": {
                        "token": _STR,
                        "token_type_hint": _STR,
                        "client_id": _STR,
                        "client_secret": _STR,
                    },
                }
            ),
            "Revoked",
            (400, 401, 413, 503),
            security=[{}, {"clientBasic": []}],
        ),
        "/oauth/register": {
            "post": {
                "operationId": "rfcRegister",
                "tags": ["rfc"],
                "summary": "Dynamic client registration (RFC 7591); open unless "
                "OAUTH_REGISTRATION=off (then 404), limited per address",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ClientMetadata")}},
                },
                "security": [{}],
                "responses": {
                    "201": _json("ClientInformation", "Registered"),
                    "400": _json("RfcError", "`invalid_redirect_uri` or `invalid_client_metadata`"),
                    **_errors("RfcError", 404, 413, 429, 503),
                },
            }
        },
        "/oauth/register/{client_id}": _configuration(),
        "/api/permission/oauth2/authorize": _authorize("cozeAuthorize", "coze", []),
        "/api/permission/oauth2/workspace_id/{workspace_id}/authorize": _authorize(
            "cozeWorkspaceAuthorize", "coze", ["workspace_id"]
        ),
        "/api/permission/oauth2/token": _post(
            "cozeToken",
            "coze",
            "Token endpoint, Coze dialect: JSON, `expires_in` absolute",
            _coze_body(_COZE_TOKEN_BODY),
            "CozeTokenResponse",
            coze_token_errors,
            security=[{}, {"bearer": []}],
        ),
        "/api/permission/oauth2/account/{account_id}/token": _post(
            "cozeAccountToken",
            "coze",
            "JWT grant for a tenant that installed another tenant's service app",
            _coze_body(_COZE_TOKEN_BODY),
            "CozeTokenResponse",
            (*coze_token_errors, 404),
            security=[{"bearer": []}],
            parameters=_path_id("account_id"),
        ),
        "/api/permission/oauth2/enterprise_id/{enterprise_id}/token": _post(
            "cozeEnterpriseToken",
            "coze",
            "JWT grant of an enterprise-privileged app, the only path that serves one; "
            "`enterprise_id` is the tenant's id (other apps: 400 `access_deny`)",
            _coze_body(_COZE_TOKEN_BODY),
            "CozeTokenResponse",
            coze_token_errors,
            security=[{"bearer": []}],
            parameters=_path_id("enterprise_id"),
        ),
        "/api/permission/oauth2/device/code": _post(
            "cozeDeviceCode",
            "coze",
            "Device authorization, Coze dialect",
            _coze_body(device_body),
            "DeviceAuthorization",
            (400, 401, 413, 503),
        ),
        "/api/permission/oauth2/workspace_id/{workspace_id}/device/code": _post(
            "cozeWorkspaceDeviceCode",
            "coze",
            "Device authorization for one workspace, Coze dialect",
            _coze_body(device_body),
            "DeviceAuthorization",
            (400, 401, 404, 413, 503),
            parameters=_path_id("workspace_id"),
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OAuth endpoints (RFC and Coze dialects)",
            "version": "1.0.0",
            "description": (
                "The RFC dialect takes form bodies and answers RFC 6749 errors "
                '(`{"error", "error_description"}`) with relative `expires_in`. The Coze dialect '
                "takes JSON (or form) bodies, the client secret or JWT assertion as "
                "`Authorization: Bearer`, answers errors with `error_code`/`error_message` and "
                "`error`/`error_description`, and gives token `expires_in` as an absolute UNIX "
                "time. Rate limits answer 429 with `Retry-After`."
            ),
        },
        "servers": [{"url": issuer}],
        "paths": paths,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "clientBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "client_id:secret",
                },
                "resourceServerBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "A resource server's id and secret",
                },
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A web app's client secret, or a service app's JWT assertion",
                },
                "registrationToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The registration access token (RFC 7592)",
                },
            },
        },
    }
