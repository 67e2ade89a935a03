"""Request and response models of the management API; the OpenAPI document is built from them.

Requests are strict (no coercion) and closed (unknown fields are refused), with the same
length limits as the database, so what the document says is exactly what the code accepts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from grants.vocabulary import (
    ID_PATTERN,
    OAUTH_AUTH_TYPES,
    TEAM_EDITIONS,
    AppKind,
    AppStatus,
    ClientType,
    Edition,
    InstallationStatus,
    InvitationStatus,
    Registration,
    Role,
)
from keys.rsa import MAX_PEM_LENGTH
from server import audit, limits
from server.clients import previous_secret_until
from server.models import (
    App,
    AppKey,
    AuditEntry,
    Authorization,
    Connector,
    Installation,
    Invitation,
    Membership,
    ServiceToken,
    Tenant,
    User,
    Workspace,
)
from server.permissions import ALL_NAMES, NAMES

# No control characters (PostgreSQL refuses NUL; the others break logs and displays).
_LINE = r"^[^\x00-\x1f\x7f]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def one_of(values: Iterable[str]) -> Any:
    """A Literal of an enum's (or a tuple's) values: plain strings, as on the wire."""
    return Literal[tuple(str(v) for v in values)]


Name = Annotated[str, Field(min_length=1, max_length=limits.MAX_NAME_LENGTH, pattern=_LINE)]
Description = Annotated[str, Field(max_length=limits.MAX_DESCRIPTION_LENGTH, pattern=_TEXT)]
Email = Annotated[
    str,
    Field(min_length=limits.MIN_EMAIL_LENGTH, max_length=limits.MAX_EMAIL_LENGTH, pattern=_LINE),
]
RedirectUri = Annotated[
    str, Field(min_length=1, max_length=limits.MAX_REDIRECT_URI_LENGTH, pattern=_LINE)
]
RedirectUris = Annotated[list[RedirectUri], Field(max_length=limits.MAX_REDIRECT_URIS)]
PermissionName = one_of(ALL_NAMES)
Permissions = Annotated[list[PermissionName], Field(max_length=len(ALL_NAMES))]
StandardPermission = one_of(NAMES)
ClientTypeName = one_of(ClientType)
AppKindName = one_of(AppKind)
RoleName = one_of(Role)
Id = Annotated[str, Field(pattern=ID_PATTERN, description="a numeric id, as a string")]
RegistrationName = one_of(Registration)
TeamEdition = one_of(TEAM_EDITIONS)
EditionName = one_of(Edition)
InstallationKind = one_of(OAUTH_AUTH_TYPES)
InstallationStatusName = one_of(InstallationStatus)
InvitationStatusName = one_of(InvitationStatus)
AppStatusName = one_of(AppStatus)


def _owner(app: App) -> str | None:
    """The owning tenant's id; None for a self-registered app, which no tenant owns."""
    return str(app.tenant_id) if app.tenant_id is not None else None


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _optional() -> Any:
    """A field that may be left out but, when present, must have its type (null is refused)."""
    return Field(default=None, json_schema_extra=_no_default)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# Requests


class TenantCreate(Strict):
    name: Name
    edition: TeamEdition


class MemberCreate(Strict):
    email: Email
    role: RoleName = Role.MEMBER.value


class MemberUpdate(Strict):
    role: RoleName


class WorkspaceCreate(Strict):
    name: Name


class AppCreate(Strict):
    name: Name
    client_type: ClientTypeName
    description: Description = ""
    redirect_uris: RedirectUris = Field(
        default_factory=list,
        description="Required (one or more) for web and pkce apps; none for device and service.",
    )
    permissions: Permissions = Field(
        default_factory=list,
        description="From the catalogue of the app's kind: privileged apps take only the "
        "privileged catalogue (GET /permissions?app_kind=privileged), the others never.",
    )
    app_kind: AppKindName = Field(
        default=AppKind.NORMAL.value,
        description="normal, channel (bound to a connector before it gets tokens) or "
        "privileged (tokens only at the enterprise path; team and enterprise tenants only). "
        "channel and privileged apps are service apps. Never changes after creation.",
    )


