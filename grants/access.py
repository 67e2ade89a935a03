"""The access rule: the one place that says whether an app may act right now.

Plain functions over plain values. Every path asks here: each grant's issuance (code exchange,
refresh, device polling, JWT assertion), the authorize, consent and device pages, introspection,
revocation and resource protection. Callers load the current rows and pass them in; nothing here
caches, so a change committed by any process is obeyed by the very next call everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

EDITIONS = ("personal", "team", "enterprise")
ROLES = ("super_admin", "admin", "member")
ADMIN_ROLES = ("super_admin", "admin")
CLIENT_TYPES = ("web", "pkce", "device", "service")
OBO_CLIENT_TYPES = ("web", "pkce", "device")
AUTH_TYPES = ("obo", "appauth")


class Denial(StrEnum):
    """Why access is refused; dialects map these to their own error codes."""

    APP_MISSING = "app_missing"
    APP_DISABLED = "app_disabled"
    WRONG_CLIENT_TYPE = "wrong_client_type"
    NOT_INSTALLED = "not_installed"
    INSTALL_PENDING = "install_pending"
    NOT_AUTHORIZED = "not_authorized"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_REVOKED = "token_revoked"
    SUPERSEDED = "superseded"  # issued under an installation or consent that has since ended


@dataclass(frozen=True, slots=True)
class AppView:
    client_id: str
    client_type: str
    status: str


@dataclass(frozen=True, slots=True)
class InstallationView:
    id: int
    kind: str
    status: str


@dataclass(frozen=True, slots=True)
class TokenView:
    auth_type: str
    tenant_edition: str
    expires_at: int
    revoked: bool
    installation_id: int | None
    authorization_id: int | None


def auth_type_of(client_type: str) -> str:
    return "appauth" if client_type == "service" else "obo"


def needs_installation(auth_type: str, tenant_edition: str) -> bool:
    """AppAuth always acts under an installation; OBO only in team/enterprise tenants."""
    return auth_type == "appauth" or tenant_edition != "personal"


def app_may_act(app: AppView | None, *, auth_type: str | None = None) -> Denial | None:
    """The app exists, is enabled and (when given) is of a type that makes such tokens."""
    if app is None:
        return Denial.APP_MISSING
    if auth_type is not None and auth_type_of(app.client_type) != auth_type:
        return Denial.WRONG_CLIENT_TYPE
    if app.status != "enabled":
        return Denial.APP_DISABLED
    return None


def may_issue(
    app: AppView | None,
    *,
    auth_type: str,
    tenant_edition: str,
    installation: InstallationView | None,
    authorization_id: int | None,
) -> Denial | None:
    """May `app` be issued a new token (or code, or device approval) in this tenant now?

    `installation` is the app's current installation in the tenant (if any) and
    `authorization_id` the user's current consent (OBO only).
    """
    denial = app_may_act(app, auth_type=auth_type)
    if denial:
        return denial
    if needs_installation(auth_type, tenant_edition):
        if installation is None:
            return Denial.NOT_INSTALLED
        if installation.status != "installed":
            return Denial.INSTALL_PENDING
    if auth_type == "obo" and authorization_id is None:
        return Denial.NOT_AUTHORIZED
    return None


def token_active(
    token: TokenView | None,
    app: AppView | None,
    *,
    installation: InstallationView | None,
    authorization_id: int | None,
    now: int,
    expires_at: int | None = None,
    revoked: bool | None = None,
) -> Denial | None:
    """Is this token (access, or refresh when `expires_at`/`revoked` say so) usable now?

    The token must be live, its app enabled, and the installation and consent it was issued
    under must be the current ones: a reinstall or re-consent makes new ones, so tokens of
    the old never come back.
    """
    if token is None:
        return Denial.TOKEN_REVOKED
    if revoked if revoked is not None else token.revoked:
        return Denial.TOKEN_REVOKED
    if (expires_at if expires_at is not None else token.expires_at) <= now:
        return Denial.TOKEN_EXPIRED
    denial = app_may_act(app, auth_type=token.auth_type)
    if denial:
        return denial
    if needs_installation(token.auth_type, token.tenant_edition):
        if installation is None or installation.status != "installed":
            return Denial.NOT_INSTALLED
        if installation.id != token.installation_id:
            return Denial.SUPERSEDED
    if token.auth_type == "obo":
        if authorization_id is None:
            return Denial.NOT_AUTHORIZED
        if authorization_id != token.authorization_id:
            return Denial.SUPERSEDED
    return None
