"""Refresh token grant: rotation on every use, and reuse of a rotated token revokes its family."""

from __future__ import annotations

import dataclasses
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, grants

from grants.base import GrantSupport
from grants.storage import IssueContext, RefreshRecord
from grants.vocabulary import ANY_AUTH_METHOD


class RefreshTokenGrant(GrantSupport, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_AUTH_METHOD
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_token_endpoint_client(self) -> Any:
        # The token is read first, with its app, so that authenticating the app reads no row of
        # its own: one round trip for both. Nothing is decided on it until the app is.
        self.storage.find_refresh(self.request.form.get("refresh_token"))
        return super().authenticate_token_endpoint_client()

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshRecord | None:
        record = self.storage.find_refresh(refresh_token)
        if record is None or record.context.client_id != self.request.client.client_id:
            return None
        if record.rotated:
            # RFC 9700 §4.14.2: a rotated token came back, so one of its holders is an
            # attacker; end the whole family.
            self.storage.revoke_family(record.context.family_id)
            return None
        if record.expires_at <= self.now():
            return None
        return record

    def validate_token_request(self) -> None:
        super().validate_token_request()
        record: RefreshRecord = self.request.refresh_token
        # A disabled app is refused here, before rotation: its refresh token stays usable.
        self.enforce_access(record.context)
        scope = self.request.payload.scope or record.context.scope
        # Narrowed before the rotation below, so a refused widening leaves the token usable.
        resources = self.audience(record.context.resources or [])
        # Retired when the new token is saved, in the same statement (save_token below).
        self.request.issue_context = dataclasses.replace(
            record.context, scope=scope, audience=resources, rotates=record.token_id
        )

    def save_token(self, token: dict[str, Any]) -> None:
        context: IssueContext = self.request.issue_context
        if not self.storage.save_token(token, context, self.now()):
            # Another request rotated it a moment ago: the same reuse, seen concurrently.
            self.storage.revoke_family(context.family_id)
            raise InvalidGrantError("The refresh token has already been used.")

    def authenticate_user(self, refresh_token: RefreshRecord) -> int | None:
        return refresh_token.context.user_id

    def revoke_old_credential(self, refresh_token: Any) -> None:
        """Nothing left to do: save_token retired it atomically."""