class AppUpdate(Strict):
    name: Name = _optional()
    description: Description = _optional()
    redirect_uris: RedirectUris = _optional()
    permissions: Permissions = _optional()
    client_type: ClientTypeName = Field(
        default=None,
        json_schema_extra=_no_default,
        description="Accepted only when equal to the app's type; any other value is a 422.",
    )
    app_kind: AppKindName = Field(
        default=None,
        json_schema_extra=_no_default,
        description="Accepted only when equal to the app's kind; any other value is a 422.",
    )
    connector_id: Id | None = Field(
        default=None,
        json_schema_extra=_no_default,
        description="Channel apps: bind to a connector of the app's tenant; null unbinds. "
        "Any change ends the tokens issued under the previous binding.",
    )


class ConnectorCreate(Strict):
    name: Name
    description: Description = ""


class ConnectorUpdate(Strict):
    name: Name = _optional()
    description: Description = _optional()


class ServiceTokenCreate(Strict):
    name: Name
    permissions: Annotated[list[StandardPermission], Field(min_length=1, max_length=len(NAMES))]
    workspace_ids: Annotated[
        list[Id], Field(min_length=1, max_length=limits.MAX_SERVICE_TOKEN_WORKSPACES)
    ]
    expires_in_days: Annotated[int, Field(ge=1, le=limits.MAX_SERVICE_TOKEN_DAYS)] | None = Field(
        description="1, 30, 90 or 180 (the console's choices), any other number of days up to "
        f"{limits.MAX_SERVICE_TOKEN_DAYS}, or null for a token that never expires."
    )


class PermissionQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    app_kind: AppKindName = Field(
        default=AppKind.NORMAL.value,
        description="privileged: the enterprise administration catalogue of privileged apps; "
        "otherwise the catalogue of every other app.",
    )


class KeyCreate(Strict):
    public_key: Annotated[str, Field(max_length=MAX_PEM_LENGTH)] = Field(
        default=None,
        json_schema_extra=_no_default,
        description="PEM RSA public key (2048 bits or more). Left out: generate a pair.",
    )


class SecretRotate(Strict):
    grace_hours: int = Field(
        default=0,
        ge=0,
        le=limits.MAX_SECRET_GRACE_HOURS,
        description="Hours during which the old secret keeps working beside the new one "
        "(0, the default: it stops at once). POST `.../secret/retire` ends the grace early.",
    )


class InstallationPut(Strict):
    kind: InstallationKind


def _filter(kind: str, what: str, pattern: str, description: str, *, int64: bool = False) -> Any:
    """An optional query filter that must look like `pattern` (and, with `int64`, fit in a
    signed 64-bit id). Anything else cannot be parsed, as `limit=abc` cannot: a
    malformed request (400), not a value that merely matches nothing."""

    def check(value: Any) -> Any:
        if not (isinstance(value, str) and audit.filter_value(pattern, value, int64=int64)):
            raise PydanticCustomError(f"{kind}_parsing", f"is not {what}")
        return value

    field = Field(
        default=None,
        pattern=f"^{pattern}$",
        description=description,
        json_schema_extra=_no_default,
    )
    return Annotated[str, field, BeforeValidator(check)]


class AuditQuery(BaseModel):
    # Query strings are text by nature, so numbers are parsed from them (lax, not strict).
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=50, ge=1, le=limits.MAX_AUDIT_PAGE)
    before: int = Field(default=None, ge=1, le=2**63 - 1, json_schema_extra=_no_default)
    # The console's filters, combined: by action, by who acted, by app.
    action: _filter(  # type: ignore[valid-type]
        "action", "an action code", audit.ACTION_CODE, "Only entries of one action: `app.update`."
    )
    actor_user_id: _filter(  # type: ignore[valid-type]
        "id", "a user id", audit.USER_ID, "Only entries of actions this user took.", int64=True
    )
    client_id: _filter(  # type: ignore[valid-type]
        "id", "a client id", audit.CLIENT_ID, "Only entries about this app, deleted apps included."
    )


# Responses


class ErrorOut(Strict):
    error: str
    message: str


