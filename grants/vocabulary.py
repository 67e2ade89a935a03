"""The domain's vocabulary: every fixed set of values the server stores, accepts or answers.

String enums, so a member is the same string in the database, on the wire and in templates.
The models' check constraints, the API's schemas, both OpenAPI documents and the pages' words
are all built from these; tests/test_vocabulary.py holds them to what the migrations allow.
What a client type may do (has a secret, signs users in, ...) is decided here too, once.
"""

from __future__ import annotations

from enum import StrEnum


class Edition(StrEnum):
    PERSONAL = "personal"
    TEAM = "team"
    ENTERPRISE = "enterprise"


# Editions with members beyond their owner (invitations, installations, connectors).
TEAM_EDITIONS = (Edition.TEAM, Edition.ENTERPRISE)


class Role(StrEnum):
    SUPER_ADMIN = "super_admin"
    ADMIN = "admin"
    MEMBER = "member"

    def may_grant(self, role: str) -> bool:
        """Only a super_admin makes super_admins; an admin gives the other roles."""
        return self is Role.SUPER_ADMIN or role != Role.SUPER_ADMIN


ADMIN_ROLES = (Role.SUPER_ADMIN, Role.ADMIN)


class AuthType(StrEnum):
    """Whom a token acts for: a user (OBO), the app itself (AppAuth), or a tenant through a
    service access token (SAT, introspection's `auth_type` only)."""

    OBO = "obo"
    APPAUTH = "appauth"
    SAT = "sat"


# What an OAuth token, and the installation it acts under, can be (a SAT is neither).
OAUTH_AUTH_TYPES = (AuthType.OBO, AuthType.APPAUTH)


class ClientType(StrEnum):
    WEB = "web"
    PKCE = "pkce"
    DEVICE = "device"
    SERVICE = "service"

    @property
    def has_secret(self) -> bool:
        """Authenticates with a client secret (a confidential web back end)."""
        return self is ClientType.WEB

    @property
    def is_public(self) -> bool:
        """Keeps no secret and signs no assertion (RFC 6749 §2.1)."""
        return self in (ClientType.PKCE, ClientType.DEVICE)

    @property
    def uses_redirect_uris(self) -> bool:
        """Signs users in through the browser and the authorization code flow."""
        return self in (ClientType.WEB, ClientType.PKCE)

    @property
    def is_native(self) -> bool:
        """Runs on the user's device: private-use schemes and loopback on any port (RFC 8252)."""
        return self is ClientType.PKCE

    @property
    def uses_device_flow(self) -> bool:
        return self is ClientType.DEVICE

    @property
    def signs_users_in(self) -> bool:
        """Acts on behalf of users (OBO); otherwise it acts as itself."""
        return self is not ClientType.SERVICE

    @property
    def uses_keys(self) -> bool:
        """Signs JWT assertions with its own RSA keys (RFC 7523)."""
        return self is ClientType.SERVICE

    @property
    def auth_type(self) -> AuthType:
        return AuthType.OBO if self.signs_users_in else AuthType.APPAUTH


class AppKind(StrEnum):
    """Coze's app types: normal apps, channel apps (bound to a connector) and
    enterprise-privileged apps (tokens only through the enterprise path)."""

    NORMAL = "normal"
    CHANNEL = "channel"
    PRIVILEGED = "privileged"

    @property
    def service_only(self) -> bool:
        return self is not AppKind.NORMAL

    @property
    def team_only(self) -> bool:
        """Made only in team and enterprise tenants."""
        return self is AppKind.PRIVILEGED


class AppStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class Registration(StrEnum):
    """How an app came to be: the console or the API, RFC 7591, or a metadata document."""

    MANAGED = "managed"
    DYNAMIC = "dynamic"
    METADATA_DOCUMENT = "metadata_document"


class InstallationStatus(StrEnum):
    """An installation, or an install request waiting for an admin."""

    INSTALLED = "installed"
    PENDING = "pending"


class RequestStatus(StrEnum):
    """An install request as the member who asked sees it (My requests): an installation's
    status, or refused (kept apart from installations, which a refusal removes)."""

    INSTALLED = InstallationStatus.INSTALLED.value
    PENDING = InstallationStatus.PENDING.value
    REFUSED = "refused"


class InvitationStatus(StrEnum):
    PENDING = "pending"
    EXPIRED = "expired"  # shown for a pending one past its time; never stored
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"


STORED_INVITATION_STATUSES = tuple(s for s in InvitationStatus if s is not InvitationStatus.EXPIRED)


class DeviceCodeStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    USED = "used"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class EventType(StrEnum):
    APP_INSTALLED = "app.installed"
    APP_UNINSTALLED = "app.uninstalled"
    APP_INSTALL_REQUESTED = "app.install_requested"
    APP_ENABLED = "app.enabled"
    APP_DISABLED = "app.disabled"
    APP_DELETED = "app.deleted"
    AUTHORIZATION_GRANTED = "authorization.granted"
    AUTHORIZATION_REVOKED = "authorization.revoked"
    MEMBER_REMOVED = "member.removed"
    KEY_ADDED = "key.added"
    KEY_REMOVED = "key.removed"
    SECRET_ROTATED = "secret.rotated"


class GrantType(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"
    DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
    JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class AuthMethod(StrEnum):
    """Token endpoint client authentication methods (RFC 7591 §2)."""

    NONE = "none"
    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"


# Every method, in the order the endpoints try them; plain strings, as Authlib's errors name them.
ANY_AUTH_METHOD = [
    AuthMethod.CLIENT_SECRET_BASIC.value,
    AuthMethod.CLIENT_SECRET_POST.value,
    AuthMethod.NONE.value,
]


class CodeChallengeMethod(StrEnum):
    PLAIN = "plain"
    S256 = "S256"


# A numeric id as text (users, tenants, workspaces, ...): ASCII digits, at most 2^63-1 in size.
ID_PATTERN = r"^[1-9][0-9]{0,18}$"
