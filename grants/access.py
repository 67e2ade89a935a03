"""The access rule: the one place that says whether an app may act right now.

Plain functions over plain values, and two entry points every path calls: `check_standing`
(each grant's issuance: code exchange, refresh, device polling, JWT assertion; the token
endpoint's and device endpoint's client check; the authorize, consent and device pages) reads
the current rows through the storage protocol, and `check_token` judges a token read with its
rows (introspection). Nothing here caches, so a change committed by any process is obeyed by
the very next call everywhere. Revocation asks nothing more: an app may always end its own
tokens (tests/test_access_rule.py says so cell by cell).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from grants.vocabulary import AppKind, AppStatus, AuthType, ClientType, Edition, InstallationStatus

if TYPE_CHECKING:
    from grants.storage import Standing, Storage


class Denial(StrEnum):
    """Why access is refused; dialects map these to their own error codes."""

    APP_MISSING = "app_missing"
    APP_DISABLED = "app_disabled"
    WRONG_CLIENT_TYPE = "wrong_client_type"
    NOT_INSTALLED = "not_installed"
    INSTALL_PENDING = "install_pending"
    NOT_AUTHORIZED = "not_authorized"
    NOT_MEMBER = "not_member"  # the user is no longer a member of the team/enterprise tenant
    TOKEN_EXPIRED = "token_expired"
    TOKEN_REVOKED = "token_revoked"
    SUPERSEDED = "superseded"  # issued under an installation or consent that has since ended
    NO_CONNECTOR = "no_connector"  # a channel app with no connector bound
    WRONG_PATH = "wrong_path"  # privileged apps only through the enterprise path, and only they
    WRONG_AUDIENCE = "wrong_audience"  # the resource server asking does not own the audience


@dataclass(frozen=True, slots=True)
class AppView:
    client_id: str
    client_type: str
    status: str
    app_kind: str = AppKind.NORMAL
    connector_binding: int | None = None  # channel apps: the current binding's generation


@dataclass(frozen=True, slots=True)
class InstallationView:
    id: int
    kind: str
    status: str


@dataclass(frozen=True, slots=True)
class TokenView:
    auth_type: str
    tenant_edition: str | None
    expires_at: int
    revoked: bool
    installation_id: int | None
    authorization_id: int | None
    connector_binding: int | None = None
    audience: tuple[str, ...] = ()  # RFC 8707 resources the token is for; () for any


@dataclass(frozen=True, slots=True)
class ServiceTokenView:
    """A service access token and what it reaches, as read at introspection."""

    expires_at: int | None  # None: never expires
    tenant_exists: bool
    workspaces_missing: int  # workspaces on its list that no longer exist in its tenant


def needs_membership(auth_type: str, tenant_edition: str) -> bool:
    """A user's delegated (OBO) access to a team/enterprise tenant lasts while they are a member."""
    return auth_type == AuthType.OBO and tenant_edition != Edition.PERSONAL


def needs_installation(auth_type: str, tenant_edition: str) -> bool:
    """AppAuth always acts under an installation; OBO only in team/enterprise tenants."""
    return auth_type == AuthType.APPAUTH or tenant_edition != Edition.PERSONAL


def app_may_act(app: AppView | None, *, auth_type: str | None = None) -> Denial | None:
    """The app exists, is enabled and (when given) is of a type that makes such tokens."""
    if app is None:
        return Denial.APP_MISSING
    if auth_type is not None and ClientType(app.client_type).auth_type != auth_type:
        return Denial.WRONG_CLIENT_TYPE
    if app.status != AppStatus.ENABLED:
        return Denial.APP_DISABLED
    return None


def kind_denial(
    app: AppView, *, enterprise_path: bool | None, connector_binding: int | None = None
) -> Denial | None:
    """What the app's kind requires: a privileged app acts only through the enterprise path and
    that path serves nothing else (`enterprise_path` None: not an issuance, nothing to check);
    a channel app needs a connector, and its tokens the binding they were issued under."""
    if enterprise_path is not None and enterprise_path != (app.app_kind == AppKind.PRIVILEGED):
        return Denial.WRONG_PATH
    if app.app_kind == AppKind.CHANNEL:
        if app.connector_binding is None:
            return Denial.NO_CONNECTOR
        if connector_binding is not None and connector_binding != app.connector_binding:
            return Denial.SUPERSEDED
    return None


