"""The SQL of the hot paths (introspection, token issuance, refresh, code exchange, device
polling), built once at import.

Each is a Core statement over the tables with named parameters, so every execution reuses the
compiled SQL (and, on PostgreSQL, a server-side prepared statement) and loads plain rows
instead of ORM objects. Each answers with all the rows the access rule needs in one round trip.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
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

STANDING_COLUMNS = (
    tenants.c.edition,
    installations.c.id.label("installation_row"),
    installations.c.kind.label("installation_kind"),
    installations.c.status.label("installation_status"),
    installations.c.last_used_at.label("installation_used"),
    authorizations.c.id.label("authorization_row"),
    authorizations.c.last_used_at.label("authorization_used"),
    memberships.c.role.label("member_role"),  # None when the user is not a member
)

# An app, with its keys (a service app has a few) and its standing in its own tenant, which is
# what a JWT-bearer grant asks about next: one round trip instead of three. One row per key.
CLIENT = (
    select(
        apps.c.client_id,
        apps.c.client_type,
        apps.c.status,
        apps.c.name,
        apps.c.tenant_id,
        apps.c.redirect_uris,
        apps.c.permissions,
        apps.c.client_secret_hash,
        apps.c.app_kind,
        apps.c.connector_binding,
        apps.c.previous_secret_hash,
        apps.c.previous_secret_until,
        apps.c.registration,
        keys.c.kid,
        keys.c.public_key_pem,
        *STANDING_COLUMNS[:5],
    )
    .select_from(apps)
    .outerjoin(keys, keys.c.client_id == apps.c.client_id)
    .outerjoin(tenants, tenants.c.id == apps.c.tenant_id)
    .outerjoin(
        installations,
        and_(
            installations.c.tenant_id == apps.c.tenant_id,
            installations.c.client_id == apps.c.client_id,
        ),
    )
    .where(apps.c.client_id == bindparam("client_id"))
)

SERVICE_KEY = select(keys.c.public_key_pem).where(
    keys.c.client_id == bindparam("client_id"), keys.c.kid == bindparam("kid")
)


def with_standing(statement: Any, tenant_id: Any, client_id: Any, user_id: Any) -> Any:
    """Outer-join the tenant, the app's installation there, the user's consent and the user's
    membership of the tenant."""
    return (
        statement.outerjoin(tenants, tenants.c.id == tenant_id)
        .outerjoin(
            installations,
            and_(
                installations.c.tenant_id == tenants.c.id,
                installations.c.client_id == client_id,
            ),
        )
        .outerjoin(
            authorizations,
            and_(authorizations.c.user_id == user_id, authorizations.c.client_id == client_id),
        )
        .outerjoin(
            memberships,
            and_(memberships.c.tenant_id == tenants.c.id, memberships.c.user_id == user_id),
        )
    )


STANDING = (
    select(*STANDING_COLUMNS)
    .select_from(tenants)
    .outerjoin(
        installations,
        and_(
            installations.c.tenant_id == tenants.c.id,
            installations.c.client_id == bindparam("client_id"),
        ),
    )
    .outerjoin(
        authorizations,
        and_(
            authorizations.c.user_id == bindparam("user_id"),
            authorizations.c.client_id == bindparam("client_id"),
        ),
    )
    .outerjoin(
        memberships,
        and_(
            memberships.c.tenant_id == tenants.c.id,
            memberships.c.user_id == bindparam("user_id"),
        ),
    )
    .where(tenants.c.id == bindparam("tenant_id"))
)
AUTHORIZATION = select(authorizations.c.id).where(
    authorizations.c.user_id == bindparam("user_id"),
    authorizations.c.client_id == bindparam("client_id"),
)
MARK_USED = {
    table.name: update(table)
    .where(
        table.c.id == bindparam("row_id"),
        or_(table.c.last_used_at.is_(None), table.c.last_used_at < bindparam("stale")),
    )
    .values(last_used_at=bindparam("used_at"))
    for table in (installations, authorizations)
}

# Tokens ---------------------------------------------------------------------------------------

INSERT_TOKEN = insert(tokens)

TOKEN_COLUMNS = (
    tokens.c.id,
    tokens.c.access_token_hash,
    tokens.c.client_id,
    tokens.c.auth_type,
    tokens.c.tenant_id,
    tokens.c.workspace_id,
    tokens.c.user_id,
    tokens.c.installation_id,
    tokens.c.authorization_id,
    tokens.c.scope,
    tokens.c.session_name,
    tokens.c.family_id,
    tokens.c.issued_at,
    tokens.c.expires_at,
    tokens.c.refresh_expires_at,
    tokens.c.revoked,
    tokens.c.refresh_revoked,
    tokens.c.connector_binding,
    tokens.c.bot_ids,
    tokens.c.resources,
)
TOKEN_STANDING = (
    apps.c.client_type,
    apps.c.status.label("app_status"),
    *STANDING_COLUMNS,
)


def _token_with_standing(statement: Any) -> Any:
    return with_standing(
        statement.outerjoin(apps, apps.c.client_id == tokens.c.client_id),
        tokens.c.tenant_id,
        tokens.c.client_id,
        tokens.c.user_id,
    )


# A refresh token with the rows the access rule will ask about.
REFRESH = _token_with_standing(select(*TOKEN_COLUMNS, *TOKEN_STANDING).select_from(tokens)).where(
    tokens.c.refresh_token_hash == bindparam("digest")
)
RETIRE_REFRESH = (
    update(tokens)
    .where(tokens.c.id == bindparam("token_id"), tokens.c.refresh_revoked.is_(False))
    .values(refresh_revoked=True)
)

# Introspection, one statement per kind of token: the prefix says which digest column to look
# in (grants/secrets.py), so each lookup is one probe of one unique index rather than two.
_INTROSPECTED = (
    *(c for c in TOKEN_COLUMNS if c.name not in ("id", "family_id", "resources")),
    tokens.c.audience,
    apps.c.client_type,
    apps.c.status.label("app_status"),
    apps.c.app_kind,
    apps.c.connector_id,
    apps.c.connector_binding.label("app_connector_binding"),
    # Introspection writes no "last used" times, so it needs none.
    *(c for c in STANDING_COLUMNS if c.name not in ("installation_used", "authorization_used")),
)
_DIGEST_COLUMN = {"access": tokens.c.access_token_hash, "refresh": tokens.c.refresh_token_hash}
INTROSPECT = {
    kind: _token_with_standing(select(*_INTROSPECTED).select_from(tokens)).where(
        column == bindparam("digest")
    )
    for kind, column in _DIGEST_COLUMN.items()
}
# With the resource server's credentials too: one row whenever the caller's id exists.
INTROSPECT_FOR = {
    kind: _token_with_standing(
        select(
            resource_servers.c.secret_hash.label("caller_secret_hash"),
            resource_servers.c.resources.label("caller_resources"),
            *_INTROSPECTED,
        )
        .select_from(resource_servers)
        .outerjoin(tokens, column == bindparam("digest"))
    ).where(resource_servers.c.id == bindparam("server_id"))
    for kind, column in _DIGEST_COLUMN.items()
}

# Service access tokens: their own statement (their prefix says so), with what the access rule
# asks of them: the tenant still there, and how many of their workspaces are gone from it.
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
INTROSPECT["sat"] = (
    select(*_SAT)
    .select_from(service_tokens)
    .outerjoin(tenants, tenants.c.id == service_tokens.c.tenant_id)
    .where(service_tokens.c.token_hash == bindparam("digest"))
)
INTROSPECT_FOR["sat"] = (
    select(resource_servers.c.secret_hash.label("caller_secret_hash"), *_SAT)
    .select_from(resource_servers)
    .outerjoin(service_tokens, service_tokens.c.token_hash == bindparam("digest"))
    .outerjoin(tenants, tenants.c.id == service_tokens.c.tenant_id)
    .where(resource_servers.c.id == bindparam("server_id"))
)
SAT_USED = (
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
CLAIM_CODE = (
    update(codes)
    .where(
        codes.c.code_hash == bindparam("digest"),
        codes.c.client_id == bindparam("claimant"),
        codes.c.used_at.is_(None),
    )
    .values(used_at=bindparam("now"))
    .returning(
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
)
CODE = select(codes.c.client_id, codes.c.family_id).where(codes.c.code_hash == bindparam("digest"))

# Device codes ---------------------------------------------------------------------------------

# A taken user code inserts nothing (and returns no row) instead of failing the transaction.
_INSERT_DEVICE_CODE = {
    name: dialect_insert(device_codes)
    .on_conflict_do_nothing(index_elements=[device_codes.c.user_code_hash])
    .returning(device_codes.c.id)
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def insert_device_code(dialect_name: str) -> Any:
    return _INSERT_DEVICE_CODE[dialect_name]


DEVICE_CODE = select(
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
).where(device_codes.c.device_code_hash == bindparam("digest"))

# Resource URIs ---------------------------------------------------------------------------------

KNOWN_RESOURCES = select(resource_uris.c.uri).where(
    resource_uris.c.uri.in_(bindparam("uris", expanding=True))
)
