"""The one Authlib AuthorizationServer both dialects drive, and the token generator it uses."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import JsonRequest, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import Flask, current_app, g
from flask import request as flask_request

from grants.authorization_code import PKCE, AuthorizationCodeGrant
from grants.clients import Client
from grants.device_code import DeviceAuthorization, DeviceGrant
from grants.errors import AccessRefused
from grants.jwt_bearer import JWTBearerGrant
from grants.refresh_token import RefreshTokenGrant
from grants.secrets import ACCESS_TOKEN_SERVICE, ACCESS_TOKEN_USER, REFRESH_TOKEN, new_secret
from server import metrics
from server.oauth.endpoints import Revocation
from server.oauth.registration import Configuration, Registration
from server.oauth.storage import SqlStorage


@dataclass(frozen=True, slots=True)
class CoreResult:
    """What the core answers; each dialect renders it in its own shape. `error` is what was
    raised, for a dialect that words some errors its own way (the Coze dialect's denials)."""

    status: int
    body: dict[str, Any]
    headers: list[tuple[str, str]]
    error: OAuth2Error | None = None


class DialectRequest(OAuth2Request):
    """An OAuth request whose parameters a dialect adapter has already extracted."""

    def __init__(self, method: str, uri: str, headers: Any, data: dict[str, Any], datalist=None):
        super().__init__(method, uri, headers=headers)
        self.payload = BasicOAuth2Payload(data)
        if datalist is not None:
            self.payload._datalist = datalist
        self._data = data
        # RFC 8707 `resource`, repeatable: a list (form and query) or one value (JSON bodies);
        # anything but strings is refused as invalid_target by the grants.
        resource = data.get("resource")
        self.resources: list = [] if resource is None else resource
        if not isinstance(self.resources, list):
            self.resources = [resource]
        self.issue_context = None
        self.target_tenant_id: int | None = None
        self.workspace_id: int | None = None

    @property
    def args(self) -> dict[str, Any]:
        return self._data

    @property
    def form(self) -> dict[str, Any]:
        return self._data


class OAuthServer(AuthorizationServer):
    def init_app(self, app: Flask) -> None:  # type: ignore[override]
        self.settings = app.config
        super().init_app(app)
        self.register_token_generator("default", self._generate_token)
        self.register_grant(
            AuthorizationCodeGrant, [PKCE(require_s256=app.config["PKCE_REQUIRE_S256"])]
        )
        self.register_grant(RefreshTokenGrant)
        self.register_grant(DeviceGrant)
        self.register_grant(JWTBearerGrant)
        self.register_endpoint(DeviceAuthorization)
        self.register_endpoint(Revocation)
        self.register_endpoint(Registration)
        self.register_endpoint(Configuration)

    @property
    def storage(self) -> SqlStorage:
        # One lookup through the context-local `g` (asked about a dozen times per issuance).
        storage: SqlStorage | None = g.get("oauth_storage")
        if storage is None:
            storage = g.oauth_storage = SqlStorage(self.settings)
        return storage

    def query_client(self, client_id: str) -> Client | None:
        return self.storage.client(client_id)

    def save_token(self, token: dict[str, Any], request: DialectRequest) -> None:
        self.storage.save_token(token, request.issue_context, int(time.time()))
        metrics.token_issued(request.payload.grant_type, request.issue_context.auth_type)

    def _generate_token(
        self,
        grant_type: str,
        client: Client,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        for_user = client.type.signs_users_in  # OBO: the user's prefix, and a refresh token
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": new_secret(ACCESS_TOKEN_USER if for_user else ACCESS_TOKEN_SERVICE),
            "expires_in": expires_in or self.settings["ACCESS_TOKEN_TTL"],
        }
        if include_refresh_token and for_user:
            token["refresh_token"] = new_secret(REFRESH_TOKEN)
        if scope:
            token["scope"] = scope
        return token

    def create_json_request(self, request: Any) -> JsonRequest:
        return request  # built by the view (json_request_from_flask)

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return request_from_flask(flask_request.values.to_dict())

    def handle_response(self, status: int, body: Any, headers: Any) -> CoreResult:  # type: ignore[override]
        headers = list(headers or [])
        if status == 302:
            # RFC 9207: every authorization response, errors included, names its issuer.
            headers = [
                (name, add_params_to_uri(value, [("iss", self.settings["OAUTH_ISSUER"])]))
                if name == "Location"
                else (name, value)
                for name, value in headers
            ]
        return CoreResult(status, body if isinstance(body, dict) else {}, headers)

    def handle_error_response(self, request: Any, error: OAuth2Error) -> CoreResult:
        if isinstance(error, AccessRefused):
            metrics.refused(error.denial)
        result: CoreResult = super().handle_error_response(request, unreflected(error))
        return replace(result, error=error)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal receivers: audit and revocation effects live in the storage calls."""


# Authlib words these errors with the caller's own value; ours say the same without it.
_OWN_WORDS = {
    "unsupported_response_type": "The response type is not supported.",
    "unsupported_grant_type": "The grant type is not supported.",
}


def unreflected(error: OAuth2Error) -> OAuth2Error:
    """The error with a description that quotes nothing the caller sent."""
    words = _OWN_WORDS.get(error.error or "")
    if words is None and (error.description or "").startswith("Redirect URI "):
        words = "The redirect URI is not registered for this client."
    if words is None:
        return error
    plain = OAuth2Error(
        description=words,
        status_code=error.status_code,
        state=error.state,
        redirect_uri=error.redirect_uri,
        error=error.error,
    )
    return plain


def request_from_flask(data: dict[str, Any], datalist=None) -> DialectRequest:
    """Build the core request from the Flask request with already-extracted parameters.

    The URI is built on the configured issuer, not on the address this process was reached at,
    so a TLS-terminating proxy in front does not make Authlib see plain HTTP.
    """
    uri = current_app.config["OAUTH_ISSUER"] + flask_request.path
    return DialectRequest(flask_request.method, uri, flask_request.headers, data, datalist)


class _JsonPayload:
    def __init__(self, data: Any) -> None:
        self.data = data


def json_request_from_flask(data: Any, **attributes: Any) -> JsonRequest:
    """A JSON request (RFC 7591/7592) whose body the view has already parsed."""
    uri = current_app.config["OAUTH_ISSUER"] + flask_request.path
    built = JsonRequest(flask_request.method, uri, flask_request.headers)
    built.payload = _JsonPayload(data)
    for name, value in attributes.items():
        setattr(built, name, value)
    return built
