"""What the grants need from storage, as plain records and one Protocol.

The server implements it over SQL and Redis (server/oauth/storage.py); the grants never see
either. Every credential arrives here in clear text and is looked up by its digest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from grants.access import AppView, InstallationView
from grants.clients import Client


@dataclass(slots=True)
class IssueContext:
    """Everything a token is issued under; stored on the token and checked at every use."""

    client_id: str
    auth_type: str
    tenant_id: int
    workspace_id: int | None = None
    user_id: int | None = None
    installation_id: int | None = None
    authorization_id: int | None = None
    scope: str = ""
    session_name: str | None = None
    family_id: str = ""
    access_ttl: int | None = None
    connector_binding: int | None = None  # channel apps: the binding issued under
    bot_ids: list[str] | None = None  # channel apps: the bots a scope object narrowed to
    # RFC 8707: the grant's resources, and the ones this token is for (its audience).
    resources: list[str] | None = None
    audience: list[str] | None = None
    # A refresh: the row id of the refresh token this issuance rotates, retired together with
    # the new token's insert.
    rotates: int | None = None


@dataclass(frozen=True, slots=True)
class Standing:
    """The current rows the access rule reads for one app in one tenant (and for one user)."""

    tenant_edition: str | None
    installation: InstallationView | None
    authorization_id: int | None
    member: bool  # the user is a member of the tenant now


@dataclass(slots=True)
class CodeRecord:
    """An authorization code, already claimed for this exchange."""

    context: IssueContext
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.context.scope


@dataclass(slots=True)
class RefreshRecord:
    """A presented refresh token and what it was issued under."""

    token_id: int
    context: IssueContext
    expires_at: int
    rotated: bool

    def check_client(self, client: Client) -> bool:
        return self.context.client_id == client.client_id

    def get_scope(self) -> str:
        return self.context.scope


@dataclass(slots=True)
class DeviceRecord:
    id: int
    client_id: str
    scope: str
    status: str  # pending, approved, denied, used
    expires_at: int
    device_code_digest: str
    context: IssueContext | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def get_client_id(self) -> str:
        return self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_user_code(self) -> str:
        return ""


class Storage(Protocol):
    def client(self, client_id: str) -> Client | None: ...

    def app_view(self, client_id: str) -> AppView | None: ...

    def standing(self, client_id: str, tenant_id: int, user_id: int | None) -> Standing: ...

    def known_resources(self, uris: list[str]) -> set[str]:
        """Those of `uris` that a resource server registered."""

    def save_code(
        self,
        code: str,
        context: IssueContext,
        *,
        redirect_uri: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
        expires_at: int,
    ) -> None: ...

    def claim_code(self, code: str, client_id: str, now: int) -> CodeRecord | None:
        """Mark the code used and return it; None if unknown, expired or already used.
        A second use also revokes every token issued from the code."""

    def find_refresh(self, refresh_token: str) -> RefreshRecord | None: ...

    def revoke_family(self, family_id: str) -> int: ...

    def find_device_code(self, device_code: str) -> DeviceRecord | None: ...

    def claim_device_code(self, record_id: int) -> bool:
        """Approved → used, atomically; False if it was not approved any more."""

    def device_poll_interval(self, device_code_digest: str, ttl: int) -> int | None:
        """Record a poll; the new (longer) interval when it came too soon, else None."""

    def save_device_code(
        self,
        client_id: str,
        scope: str,
        device_code: str,
        user_code: str,
        workspace_id: int | None,
        resources: list[str] | None = None,
    ) -> bool:
        """Store a pending device code; False (nothing stored) if the user code is taken."""

    def service_key(self, client_id: str, kid: str) -> str | None:
        """The PEM of the app's registered public key with this kid."""

    def use_jti(self, client_id: str, jti: str, ttl: int) -> bool:
        """Record a JWT id as used until its expiry; False if it was already used."""

    def save_token(self, token: dict[str, object], context: IssueContext, now: int) -> bool:
        """Store the token; with `context.rotates`, only if this call retires that refresh
        token (atomically with the insert): False, nothing stored, if another request did."""