class UserOut(Strict):
    id: Id
    email: str
    name: str

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=str(user.id), email=user.email, name=user.name)


class TenantOut(Strict):
    id: Id
    name: str
    edition: EditionName
    role: RoleName
    created_at: datetime

    @classmethod
    def of(cls, tenant: Tenant, role: str) -> TenantOut:
        return cls(
            id=str(tenant.id),
            name=tenant.name,
            edition=tenant.edition,
            role=role,
            created_at=tenant.created_at,
        )


class TenantList(Strict):
    items: list[TenantOut]


class MemberOut(Strict):
    id: Id
    email: str
    name: str
    role: RoleName
    joined_at: datetime

    @classmethod
    def of(cls, user: User, membership: Membership) -> MemberOut:
        return cls(
            id=str(user.id),
            email=user.email,
            name=user.name,
            role=membership.role,
            joined_at=membership.created_at,
        )


class MemberList(Strict):
    items: list[MemberOut]


class InvitationOut(Strict):
    id: Id
    tenant_id: Id
    tenant_name: str
    email: str
    role: RoleName
    status: InvitationStatusName
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, invitation: Invitation, tenant: Tenant) -> InvitationOut:
        from server.tenants import shown_status

        return cls(
            id=str(invitation.id),
            tenant_id=str(invitation.tenant_id),
            tenant_name=tenant.name,
            email=invitation.email,
            role=invitation.role,
            status=shown_status(invitation),
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
        )


class InvitationCreated(Strict):
    invitation: InvitationOut


class InvitationList(Strict):
    items: list[InvitationOut]


class WorkspaceOut(Strict):
    id: Id
    tenant_id: Id
    name: str
    is_default: bool
    created_at: datetime

    @classmethod
    def of(cls, workspace: Workspace) -> WorkspaceOut:
        return cls(
            id=str(workspace.id),
            tenant_id=str(workspace.tenant_id),
            name=workspace.name,
            is_default=workspace.is_default,
            created_at=workspace.created_at,
        )


class WorkspaceList(Strict):
    items: list[WorkspaceOut]


class PermissionOut(Strict):
    name: str
    description: str


class PermissionList(Strict):
    items: list[PermissionOut]


class AppOut(Strict):
    client_id: str
    tenant_id: Id | None
    registration: RegistrationName
    name: str
    description: str
    client_type: ClientTypeName
    status: AppStatusName
    redirect_uris: list[str]
    permissions: list[str]
    created_at: datetime
    updated_at: datetime
    app_kind: AppKindName
    connector_id: Id | None = Field(description="A channel app's connector; null otherwise.")
    previous_secret_expires_at: datetime | None = Field(
        description="While a rotated-away secret still works (a rotation's grace period): "
        "when it stops; null otherwise."
    )

    @classmethod
    def fields_of(cls, app: App) -> dict[str, Any]:
        return {
            "client_id": app.client_id,
            "tenant_id": _owner(app),
            "registration": app.registration,
            "name": app.name,
            "description": app.description,
            "client_type": app.client_type,
            "status": app.status,
            "redirect_uris": list(app.redirect_uris),
            "permissions": list(app.permissions),
            "created_at": app.created_at,
            "updated_at": app.updated_at,
            "app_kind": app.app_kind,
            "connector_id": str(app.connector_id) if app.connector_id is not None else None,
            "previous_secret_expires_at": previous_secret_until(app),
        }

    @classmethod
    def of(cls, app: App) -> AppOut:
        return cls(**cls.fields_of(app))


class AppWithSecret(AppOut):
    client_secret: str | None = Field(
        description="The web app's secret, shown only in this response; null for other types."
    )

    @classmethod
    def with_secret(cls, app: App, secret: str | None) -> AppWithSecret:
        return cls(**AppOut.fields_of(app), client_secret=secret)


class AppList(Strict):
    items: list[AppOut]


class KeyOut(Strict):
    kid: str = Field(description="RFC 7638 JWK thumbprint (SHA-256) of the public key")
    public_key: str
    created_at: datetime

    @classmethod
    def of(cls, key: AppKey) -> KeyOut:
        return cls(kid=key.kid, public_key=key.public_key_pem, created_at=key.created_at)


