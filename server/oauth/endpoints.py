"""Introspection (RFC 7662) for resource servers and revocation (RFC 7009) for apps.

Introspection reads the token with its app, tenant, installation and consent in one query and
asks the access rule; Authlib's own payload would only look at expiry and revocation.
"""

from __future__ import annotations

import time
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from sqlalchemy import and_, select

from grants.access import AppView, InstallationView, TokenView, token_denial
from grants.secrets import digest
from server.credentials import authenticate_resource_server
from server.extensions import db
from server.models import App, Authorization, Installation, OAuthToken, Tenant

_INACTIVE = {"active": False}


def _lookup(column: Any, value: str) -> Any:
    return db.session.execute(
        select(
            OAuthToken,
            App.client_type,
            App.status,
            Tenant.edition,
            Installation.id,
            Installation.kind,
            Installation.status,
            Authorization.id,
        )
        .outerjoin(App, App.client_id == OAuthToken.client_id)
        .outerjoin(Tenant, Tenant.id == OAuthToken.tenant_id)
        .outerjoin(
            Installation,
            and_(
                Installation.tenant_id == OAuthToken.tenant_id,
                Installation.client_id == OAuthToken.client_id,
            ),
        )
        .outerjoin(
            Authorization,
            and_(
                Authorization.user_id == OAuthToken.user_id,
                Authorization.client_id == OAuthToken.client_id,
            ),
        )
        .where(column == value)
    ).first()


def introspect(token: str, hint: str | None = None) -> dict[str, Any]:
    """The RFC 7662 answer for a token string: its claims if active, else only active=false."""
    if not isinstance(token, str) or not token or len(token) > 256:
        return dict(_INACTIVE)
    value = digest(token)
    kinds = ("refresh", "access") if hint == "refresh_token" else ("access", "refresh")
    for kind in kinds:
        column = OAuthToken.access_token_hash if kind == "access" else OAuthToken.refresh_token_hash
        row = _lookup(column, value)
        if row is not None:
            return _payload(row, is_refresh=kind == "refresh")
    return dict(_INACTIVE)


def _payload(row: Any, *, is_refresh: bool) -> dict[str, Any]:
    tok: OAuthToken = row[0]
    client_type, app_status, edition = row[1], row[2], row[3]
    expires_at = (tok.refresh_expires_at or 0) if is_refresh else tok.expires_at
    view = TokenView(
        auth_type=tok.auth_type,
        tenant_edition=edition,
        expires_at=expires_at,
        revoked=tok.refresh_revoked if is_refresh else tok.revoked,
        installation_id=tok.installation_id,
        authorization_id=tok.authorization_id,
    )
    denial = token_denial(
        view,
        AppView(tok.client_id, client_type, app_status) if client_type else None,
        installation=InstallationView(row[4], row[5], row[6]) if row[4] is not None else None,
        authorization_id=row[7],
        now=int(time.time()),
    )
    if denial:
        return dict(_INACTIVE)
    payload: dict[str, Any] = {
        "active": True,
        "client_id": tok.client_id,
        "scope": tok.scope,
        "token_type": "refresh_token" if is_refresh else "Bearer",
        "exp": expires_at,
        "iat": tok.issued_at,
        "auth_type": tok.auth_type,
        "app_type": client_type,
        "tenant_id": str(tok.tenant_id),
    }
    if tok.user_id is not None:
        payload["sub"] = str(tok.user_id)
    if tok.workspace_id is not None:
        payload["workspace_id"] = str(tok.workspace_id)
    if tok.session_name is not None:
        payload["session_name"] = tok.session_name
    return payload


class Introspection(IntrospectionEndpoint):
    """Callable only by registered resource servers, with HTTP Basic."""

    def authenticate_endpoint_client(self, request: Any) -> Any:
        server_id, secret = extract_basic_authorization(request.headers)
        resource_server = (
            authenticate_resource_server(server_id, secret) if server_id and secret else None
        )
        if resource_server is None:
            raise InvalidClientError(
                status_code=401, description="Resource server authentication failed."
            )
        return resource_server

    def create_endpoint_response(self, request: Any) -> tuple[int, dict[str, Any], list]:
        self.authenticate_endpoint_client(request)
        token = request.form.get("token")
        if not token:
            raise InvalidRequestError("Missing 'token'.")
        hint = request.form.get("token_type_hint")
        return 200, introspect(token, hint), [("Content-Type", "application/json")]


class Revocation(RevocationEndpoint):
    """An app revokes its own tokens; a refresh token takes its whole family with it."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        found = self.server.storage.find_token(token_string, token_type_hint)
        return _Revocable(*found) if found else None

    def revoke_token(self, token: Any, request: Any) -> None:
        storage = self.server.storage
        if token.is_refresh:
            storage.revoke_family(token.row.family_id)
        else:
            storage.revoke_access_token(token.row.id)


class _Revocable:
    def __init__(self, row: OAuthToken, is_refresh: bool) -> None:
        self.row = row
        self.is_refresh = is_refresh

    def check_client(self, client: Any) -> bool:
        return self.row.client_id == client.client_id
