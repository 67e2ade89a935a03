"""The SQL of the hot paths (introspection, token issuance, refresh, code exchange, device
polling), built once at import, each with the dataclass its rows come back as.

Each is a Core statement over the tables with named parameters, held by a `Hot`
(server/oauth/execute.py) that keeps its compiled form and loads its rows as that dataclass
instead of ORM objects. Each answers with all the rows the access rule needs in one round trip;
the rows the access rule reads about an app in a tenant (its standing) are joined by one
function, `standing_join`, for the app read, the refresh token and introspection alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, false, func, insert, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from server.models import (
    App,
    AppKey,
    Authorization,
    AuthorizationCode,
    DeviceCode,
    Installation,
    Membership,
    OAuthToken,
    ResourceServer,
    ResourceUri,
    ServiceToken,
    ServiceTokenWorkspace,
    Tenant,
    Workspace,
)
from server.oauth.execute import Hot

apps = App.__table__
keys = AppKey.__table__
authorizations = Authorization.__table__
codes = AuthorizationCode.__table__
device_codes = DeviceCode.__table__
installations = Installation.__table__
memberships = Membership.__table__
tokens = OAuthToken.__table__
resource_servers = ResourceServer.__table__
resource_uris = ResourceUri.__table__
tenants = Tenant.__table__
service_tokens = ServiceToken.__table__
sat_workspaces = ServiceTokenWorkspace.__table__
workspaces = Workspace.__table__

# What the access rule reads about one app in one tenant for one user ------------------------


@dataclass(frozen=True, slots=True)
class StandingRow:
    """The tenant, the app's installation there, the user's consent and membership (None when
    absent), with the "last used" times issuance keeps."""

    edition: str | None
    installation_row: int | None
    installation_kind: str | None
    installation_status: str | None
    installation_used: datetime | None
    authorization_row: int | None
    authorization_used: datetime | None
    member_role: str | None


STANDING_COLUMNS = (
    tenants.c.edition,
    installations.c.id.label("installation_row"),
    installations.c.kind.label("installation_kind"),
    installations.c.status.label("installation_status"),
    installations.c.last_used_at.label("installation_used"),
    authorizations.c.id.label("authorization_row"),
    authorizations.c.last_used_at.label("authorization_used"),
    memberships.c.role.label("member_role"),
)


def standing_join(base: Any, tenant_id: Any, client_id: Any, user_id: Any) -> Any:
    """`base` outer-joined to the tenant, the app's installation there, the user's consent and
    the user's membership of the tenant (the columns of StandingRow). `base` None: from the
    tenant itself, the caller naming it in its WHERE. `user_id` None: the app acting as
    itself, with no consent or membership to read."""
    joined = tenants if base is None else base.outerjoin(tenants, tenants.c.id == tenant_id)
    joined = joined.outerjoin(
        installations,
        and_(installations.c.tenant_id == tenants.c.id, installations.c.client_id == client_id),
    )
    if user_id is None:
        return joined.outerjoin(authorizations, false()).outerjoin(memberships, false())
    return joined.outerjoin(
        authorizations,
        and_(authorizations.c.user_id == user_id, authorizations.c.client_id == client_id),
    ).outerjoin(
        memberships,
        and_(memberships.c.tenant_id == tenants.c.id, memberships.c.user_id == user_id),
    )


STANDING = Hot(
    select(*STANDING_COLUMNS)
    .select_from(standing_join(None, None, bindparam("client_id"), bindparam("user_id")))
    .where(tenants.c.id == bindparam("tenant_id")),
    StandingRow,
)


# An app, with its keys (a service app has a few) and its standing in its own tenant, which is
# what a JWT-bearer grant asks about next: one round trip instead of three. One row per key.
@dataclass(frozen=True, slots=True)
class ClientRow(StandingRow):
    client_id: str
    client_type: str
    status: str
    name: str
    tenant_id: int | None
    redirect_uris: list[str] | None
    permissions: list[str] | None
    client_secret_hash: str | None
    app_kind: str
    connector_binding: int | None
    previous_secret_hash: str | None
    previous_secret_until: datetime | None
    registration: str | None
    kid: str | None
    public_key_pem: str | None


# The app's columns a Client is made of (server/oauth/storage.py), but its client_id.
APP_FIELDS = (
    "client_type",
    "status",
    "name",
    "tenant_id",
    "redirect_uris",
    "permissions",
    "client_secret_hash",
    "app_kind",
    "connector_binding",
    "previous_secret_hash",
    "previous_secret_until",
    "registration",
)
CLIENT = Hot(
    select(
        apps.c.client_id,
        *(apps.c[name] for name in APP_FIELDS),
        keys.c.kid,
        keys.c.public_key_pem,
        *STANDING_COLUMNS,
    )
    .select_from(
        standing_join(
            apps.outerjoin(keys, keys.c.client_id == apps.c.client_id),
            apps.c.tenant_id,
            apps.c.client_id,
            None,
        )
    )
    .where(apps.c.client_id == bindparam("client_id")),
    ClientRow,
)


@dataclass(frozen=True, slots=True)
class KeyRow:
    public_key_pem: str


SERVICE_KEY = Hot(
    select(keys.c.public_key_pem).where(
        keys.c.client_id == bindparam("client_id"), keys.c.kid == bindparam("kid")
    ),
    KeyRow,
)
AUTHORIZATION = select(authorizations.c.id).where(
    authorizations.c.user_id == bindparam("user_id"),
    authorizations.c.client_id == bindparam("client_id"),
)
MARK_USED = {
    table.name: Hot(
        update(table)
        .where(
            table.c.id == bindparam("row_id"),
            or_(table.c.last_used_at.is_(None), table.c.last_used_at < bindparam("stale")),
        )
        .values(last_used_at=bindparam("used_at"))
    )
    for table in (installations, authorizations)
}

# Tokens ---------------------------------------------------------------------------------------

TOKEN_FIELDS = (
    "access_token_hash",
    "refresh_token_hash",
    "client_id",
    "auth_type",
    "tenant_id",
    "workspace_id",
    "user_id",
    "installation_id",
    "authorization_id",
    "scope",
    "session_name",
    "family_id",
    "issued_at",
    "expires_at",
    "refresh_expires_at",
    "revoked",
    "refresh_revoked",
    "connector_binding",
    "bot_ids",
    "audience",
    "resources",
)
# A new token's values, named apart from the columns (an UPDATE in the same statement would
# otherwise take them as its SET): INSERT_TOKEN's and ROTATE_REFRESH's parameters, "new_" and
# the column's name.
_NEW_TOKEN = {name: bindparam("new_" + name, type_=tokens.c[name].type) for name in TOKEN_FIELDS}
INSERT_TOKEN = Hot(insert(tokens).values(_NEW_TOKEN))


# Whom a token was issued to and under what: read by the refresh grant and by introspection.
TOKEN_CONTEXT = (
    tokens.c.client_id,
    tokens.c.auth_type,
    tokens.c.tenant_id,
    tokens.c.workspace_id,
    tokens.c.user_id,
    tokens.c.installation_id,
    tokens.c.authorization_id,
    tokens.c.scope,
    tokens.c.session_name,
)


def _token_standing(base: Any) -> Any:
    """A token (in `base`) with its app and the app's standing under the token's tenant/user."""
    return standing_join(
        base.outerjoin(apps, apps.c.client_id == tokens.c.client_id),
        tokens.c.tenant_id,
        tokens.c.client_id,
        tokens.c.user_id,
    )


# A refresh token with the rows the access rule will ask about, and its app: the token endpoint
# authenticates that app first, so the app is read with the token (one round trip, not two).
@dataclass(frozen=True, slots=True)
class RefreshRow(StandingRow):
    app_client_type: str | None
    app_status: str | None
    app_name: str | None
    app_tenant_id: int | None
    app_redirect_uris: list[str] | None
    app_permissions: list[str] | None
    app_client_secret_hash: str | None
    app_app_kind: str | None
    app_connector_binding: int | None
    app_previous_secret_hash: str | None
    app_previous_secret_until: datetime | None
    app_registration: str | None
    id: int
    client_id: str
    auth_type: str
    tenant_id: int
    workspace_id: int | None
    user_id: int | None
    installation_id: int | None
    authorization_id: int | None
    scope: str
    session_name: str | None
    family_id: str
    resources: list[str] | None
    refresh_expires_at: int | None
    refresh_revoked: bool


REFRESH = Hot(
    select(
        tokens.c.id,
        *TOKEN_CONTEXT,
        tokens.c.family_id,
        tokens.c.resources,
        tokens.c.refresh_expires_at,
        tokens.c.refresh_revoked,
        *STANDING_COLUMNS,
        *(apps.c[name].label("app_" + name) for name in APP_FIELDS),
    )
    .select_from(_token_standing(tokens))
    .where(tokens.c.refresh_token_hash == bindparam("digest")),
    RefreshRow,
)
_RETIRE = (
    update(tokens)
    .where(tokens.c.id == bindparam("token_id"), tokens.c.refresh_revoked.is_(False))
    .values(refresh_revoked=true())
)
RETIRE_REFRESH = Hot(_RETIRE)
# A refresh's rotation and the new token in one statement (PostgreSQL: a data-modifying WITH):
# the new row is inserted only if this statement retired the old one, so of two concurrent
# uses only one issues. Its parameters are INSERT_TOKEN's and token_id.
# SQLite runs RETIRE_REFRESH, then INSERT_TOKEN.
_RETIRED = _RETIRE.returning(tokens.c.id).cte("retired")
ROTATE_REFRESH = Hot(
    insert(tokens)
    .from_select(list(TOKEN_FIELDS), select(*_NEW_TOKEN.values()).select_from(_RETIRED))
    .add_cte(_RETIRED)
)


# Introspection, one statement per kind of token: the prefix says which digest column to look
# in (grants/secrets.py), so each lookup is one probe of one unique index rather than two.
@dataclass(frozen=True, slots=True)
class IntrospectionRow(StandingRow):
    """A token (its columns None when there is no such token), its app and its standing."""

    access_token_hash: str | None
    client_id: str | None
    auth_type: str | None
    tenant_id: int | None
    workspace_id: int | None
    user_id: int | None
    installation_id: int | None
    authorization_id: int | None
    scope: str | None
    session_name: str | None
    issued_at: int | None
    expires_at: int | None
    refresh_expires_at: int | None
    revoked: bool | None
    refresh_revoked: bool | None
    connector_binding: int | None
    bot_ids: list[str] | None
    audience: list[str] | None
    client_type: str | None
    app_status: str | None
    app_kind: str | None
    connector_id: int | None
    app_connector_binding: int | None


@dataclass(frozen=True, slots=True)
class IntrospectionForRow(IntrospectionRow):
    """With the credentials of the resource server asking."""

    caller_secret_hash: str
    caller_resources: list[str] | None


_INTROSPECTED = (
    tokens.c.access_token_hash,
    *TOKEN_CONTEXT,
    tokens.c.issued_at,
    tokens.c.expires_at,
    tokens.c.refresh_expires_at,
    tokens.c.revoked,
    tokens.c.refresh_revoked,
    tokens.c.connector_binding,
    tokens.c.bot_ids,
    tokens.c.audience,
    apps.c.client_type,
    apps.c.status.label("app_status"),
    apps.c.app_kind,
    apps.c.connector_id,
    apps.c.connector_binding.label("app_connector_binding"),
    *STANDING_COLUMNS,
)
_DIGEST_COLUMN = {"access": tokens.c.access_token_hash, "refresh": tokens.c.refresh_token_hash}
INTROSPECT: dict[str, Hot[Any]] = {
    kind: Hot(
        select(*_INTROSPECTED)
        .select_from(_token_standing(tokens))
        .where(column == bindparam("digest")),
        IntrospectionRow,
    )
    for kind, column in _DIGEST_COLUMN.items()
}
# With the resource server's credentials too: one row whenever the caller's id exists.
INTROSPECT_FOR: dict[str, Hot[Any]] = {
    kind: Hot(
        select(
            resource_servers.c.secret_hash.label("caller_secret_hash"),
            resource_servers.c.resources.label("caller_resources"),
            *_INTROSPECTED,
        )
        .select_from(
            _token_standing(resource_servers.outerjoin(tokens, column == bindparam("digest")))
        )
        .where(resource_servers.c.id == bindparam("server_id")),
        IntrospectionForRow,
    )
    for kind, column in _DIGEST_COLUMN.items()
}


# Service access tokens: their own statement (their prefix says so), with what the access rule
# asks of them: the tenant still there, and how many of their workspaces are gone from it.
@dataclass(frozen=True, slots=True)
class SatRow:
    sat_id: int | None
    tenant_id: int | None
    permissions: list[str] | None
    workspace_ids: list[int] | None
    expires_at: int | None
    last_used_at: int | None
    tenant_row: int | None
    workspaces_missing: int


@dataclass(frozen=True, slots=True)
class SatForRow(SatRow):
    caller_secret_hash: str


_SAT = (
    service_tokens.c.id.label("sat_id"),
    service_tokens.c.tenant_id,
    service_tokens.c.permissions,
    service_tokens.c.workspace_ids,
    service_tokens.c.expires_at,
    service_tokens.c.last_used_at,
    tenants.c.id.label("tenant_row"),
    select(func.count())
    .select_from(
        sat_workspaces.outerjoin(
            workspaces,
            and_(
                workspaces.c.id == sat_workspaces.c.workspace_id,
                workspaces.c.tenant_id == service_tokens.c.tenant_id,
            ),
        )
    )
    .where(sat_workspaces.c.token_id == service_tokens.c.id, workspaces.c.id.is_(None))
    .scalar_subquery()
    .label("workspaces_missing"),
)
INTROSPECT["sat"] = Hot(
    select(*_SAT)
    .select_from(service_tokens)
    .outerjoin(tenants, tenants.c.id == service_tokens.c.tenant_id)
    .where(service_tokens.c.token_hash == bindparam("digest")),
    SatRow,
)
INTROSPECT_FOR["sat"] = Hot(
    select(resource_servers.c.secret_hash.label("caller_secret_hash"), *_SAT)
    .select_from(resource_servers)
    .outerjoin(service_tokens, service_tokens.c.token_hash == bindparam("digest"))
    .outerjoin(tenants, tenants.c.id == service_tokens.c.tenant_id)
    .where(resource_servers.c.id == bindparam("server_id")),
    SatForRow,
)
SAT_USED = Hot(
    update(service_tokens)
    .where(
        service_tokens.c.id == bindparam("sat_id"),
        or_(
            service_tokens.c.last_used_at.is_(None),
            service_tokens.c.last_used_at < bindparam("stale"),
        ),
    )
    .values(last_used_at=bindparam("now"))
)

# Authorization codes --------------------------------------------------------------------------


# The claim is the conditional UPDATE: of two concurrent exchanges only one gets the row back.
# With it, the standing of the code's app in its tenant for its user, which the access rule asks
# about next.
@dataclass(frozen=True, slots=True)
class CodeRow(StandingRow):
    client_id: str
    user_id: int
    tenant_id: int
    workspace_id: int | None
    installation_id: int | None
    authorization_id: int | None
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    family_id: str
    expires_at: int
    resources: list[str] | None


_CODE = (
    codes.c.client_id,
    codes.c.user_id,
    codes.c.tenant_id,
    codes.c.workspace_id,
    codes.c.installation_id,
    codes.c.authorization_id,
    codes.c.redirect_uri,
    codes.c.scope,
    codes.c.code_challenge,
    codes.c.code_challenge_method,
    codes.c.family_id,
    codes.c.expires_at,
    codes.c.resources,
)
_CLAIM = (
    update(codes)
    .where(
        codes.c.code_hash == bindparam("digest"),
        codes.c.client_id == bindparam("claimant"),
        codes.c.used_at.is_(None),
    )
    .values(used_at=bindparam("now"))
)
# PostgreSQL: the claim and the standing in one statement (a data-modifying WITH), run on its
# own: one round trip instead of four (BEGIN, the claim, the standing, COMMIT).
_CLAIMED = _CLAIM.returning(*_CODE).cte("claimed")
CLAIM_CODE = Hot(
    select(*_CLAIMED.c, *STANDING_COLUMNS).select_from(
        standing_join(_CLAIMED, _CLAIMED.c.tenant_id, _CLAIMED.c.client_id, _CLAIMED.c.user_id)
    ),
    CodeRow,
)
# SQLite (no UPDATE in a WITH): the claim, then the claimed code with its standing.
CLAIM_CODE_ONLY = Hot(_CLAIM)
CLAIMED_CODE = Hot(
    select(*_CODE, *STANDING_COLUMNS)
    .select_from(standing_join(codes, codes.c.tenant_id, codes.c.client_id, codes.c.user_id))
    .where(codes.c.code_hash == bindparam("digest")),
    CodeRow,
)


@dataclass(frozen=True, slots=True)
class CodeOwnerRow:
    client_id: str
    family_id: str


CODE = Hot(
    select(codes.c.client_id, codes.c.family_id).where(codes.c.code_hash == bindparam("digest")),
    CodeOwnerRow,
)

# Device codes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InsertedRow:
    id: int


# A taken user code inserts nothing (and returns no row) instead of failing the transaction.
INSERT_DEVICE_CODE = {
    name: Hot(
        dialect_insert(device_codes)
        .on_conflict_do_nothing(index_elements=[device_codes.c.user_code_hash])
        .returning(device_codes.c.id),
        InsertedRow,
    )
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


@dataclass(frozen=True, slots=True)
class DeviceCodeRow:
    id: int
    client_id: str
    scope: str
    status: str
    expires_at: int
    device_code_hash: str
    user_id: int | None
    tenant_id: int | None
    workspace_id: int | None
    installation_id: int | None
    authorization_id: int | None
    resources: list[str] | None


DEVICE_CODE = Hot(
    select(
        device_codes.c.id,
        device_codes.c.client_id,
        device_codes.c.scope,
        device_codes.c.status,
        device_codes.c.expires_at,
        device_codes.c.device_code_hash,
        device_codes.c.user_id,
        device_codes.c.tenant_id,
        device_codes.c.workspace_id,
        device_codes.c.installation_id,
        device_codes.c.authorization_id,
        device_codes.c.resources,
    ).where(device_codes.c.device_code_hash == bindparam("digest")),
    DeviceCodeRow,
)

# Resource URIs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UriRow:
    uri: str


KNOWN_RESOURCES = Hot(
    select(resource_uris.c.uri).where(resource_uris.c.uri.in_(bindparam("uris", expanding=True))),
    UriRow,
)