class KeyCreated(KeyOut):
    private_key: str | None = Field(
        description="PKCS#8 PEM of a generated key, shown only in this response; "
        "null when a public key was uploaded."
    )


class KeyList(Strict):
    items: list[KeyOut]


class InstallationOut(Strict):
    client_id: str
    app_name: str
    app_type: ClientTypeName
    owner_tenant_id: Id | None
    registration: RegistrationName
    tenant_id: Id
    kind: InstallationKind
    status: InstallationStatusName
    requested_at: datetime | None
    requested_by: Id | None
    installed_at: datetime | None
    installed_by: Id | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, installation: Installation, app: App) -> InstallationOut:
        def opt(value: int | None) -> str | None:
            return str(value) if value is not None else None

        return cls(
            client_id=installation.client_id,
            app_name=app.name,
            app_type=app.client_type,
            owner_tenant_id=_owner(app),
            registration=app.registration,
            tenant_id=str(installation.tenant_id),
            kind=installation.kind,
            status=installation.status,
            requested_at=installation.requested_at,
            requested_by=opt(installation.requested_by),
            installed_at=installation.installed_at,
            installed_by=opt(installation.installed_by),
            last_used_at=installation.last_used_at,
        )


class InstallationList(Strict):
    items: list[InstallationOut]


class AuthorizedAppOut(Strict):
    client_id: str
    app_name: str
    client_type: ClientTypeName
    owner_tenant_id: Id | None
    registration: RegistrationName
    permissions: list[str]
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, authorization: Authorization, app: App) -> AuthorizedAppOut:
        return cls(
            client_id=app.client_id,
            app_name=app.name,
            client_type=app.client_type,
            owner_tenant_id=_owner(app),
            registration=app.registration,
            permissions=list(authorization.permissions),
            created_at=authorization.created_at,
            last_used_at=authorization.last_used_at,
        )


class AuthorizedAppList(Strict):
    items: list[AuthorizedAppOut]


class ConnectorOut(Strict):
    id: Id
    tenant_id: Id
    name: str
    description: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, connector: Connector) -> ConnectorOut:
        return cls(
            id=str(connector.id),
            tenant_id=str(connector.tenant_id),
            name=connector.name,
            description=connector.description,
            created_at=connector.created_at,
            updated_at=connector.updated_at,
        )


class ConnectorList(Strict):
    items: list[ConnectorOut]


def _at(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


class ServiceTokenOut(Strict):
    id: Id
    tenant_id: Id
    name: str
    permissions: list[str]
    workspace_ids: list[Id]
    expires_at: datetime | None = Field(description="null: never expires")
    created_at: datetime
    last_used_at: datetime | None = Field(description="last seen at introspection (to a minute)")

    @classmethod
    def fields_of(cls, token: ServiceToken) -> dict[str, Any]:
        return {
            "id": str(token.id),
            "tenant_id": str(token.tenant_id),
            "name": token.name,
            "permissions": list(token.permissions),
            "workspace_ids": [str(w) for w in token.workspace_ids],
            "expires_at": _at(token.expires_at),
            "created_at": token.created_at,
            "last_used_at": _at(token.last_used_at),
        }

    @classmethod
    def of(cls, token: ServiceToken) -> ServiceTokenOut:
        return cls(**cls.fields_of(token))


class ServiceTokenCreated(ServiceTokenOut):
    token: str = Field(description="The token itself (prefix `sat_`), shown only here.")


class ServiceTokenList(Strict):
    items: list[ServiceTokenOut]


class AuditEntryOut(Strict):
    id: Id
    tenant_id: Id | None
    actor_user_id: Id | None
    action: str
    target: str
    detail: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            id=str(entry.id),
            tenant_id=str(entry.tenant_id) if entry.tenant_id is not None else None,
            actor_user_id=str(entry.actor_user_id) if entry.actor_user_id is not None else None,
            action=entry.action,
            target=entry.target,
            detail=dict(entry.detail or {}),
            created_at=entry.created_at,
        )


class AuditList(Strict):
    items: list[AuditEntryOut]
