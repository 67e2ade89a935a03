"""Introspection (RFC 7662) for resource servers and revocation (RFC 7009) for apps.

Introspection reads the resource server's credentials and the token with its app, tenant,
installation, consent and the user's membership in one statement, then asks the access rule;
Authlib's own payload would only look at expiry and revocation.
"""

from __future__ import annotations

import time
from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint

from grants.access import AppView, InstallationView, ServiceTokenView, TokenView, check_token
from grants.secrets import REFRESH_TOKEN, SERVICE_ACCESS_TOKEN, digest, matches
from grants.storage import Standing
from grants.vocabulary import ANY_AUTH_METHOD, AppKind, AuthType
from server import metrics
from server.extensions import db
from server.models import OAuthToken
from server.oauth import statements as sql

_INACTIVE = {"active": False}
_NO_SECRET = digest("")
MAX_TOKEN_LENGTH = 256


def introspect(token: str, hint: str | None = None) -> dict[str, Any]:
    """The RFC 7662 answer for a token string: its claims if active, else only active=false.

    `hint` (RFC 7662 §2.1) is not needed: the token's own prefix says what kind it is.
    """
    if not _plausible(token):
        return dict(_INACTIVE)
    value = digest(token)
    kind = _kind(token)
    row = sql.INTROSPECT[kind].read_one({"digest": value})
    if row is None:
        return dict(_INACTIVE)
    return _sat_payload(row) if kind == "sat" else _payload(row, value)


def introspect_for(server_id: str, secret: str, token: str) -> dict[str, Any] | None:
    """Authenticate the resource server and introspect the token in one round trip; None when
    the credentials are wrong (whatever the token)."""
    plausible = _plausible(token)
    value = digest(token) if plausible else ""
    kind = _kind(token) if plausible else "access"
    row = sql.INTROSPECT_FOR[kind].read_one({"server_id": server_id, "digest": value})
    # Compare even when the id is unknown, so timing does not tell which ids exist.
    if not matches(secret, row.caller_secret_hash if row is not None else _NO_SECRET):
        return None
    if kind == "sat":
        return _sat_payload(row) if row.sat_id is not None else dict(_INACTIVE)
    if row is None or row.access_token_hash is None or not value:
        return dict(_INACTIVE)
    return _payload(row, value, row.caller_resources or ())


def _kind(token: str) -> str:
    if token.startswith(SERVICE_ACCESS_TOKEN):
        return "sat"
    return "refresh" if token.startswith(REFRESH_TOKEN) else "access"


SAT_LAST_USED_GRANULARITY = 60  # seconds


def _sat_payload(row: Any) -> dict[str, Any]:
    """A service access token's answer: active while the access rule says so."""
    now = int(time.time())
    view = ServiceTokenView(row.expires_at, row.tenant_row is not None, row.workspaces_missing)
    if check_token(view, now=now):
        return dict(_INACTIVE)
    if row.last_used_at is None or row.last_used_at < now - SAT_LAST_USED_GRANULARITY:
        # "Last used" for the list, written at most once a minute per token.
        sql.SAT_USED.run(
            {"sat_id": row.sat_id, "stale": now - SAT_LAST_USED_GRANULARITY, "now": now}
        )
        db.session.commit()
    payload: dict[str, Any] = {
        "active": True,
        "auth_type": AuthType.SAT,
        "token_type": "Bearer",
        "tenant_id": str(row.tenant_id),
        "scope": " ".join(row.permissions or ()),
        "workspace_ids": [str(w) for w in row.workspace_ids or ()],
    }
    if row.expires_at is not None:
        payload["exp"] = row.expires_at
    return payload


def _plausible(token: Any) -> bool:
    return isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_LENGTH


def _payload(row: Any, value: str, caller_resources: Any = None) -> dict[str, Any]:
    is_refresh = row.access_token_hash != value
    expires_at = (row.refresh_expires_at or 0) if is_refresh else row.expires_at
    view = TokenView(
        auth_type=row.auth_type,
        tenant_edition=row.edition,
        expires_at=expires_at,
        revoked=row.refresh_revoked if is_refresh else row.revoked,
        installation_id=row.installation_id,
        authorization_id=row.authorization_id,
        connector_binding=row.connector_binding,
        audience=tuple(row.audience or ()),
    )
    installation = (
        InstallationView(row.installation_row, row.installation_kind, row.installation_status)
        if row.installation_row is not None
        else None
    )
    app = (
        AppView(
            row.client_id,
            row.client_type,
            row.app_status,
            row.app_kind,
            row.app_connector_binding,
        )
        if row.client_type
        else None
    )
    standing = Standing(
        row.edition, installation, row.authorization_row, member=row.member_role is not None
    )
    denial = check_token(
        view, app, standing, now=int(time.time()), caller_resources=caller_resources
    )
    if denial:
        metrics.refused(denial)
        return dict(_INACTIVE)
    payload: dict[str, Any] = {
        "active": True,
        "client_id": row.client_id,
        "scope": row.scope,
        "token_type": "refresh_token" if is_refresh else "Bearer",
        "exp": expires_at,
        "iat": row.issued_at,
        "auth_type": row.auth_type,
        "app_type": row.client_type,
        "tenant_id": str(row.tenant_id),
    }
    if row.user_id is not None:
        payload["sub"] = str(row.user_id)
    if row.workspace_id is not None:
        payload["workspace_id"] = str(row.workspace_id)
    if row.session_name is not None:
        payload["session_name"] = row.session_name
    payload["app_kind"] = row.app_kind
    if row.app_kind == AppKind.CHANNEL:
        payload["connector_id"] = str(row.connector_id)
        if row.bot_ids:
            payload["bot_id_list"] = list(row.bot_ids)
    if row.audience:
        payload["aud"] = row.audience[0] if len(row.audience) == 1 else row.audience
    return payload


class Revocation(RevocationEndpoint):
    """An app revokes its own tokens; a refresh token takes its whole family with it."""

    CLIENT_AUTH_METHODS = ANY_AUTH_METHOD

    def check_params(self, request: Any, client: Any) -> None:
        # RFC 7009 §2.1: a hint the server does not know is ignored, the search goes on.
        if request.form.get("token_type_hint") not in (None, "access_token", "refresh_token"):
            request.form.pop("token_type_hint")
        super().check_params(request, client)

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