def standing_denial(
    app: AppView | None,
    *,
    auth_type: str,
    tenant_edition: str | None,
    installation: InstallationView | None,
    authorization_id: int | None,
    member: bool,
    issued_under: tuple[int | None, int | None] | None = None,
    enterprise_path: bool | None = None,
    connector_binding: int | None = None,
) -> Denial | None:
    """May `app` act in this tenant (for this user) right now? None when it may.

    `installation` is the app's current installation in the tenant, `authorization_id` the
    user's current consent and `member` whether the user is a member of the tenant now (both
    OBO only; membership counts in team/enterprise tenants). `issued_under` is the (installation
    id, authorization id) a code, device approval, refresh token or access token was issued
    under: those must still be the current ones, so that a reinstall or re-consent never
    revives what was destroyed. (A member's removal deletes what was issued to them in the
    tenant, so a re-add revives nothing either.) `enterprise_path` and `connector_binding`:
    see kind_denial.
    """
    denial = app_may_act(app, auth_type=auth_type)
    if denial:
        return denial
    assert app is not None
    denial = kind_denial(app, enterprise_path=enterprise_path, connector_binding=connector_binding)
    if denial:
        return denial
    if tenant_edition is None:
        return Denial.NOT_INSTALLED
    if needs_installation(auth_type, tenant_edition):
        if installation is None:
            return Denial.NOT_INSTALLED
        if installation.status != InstallationStatus.INSTALLED:
            return Denial.INSTALL_PENDING
        if issued_under is not None and issued_under[0] != installation.id:
            return Denial.SUPERSEDED
    if needs_membership(auth_type, tenant_edition) and not member:
        return Denial.NOT_MEMBER
    if auth_type == AuthType.OBO:
        if authorization_id is None:
            return Denial.NOT_AUTHORIZED
        if issued_under is not None and issued_under[1] != authorization_id:
            return Denial.SUPERSEDED
    return None


def token_denial(
    token: TokenView,
    app: AppView | None,
    *,
    installation: InstallationView | None,
    authorization_id: int | None,
    member: bool,
    now: int,
    caller_resources: Collection[str] | None = None,
) -> Denial | None:
    """Is this token (access or refresh: the caller passes that one's expiry and revocation)
    usable now? None when it is active.

    `caller_resources` are the resource URIs of the resource server asking (None: no resource
    server asks). A token with an audience stands only for a resource server owning one of its
    URIs, so one resource server can neither use nor even see another's tokens; a resource
    server with no URIs sees only tokens without an audience."""
    if token.revoked:
        return Denial.TOKEN_REVOKED
    if token.expires_at <= now:
        return Denial.TOKEN_EXPIRED
    if (
        token.audience
        and caller_resources is not None
        and not any(uri in caller_resources for uri in token.audience)
    ):
        return Denial.WRONG_AUDIENCE
    return standing_denial(
        app,
        auth_type=token.auth_type,
        tenant_edition=token.tenant_edition,
        installation=installation,
        authorization_id=authorization_id,
        member=member,
        issued_under=(token.installation_id, token.authorization_id),
        # A channel app's token carries its binding; 0 stands for "none", which never matches.
        connector_binding=token.connector_binding or 0,
    )


def service_token_denial(token: ServiceTokenView, *, now: int) -> Denial | None:
    """Is this service access token usable now? (A revoked one no longer exists at all.)"""
    if token.expires_at is not None and token.expires_at <= now:
        return Denial.TOKEN_EXPIRED
    if not token.tenant_exists or token.workspaces_missing:
        return Denial.SUPERSEDED
    return None


# Entry points -------------------------------------------------------------------------------

# What a person's approval can still change: an admin's approval installs the app.
INSTALLATION_MISSING = (Denial.NOT_INSTALLED, Denial.INSTALL_PENDING)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The rule's answer (None: the app may act) and the rows it read, for the caller to issue
    under."""

    denial: Denial | None
    app: AppView | None
    standing: Standing | None  # None when no tenant was asked about, or the app was refused


def check_standing(
    storage: Storage,
    client_id: str,
    *,
    tenant_id: int | None = None,
    user_id: int | None = None,
    auth_type: str | None = None,
    issued_under: tuple[int | None, int | None] | None = None,
    enterprise_path: bool | None = None,
    connector_binding: int | None = None,
    consenting: bool = False,
) -> Verdict:
    """May the app act now, on the path that asks? Reads the current rows through `storage`.

    Without `tenant_id` (the authorize endpoint, device authorization, the token endpoint's
    client check, the device page before a workspace is chosen): the app alone, which exists and
    is enabled. With it: standing_denial over the app's installation there and, for `user_id`,
    their consent and membership. `consenting`: the person is giving their consent now (the
    consent and device pages), so a missing consent is not a refusal.
    """
    app = storage.app_view(client_id)
    denial = app_may_act(app, auth_type=auth_type)
    if denial or tenant_id is None or app is None:
        return Verdict(denial, app, None)
    standing = storage.standing(client_id, tenant_id, user_id)
    denial = standing_denial(
        app,
        auth_type=auth_type or ClientType(app.client_type).auth_type,
        tenant_edition=standing.tenant_edition,
        installation=standing.installation,
        authorization_id=standing.authorization_id,
        member=standing.member,
        issued_under=issued_under,
        enterprise_path=enterprise_path,
        connector_binding=connector_binding,
    )
    if consenting and denial == Denial.NOT_AUTHORIZED:
        denial = None  # the consent being given is the one that is missing (checked last)
    return Verdict(denial, app, standing)


def check_token(
    token: TokenView | ServiceTokenView,
    app: AppView | None = None,
    standing: Standing | None = None,
    *,
    now: int,
    caller_resources: Collection[str] | None = None,
) -> Denial | None:
    """Is this token active now? `app` and `standing` are the current rows of its app and of
    its tenant (read with the token); a service access token needs neither."""
    if isinstance(token, ServiceTokenView):
        return service_token_denial(token, now=now)
    return token_denial(
        token,
        app,
        installation=standing.installation if standing else None,
        authorization_id=standing.authorization_id if standing else None,
        member=standing.member if standing else False,
        now=now,
        caller_resources=caller_resources,
    )
