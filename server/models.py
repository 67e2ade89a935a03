"""Typed SQLAlchemy 2.0 models: tenants, users, apps and their keys, installations, authorizations,
OAuth tokens, codes and device codes, personal access tokens and the audit log.

Secrets, tokens, codes and access keys are stored only as SHA-256 digests (`*_hash` columns).
Installations and authorizations get a fresh primary key on every (re)install or (re)consent;
tokens carry that key, so uninstall and revoke kill every token of the old one by deleting
a single row (see grants/access.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry
from sqlalchemy.types import TypeDecorator

from grants.vocabulary import (
    OAUTH_AUTH_TYPES,
    STORED_INVITATION_STATUSES,
    TEAM_EDITIONS,
    AppKind,
    AppStatus,
    AuthType,
    ClientType,
    DeliveryStatus,
    DeviceCodeStatus,
    Edition,
    InstallationStatus,
    InvitationStatus,
    Registration,
    Role,
)
from server.limits import MAX_DESCRIPTION_LENGTH, MAX_EMAIL_LENGTH, MAX_NAME_LENGTH

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _in(column: str, values: Iterable[str]) -> str:
    """A check constraint's condition: the column holds one of these values (an enum's)."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def _of_client_type(capability: str) -> Any:
    """A read-only attribute of an app that its client type's capability answers."""
    return property(lambda app: getattr(ClientType(app.client_type), capability))


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite drops the zone, so store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    registry = registry(type_annotation_map={datetime: UTCDateTime(), dict[str, Any]: JSON})


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(MAX_EMAIL_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint(_in("edition", Edition), name="ck_tenants_edition"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    edition: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]

    @property
    def is_team(self) -> bool:
        """A team or enterprise tenant: members, installations and connectors."""
        return self.edition in TEAM_EDITIONS

    @property
    def installation_kinds(self) -> tuple[AuthType, ...]:
        """What an app may be installed as here: for members (OBO) only where there are any."""
        return OAUTH_AUTH_TYPES if self.is_team else (AuthType.APPAUTH,)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (CheckConstraint(_in("role", Role), name="ck_memberships_role"),)

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class Invitation(Base):
    """An invitation to a team or enterprise tenant, for an email: nobody becomes a member
    without accepting, signed in with that email. Status: pending, accepted, declined or
    cancelled; a pending one past `expires_at` is expired and can no longer be accepted."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(_in("role", Role), name="ck_invitations_role"),
        CheckConstraint(_in("status", STORED_INVITATION_STATUSES), name="ck_invitations_status"),
        Index("ix_invitations_email_status", "email", "status"),
        Index("ix_invitations_tenant_status", "tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(MAX_EMAIL_LENGTH))
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=InvitationStatus.PENDING)
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class App(Base):
    __tablename__ = "apps"
    __table_args__ = (
        CheckConstraint(_in("client_type", ClientType), name="ck_apps_client_type"),
        CheckConstraint(_in("status", AppStatus), name="ck_apps_status"),
        CheckConstraint(_in("app_kind", AppKind), name="ck_apps_app_kind"),
        UniqueConstraint("metadata_url", name="uq_apps_metadata_url"),
    )

    client_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # None for a self-registered client: no tenant owns it (it is an app of the platform).
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    description: Mapped[str] = mapped_column(String(MAX_DESCRIPTION_LENGTH), default="")
    client_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=AppStatus.ENABLED)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    # During a rotation's grace period the old secret still authenticates, until this UNIX time.
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64))
    previous_secret_until: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # How the app came to be: `managed` (console, API), `dynamic` (RFC 7591) or
    # `metadata_document` (a Client ID Metadata Document at `metadata_url`).
    registration: Mapped[str] = mapped_column(
        String(24), default=Registration.MANAGED, server_default=Registration.MANAGED.value
    )
    registration_token_hash: Mapped[str | None] = mapped_column(String(64))
    metadata_url: Mapped[str | None] = mapped_column(String(512))
    # The registered metadata as the client sent it (RFC 7592 answers it back).
    client_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # First consent: a self-registered app without one is purged after a while.
    consented_at: Mapped[datetime | None]

    app_kind: Mapped[str] = mapped_column(
        String(16), default=AppKind.NORMAL, server_default=AppKind.NORMAL.value
    )
    # A channel app's connector, and the generation of that binding: tokens carry it, so an
    # unbind, a rebind or the connector's deletion ends them in one UPDATE of this row.
    connector_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    connector_binding: Mapped[int | None] = mapped_column(BigInteger)

    # What the app may do follows from its client type (grants/vocabulary.py), asked here by
    # the templates and the services rather than compared with type names.
    has_secret = _of_client_type("has_secret")
    uses_redirect_uris = _of_client_type("uses_redirect_uris")
    signs_users_in = _of_client_type("signs_users_in")
    uses_device_flow = _of_client_type("uses_device_flow")
    uses_keys = _of_client_type("uses_keys")

    @property
    def is_enabled(self) -> bool:
        return self.status == AppStatus.ENABLED

    @property
    def needs_connector(self) -> bool:
        return self.app_kind == AppKind.CHANNEL

    @property
    def self_registered(self) -> bool:
        return self.registration != Registration.MANAGED


class Connector(Base):
    """A team's custom publish channel, to which channel apps are bound."""

    __tablename__ = "connectors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    description: Mapped[str] = mapped_column(String(MAX_DESCRIPTION_LENGTH), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RetiredClientId(Base):
    """A deleted app's client_id, kept so that it is never issued again."""

    __tablename__ = "retired_client_ids"

    client_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    deleted_at: Mapped[datetime]


class AppKey(Base):
    __tablename__ = "app_keys"
    __table_args__ = (UniqueConstraint("client_id", "kid", name="uq_app_keys_client_kid"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("apps.client_id", ondelete="CASCADE"))
    kid: Mapped[str] = mapped_column(String(64))
    public_key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Installation(Base):
    """An app's standing in a tenant. A new row (new id) per install: tokens carry the id."""

    __tablename__ = "installations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "client_id", name="uq_installations_tenant_client"),
        CheckConstraint(_in("kind", OAUTH_AUTH_TYPES), name="ck_installations_kind"),
        CheckConstraint(_in("status", InstallationStatus), name="ck_installations_status"),
        # Ids are generations that tokens carry: SQLite must never hand out a deleted one again.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(
        ForeignKey("apps.client_id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    installed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime | None]
    installed_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    @property
    def is_pending(self) -> bool:
        """An install request that waits for an admin."""
        return self.status == InstallationStatus.PENDING


class InstallRefusal(Base):
    """A member's installation request that an admin refused, kept so that the member sees it
    under My requests. The installation row itself is deleted (nothing else reads refusals);
    asking again replaces this row with a new pending installation."""

    __tablename__ = "install_refusals"
    __table_args__ = (
        UniqueConstraint(
            "requested_by", "tenant_id", "client_id", name="uq_install_refusals_requester"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(
        ForeignKey("apps.client_id", ondelete="CASCADE"), index=True
    )
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    refused_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime | None]
    refused_at: Mapped[datetime]


class Authorization(Base):
    """A user's consent to an app. A new row (new id) per consent after a revoke."""

    __tablename__ = "authorizations"
    __table_args__ = (
        UniqueConstraint("user_id", "client_id", name="uq_authorizations_user_client"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(
        ForeignKey("apps.client_id", ondelete="CASCADE"), index=True
    )
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class OAuthToken(Base):
    """One issued access token and, for OBO grants, its refresh token (rotated per use)."""

    __tablename__ = "oauth_tokens"
    __table_args__ = (
        CheckConstraint(_in("auth_type", OAUTH_AUTH_TYPES), name="ck_oauth_tokens_auth_type"),
        Index("ix_oauth_tokens_family", "family_id"),
        Index("ix_oauth_tokens_client_tenant", "client_id", "tenant_id"),
        Index("ix_oauth_tokens_user_client", "user_id", "client_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # No foreign key to apps: delete removes the app row in one statement and the rows
    # left behind are inactive by the access rule until `tokens purge` removes them.
    client_id: Mapped[str] = mapped_column(String(32))
    auth_type: Mapped[str] = mapped_column(String(16))
    tenant_id: Mapped[int] = mapped_column(BigInteger)
    workspace_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    authorization_id: Mapped[int | None] = mapped_column(BigInteger)
    scope: Mapped[str] = mapped_column(Text, default="")
    session_name: Mapped[str | None] = mapped_column(String(256))
    family_id: Mapped[str] = mapped_column(String(64))
    # Epoch seconds: the hot path compares them with time.time() and returns them as-is.
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    refresh_expires_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    refresh_revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Channel apps: the connector binding issued under, and the bots a scope object narrowed to.
    connector_binding: Mapped[int | None] = mapped_column(BigInteger)
    bot_ids: Mapped[list[str] | None] = mapped_column(JSON)
    # RFC 8707: the access token's audience, and the grant's resources a refresh may ask for.
    audience: Mapped[list[str] | None] = mapped_column(JSON)
    resources: Mapped[list[str] | None] = mapped_column(JSON)


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    tenant_id: Mapped[int] = mapped_column(BigInteger)
    workspace_id: Mapped[int | None] = mapped_column(BigInteger)
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    authorization_id: Mapped[int] = mapped_column(BigInteger)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(8))
    family_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)
    resources: Mapped[list[str] | None] = mapped_column(JSON)


class DeviceCode(Base):
    __tablename__ = "device_codes"
    __table_args__ = (
        CheckConstraint(_in("status", DeviceCodeStatus), name="ck_device_codes_status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(32), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    workspace_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=DeviceCodeStatus.PENDING)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    tenant_id: Mapped[int | None] = mapped_column(BigInteger)
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    authorization_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    resources: Mapped[list[str] | None] = mapped_column(JSON)


class PersonalAccessToken(Base):
    __tablename__ = "personal_access_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class ServiceToken(Base):
    """A tenant's service access token (SAT): a bearer credential for the platform's APIs."""

    __tablename__ = "service_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    workspace_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    # Epoch seconds, None for a token that never expires; read and compared on the hot path.
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)


class ServiceTokenWorkspace(Base):
    """A workspace a SAT reaches: introspection counts those still there against the list."""

    __tablename__ = "service_token_workspaces"

    token_id: Mapped[int] = mapped_column(
        ForeignKey("service_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)


class ResourceServer(Base):
    """A registered caller of introspection (the platform's API)."""

    __tablename__ = "resource_servers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    # The resource URIs it answers for (RFC 8707), read by introspection with the credentials;
    # resource_uris holds the same URIs, one row each, unique across resource servers.
    resources: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")


class ResourceUri(Base):
    """One resource URI and the resource server that owns it."""

    __tablename__ = "resource_uris"

    uri: Mapped[str] = mapped_column(String(512), primary_key=True)
    resource_server_id: Mapped[str] = mapped_column(
        ForeignKey("resource_servers.id", ondelete="CASCADE"), index=True
    )


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_time", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]


class EventSubscription(Base):
    """Where an app's developer wants its lifecycle events; the signing secret is kept
    encrypted (server/events/sealing.py) because every delivery must be signed with it.

    No foreign key to apps: the `app.deleted` event still reaches the subscriptions of the
    app it announces."""

    __tablename__ = "event_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(19), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Event(Base):
    """The outbox: one row per lifecycle event, written in the change's own transaction."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_client_time", "client_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[int | None] = mapped_column(BigInteger)
    client_id: Mapped[str] = mapped_column(String(19))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class EventDelivery(Base):
    """One event owed to one subscription: its state, its next attempt and its attempts.

    `claimed_at` marks a delivery handed to a worker (or to the Redis stream); a claim older
    than the lease is taken again, so a dead worker loses nothing."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", DeliveryStatus), name="ck_event_deliveries_status"),
        Index("ix_event_deliveries_due", "status", "next_attempt_at"),
        Index("ix_event_deliveries_subscription", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("event_subscriptions.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EventAttempt(Base):
    """One try at a delivery: when, the answer's status code or the network error, and when
    the next try is due (none once delivered or failed)."""

    __tablename__ = "event_attempts"
    __table_args__ = (Index("ix_event_attempts_delivery", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("event_deliveries.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))
    next_attempt_at: Mapped[datetime | None]
