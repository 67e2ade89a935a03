"""Apps (OAuth clients) and what hangs off them: keys, status, installations and consents.

Functions take the acting user, check their role in the app's tenant and raise DomainError;
they flush, and the caller commits. Lifecycle changes cost one statement per table whatever
the number of tokens: tokens are judged at use by the access rule (grants/access.py).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import and_, delete, exists, func, or_, select, update

from grants.secrets import CLIENT_SECRET, REGISTRATION_TOKEN, digest, new_secret
from grants.vocabulary import (
    ADMIN_ROLES,
    OAUTH_AUTH_TYPES,
    AppKind,
    AppStatus,
    AuthType,
    ClientType,
    InstallationStatus,
    Registration,
    RequestStatus,
)
from keys import KeyError_, generate_key_pair, load_public_key, thumbprint
from keys import public_key_pem as pem_of
from keys.rsa import MIN_RSA_BITS
from server import accounts, audit, permissions, values
from server.errors import DomainError, Msg, forbidden, not_found
from server.extensions import db
from server.limits import MAX_SECRET_GRACE_HOURS
from server.models import (
    App,
    AppKey,
    Authorization,
    AuthorizationCode,
    Connector,
    DeviceCode,
    Installation,
    InstallRefusal,
    Membership,
    OAuthToken,
    RetiredClientId,
    Tenant,
    User,
    Workspace,
)
from server.tenants import require_role

STATUSES = tuple(AppStatus)
UNCHANGED = object()  # a field left out of an edit, where None is a value of its own
_CLIENT_ID_LOW = 10**18  # 19 digits, the first not zero, like Coze's numeric app ids


def _now() -> datetime:
    return datetime.now(UTC)


def new_client_id() -> str:
    """A random 19-digit id never used before, by a live app or a deleted one."""
    for _ in range(8):
        candidate = str(_CLIENT_ID_LOW + secrets.randbelow(9 * _CLIENT_ID_LOW))
        taken = db.session.get(App, candidate) or db.session.get(RetiredClientId, candidate)
        if taken is None:
            return candidate
    raise DomainError(503, "temporarily_unavailable", "could not allocate a client_id, retry")


def _app(actor: User, client_id: str, *, admin: bool = False, lock: bool = False) -> App:
    """The app, if the actor belongs to its tenant (else 404); `admin` requires an admin role."""
    stmt = select(App).where(App.client_id == client_id)
    if lock:
        stmt = stmt.with_for_update()
    app = db.session.scalar(stmt)
    role = accounts.role_in(actor.id, app.tenant_id) if app is not None else None
    if app is None or role is None:
        raise not_found("app")
    if admin and role not in ADMIN_ROLES:
        raise forbidden()
    return app


def _any_app(client_id: str) -> App:
    """An app by client_id in any tenant: installing another tenant's app is allowed."""
    app = db.session.get(App, client_id)
    if app is None:
        raise not_found("app")
    return app


def _web_app(actor: User, client_id: str) -> App:
    """An app with a client secret, for an admin of its tenant (422 for any other app)."""
    app = _app(actor, client_id, admin=True)
    if not app.has_secret:
        raise DomainError(422, "not_web_app", Msg("only web apps have a client secret"))
    return app


def _quota(tenant: Tenant) -> int:
    key = "APP_QUOTA_TEAM" if tenant.is_team else "APP_QUOTA_PERSONAL"
    return int(current_app.config[key])


# Apps


def list_apps(actor: User, tenant_id: int) -> list[App]:
    require_role(actor, tenant_id)
    return list(
        db.session.scalars(
            select(App).where(App.tenant_id == tenant_id).order_by(App.created_at, App.client_id)
        )
    )


def get_app(actor: User, client_id: str) -> App:
    return _app(actor, client_id)


def register_app(
    actor: User,
    tenant_id: int,
    *,
    name: str,
    client_type: str,
    description: str = "",
    redirect_uris: list[str] | None = None,
    permissions: list[str] | None = None,
    app_kind: str = AppKind.NORMAL,
) -> tuple[App, str | None]:
    """A new app in the tenant, within its quota (apps of every kind count); returns the clear
    secret for web apps."""
    tenant, _ = require_role(actor, tenant_id, admin=True, lock=True)
    if client_type not in tuple(ClientType):
        raise DomainError(
            422,
            "invalid_value",
            f"client_type must be one of {', '.join(ClientType)}",
            field="client_type",
            text=Msg("Choose one of the four types."),
        )
    _check_kind(app_kind, client_type, tenant)
    name = values.name(name)
    description = values.description(description)
    uris = values.redirect_uris(redirect_uris, client_type)
    perms = _permissions(permissions, app_kind)
    quota = _quota(tenant)
    count = db.session.scalar(
        select(func.count()).select_from(App).where(App.tenant_id == tenant_id)
    )
    if count >= quota:
        raise DomainError(
            409,
            "quota_exceeded",
            Msg("this tenant already has %(quota)d apps, the most it may have", quota=quota),
        )
    secret = new_secret(CLIENT_SECRET) if ClientType(client_type).has_secret else None
    now = _now()
    app = App(
        client_id=new_client_id(),
        tenant_id=tenant_id,
        name=name,
        description=description,
        client_type=client_type,
        status=AppStatus.ENABLED,
        redirect_uris=uris,
        permissions=perms,
        client_secret_hash=digest(secret) if secret else None,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
        app_kind=app_kind,
    )
    db.session.add(app)
    db.session.flush()
    audit.record(
        "app.create",
        tenant_id=tenant_id,
        actor_user_id=actor.id,
        target=app.client_id,
        client_type=client_type,
        app_kind=app_kind,
    )
    return app, secret


def _check_kind(app_kind: str, client_type: str, tenant: Tenant) -> None:
    # Only admins create apps at all (require_role), so privileged apps too.
    if app_kind not in tuple(AppKind):
        raise DomainError(
            422,
            "invalid_value",
            f"app_kind must be one of {', '.join(AppKind)}",
            field="app_kind",
            text=Msg("Choose an app kind."),
        )
    if AppKind(app_kind).service_only and not ClientType(client_type).uses_keys:
        raise DomainError(
            422,
            "kind_mismatch",
            f"{app_kind} apps must be service apps",
            field="app_kind",
            text=Msg("Channel and privileged apps must be service apps: choose the service type."),
        )
    if AppKind(app_kind).team_only and not tenant.is_team:
        raise DomainError(
            422,
            "personal_tenant",
            "privileged apps are created only in team and enterprise tenants",
            field="app_kind",
            text=Msg("Enterprise-privileged apps are created only in team and enterprise tenants."),
        )


def _permissions(names: list[str] | None, app_kind: str = AppKind.NORMAL) -> list[str]:
    return permissions.validate(names if names is not None else [], app_kind)


_EDITABLE = ("name", "description", "redirect_uris", "permissions")


def update_app(
    actor: User,
    client_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    redirect_uris: list[str] | None = None,
    permissions: list[str] | None = None,
    client_type: str | None = None,
    app_kind: str | None = None,
    connector_id: int | None | object = UNCHANGED,
) -> App:
    """Edit what may change; `client_type` and `app_kind` may be repeated but never changed
    (422). `connector_id` binds a channel app to a connector of its tenant, None unbinds."""
    app = _app(actor, client_id, admin=True, lock=connector_id is not UNCHANGED)
    if client_type is not None and client_type != app.client_type:
        raise DomainError(422, "immutable_field", "client_type cannot change after creation")
    if app_kind is not None and app_kind != app.app_kind:
        raise DomainError(422, "immutable_field", "app_kind cannot change after creation")
    before = {f: getattr(app, f) for f in (*_EDITABLE, "connector_id")}
    changed: list[str] = []
    if connector_id is not UNCHANGED:
        _bind(app, connector_id)  # type: ignore[arg-type]
        changed.append("connector_id")
    if name is not None:
        app.name = values.name(name)
        changed.append("name")
    if description is not None:
        app.description = values.description(description)
        changed.append("description")
    if redirect_uris is not None:
        app.redirect_uris = values.redirect_uris(redirect_uris, app.client_type)
        changed.append("redirect_uris")
    if permissions is not None:
        app.permissions = _permissions(permissions, app.app_kind)
        changed.append("permissions")
    if changed:
        app.updated_at = _now()
    db.session.flush()
    audit.record(
        "app.update",
        tenant_id=app.tenant_id,
        actor_user_id=actor.id,
        target=client_id,
        fields=changed,
        # Before and after, for the values that differ: what a reader of the log wants.
        changes={f: [before[f], getattr(app, f)] for f in changed if before[f] != getattr(app, f)},
    )
    return app


def _bind(app: App, connector_id: int | None) -> None:
    """Bind (or rebind, or with None unbind) a channel app. Every change draws a new binding
    generation, so the tokens of the previous binding end at once and never come back."""
    if not app.needs_connector:
        raise DomainError(422, "not_channel_app", "only channel apps are bound to a connector")
    if connector_id is not None:
        connector = db.session.get(Connector, connector_id)
        if connector is None or connector.tenant_id != app.tenant_id:
            raise not_found("connector")
    app.connector_id = connector_id
    app.connector_binding = new_binding() if connector_id is not None else None


def new_binding() -> int:
    """A fresh binding generation: random, so no process need coordinate with another."""
    return 1 + secrets.randbelow(2**62)


def rotate_secret(actor: User, client_id: str, grace_hours: int = 0) -> str:
    """A new secret for a web app, returned once. The old one stops working at once, or with
    `grace_hours` keeps working beside the new one for that long (or until retired)."""
    app = _web_app(actor, client_id)
    if not isinstance(grace_hours, int) or not 0 <= grace_hours <= MAX_SECRET_GRACE_HOURS:
        raise DomainError(
            422,
            "invalid_value",
            Msg("grace_hours must be a whole number from 0 to %(max)d", max=MAX_SECRET_GRACE_HOURS),
            field="grace_hours",
        )
    secret = new_secret(CLIENT_SECRET)
    until = int(time.time()) + grace_hours * 3600 if grace_hours else None
    db.session.execute(
        update(App)
        .where(App.client_id == client_id)
        .values(
            client_secret_hash=digest(secret),
            previous_secret_hash=app.client_secret_hash if until else None,
            previous_secret_until=until,
            updated_at=_now(),
        )
    )
    db.session.refresh(app)
    audit.record(
        "app.secret_rotate",
        tenant_id=app.tenant_id,
        actor_user_id=actor.id,
        target=client_id,
        grace_hours=grace_hours,
    )
    return secret


def previous_secret_until(app: App) -> datetime | None:
    """When the rotated-away secret stops working, if it still works now."""
    if app.previous_secret_hash is None or (app.previous_secret_until or 0) <= time.time():
        return None
    return datetime.fromtimestamp(app.previous_secret_until or 0, UTC)


def retire_previous_secret(actor: User, client_id: str) -> App:
    """End a rotation's grace period now: only the current secret authenticates from here."""
    app = _web_app(actor, client_id)
    had_one = previous_secret_until(app) is not None
    db.session.execute(
        update(App)
        .where(App.client_id == client_id)
        .values(previous_secret_hash=None, previous_secret_until=None, updated_at=_now())
    )
    db.session.refresh(app)
    if had_one:
        audit.record(
            "app.secret_retire", tenant_id=app.tenant_id, actor_user_id=actor.id, target=client_id
        )
    return app


def rotation_effect(actor: User, client_id: str) -> dict[str, Any]:
    """What rotating would touch: no token ends (tokens do not depend on the secret)."""
    app = _web_app(actor, client_id)
    return {
        "live_tokens": audit.live_tokens(OAuthToken.client_id == client_id),
        "previous_until": previous_secret_until(app),
    }


def set_status(actor: User, client_id: str, status: str) -> App:
    """Enable or disable: one UPDATE; the access rule reads the status at every use."""
    app = _app(actor, client_id, admin=True)
    return _set_status(app, status, actor.id)


def _set_status(app: App, status: str, actor_id: int | None) -> App:
    if status not in STATUSES:
        raise DomainError(422, "invalid_value", "status must be 'enabled' or 'disabled'")
    db.session.execute(
        update(App).where(App.client_id == app.client_id).values(status=status, updated_at=_now())
    )
    db.session.refresh(app)
    action = "app.enable" if status == AppStatus.ENABLED else "app.disable"
    audit.record(action, tenant_id=app.tenant_id, actor_user_id=actor_id, target=app.client_id)
    return app


def delete_app(actor: User, client_id: str) -> None:
    """Delete for good: retire the client_id, then remove the app and its rows in bulk.

    Tokens stay behind as rows but are dead by the access rule (no app); codes go now.
    """
    app = _app(actor, client_id, admin=True, lock=True)
    _delete(app, actor.id)


def _delete(app: App, actor_id: int | None) -> None:
    client_id, tenant_id = app.client_id, app.tenant_id
    db.session.add(RetiredClientId(client_id=client_id, deleted_at=_now()))
    db.session.flush()
    # Explicit deletes rather than relying on ON DELETE CASCADE, which SQLite enforces only
    # when foreign keys are switched on per connection. The installations and consents
    # removed are the current ones: the tokens standing under them are the ones that end.
    ended: dict[type, list[int]] = {}
    dependent = (AppKey, Installation, InstallRefusal, Authorization, AuthorizationCode, DeviceCode)
    for model in dependent:
        statement = (
            delete(model)
            .where(model.client_id == client_id)
            .execution_options(synchronize_session=False)
        )
        if model in (Installation, Authorization):
            ended[model] = list(db.session.scalars(statement.returning(model.id)))
        else:
            db.session.execute(statement)
    db.session.execute(
        delete(App).where(App.client_id == client_id).execution_options(synchronize_session=False)
    )
    db.session.expunge(app)
    entry = audit.record(
        "app.delete",
        tenant_id=tenant_id,
        actor_user_id=actor_id,
        target=client_id,
        app_name=app.name,
    )
    audit.count_after_commit(
        entry,
        and_(
            OAuthToken.client_id == client_id,
            or_(
                OAuthToken.installation_id.is_(None),
                OAuthToken.installation_id.in_(ended[Installation]),
            ),
            or_(
                OAuthToken.authorization_id.is_(None),
                OAuthToken.authorization_id.in_(ended[Authorization]),
            ),
        ),
    )


# Operators (command line): any app, self-registered ones included


def operator_set_status(client_id: str, status: str) -> App:
    return _set_status(_any_app(client_id), status, None)


def platform_apps(registration: str | None = None) -> list[dict]:
    """Every app (or those registered one way), with its last use by any user or tenant."""
    used = func.max(func.coalesce(Authorization.last_used_at, Installation.last_used_at))
    query = (
        select(App, used.label("last_used_at"))
        .outerjoin(Authorization, Authorization.client_id == App.client_id)
        .outerjoin(Installation, Installation.client_id == App.client_id)
        .group_by(App.client_id)
        .order_by(App.created_at, App.client_id)
    )
    if registration is not None:
        query = query.where(App.registration == registration)
    return [
        {
            "client_id": app.client_id,
            "name": app.name,
            "registration": app.registration,
            "metadata_url": app.metadata_url,
            "tenant_id": str(app.tenant_id) if app.tenant_id is not None else None,
            "client_type": app.client_type,
            "status": app.status,
            "created_at": app.created_at.isoformat(),
            "last_used_at": last_used.isoformat() if last_used else None,
        }
        for app, last_used in db.session.execute(query).all()
    ]


def operator_delete(client_id: str) -> None:
    app = db.session.scalar(select(App).where(App.client_id == client_id).with_for_update())
    if app is None:
        raise not_found("app")
    _delete(app, None)


# Self-registered apps (RFC 7591/7592; server/oauth/registration.py validates the metadata)


def _registered_fields(metadata: dict) -> dict[str, Any]:
    """What a self-registered app's metadata sets, at registration and at each update."""
    return {
        "name": metadata.get("client_name") or "Unnamed client",
        "redirect_uris": list(dict.fromkeys(metadata["redirect_uris"])),
        "permissions": list(dict.fromkeys((metadata.get("scope") or "").split())),
        "client_metadata": metadata,
    }


def register_client(client_id: str, metadata: dict, client_secret: str | None) -> tuple[App, str]:
    """A self-registered app: no owning tenant; public (PKCE) unless it took a secret. Returns
    the app and its registration access token (RFC 7592), shown once and stored hashed."""
    token = new_secret(REGISTRATION_TOKEN)
    now = _now()
    app = App(
        client_id=client_id,
        tenant_id=None,
        description="",
        client_type=ClientType.WEB if client_secret else ClientType.PKCE,
        status=AppStatus.ENABLED,
        client_secret_hash=digest(client_secret) if client_secret else None,
        created_at=now,
        updated_at=now,
        registration=Registration.DYNAMIC,
        registration_token_hash=digest(token),
        **_registered_fields(metadata),
    )
    db.session.add(app)
    db.session.flush()
    audit.record("app.register", tenant_id=None, actor_user_id=None, target=client_id)
    return app, token


def register_metadata_document(url: str, document: dict, fields: dict) -> App:
    """The app standing for a Client ID Metadata Document (server/cimd.py fetched and checked
    it): public, no owning tenant, its own 19-digit client_id behind the document's URL."""
    now = _now()
    app = App(
        client_id=new_client_id(),
        tenant_id=None,
        description="",
        client_type=ClientType.PKCE,
        status=AppStatus.ENABLED,
        client_secret_hash=None,
        created_at=now,
        updated_at=now,
        registration=Registration.METADATA_DOCUMENT,
        metadata_url=url,
        **fields,
    )
    db.session.add(app)
    db.session.flush()
    audit.record("app.register", tenant_id=None, actor_user_id=None, target=app.client_id)
    return app


def registered_client(client_id: str) -> App | None:
    """A dynamically registered app by client_id; None for any other."""
    if not isinstance(client_id, str) or len(client_id) > 32:
        return None
    app = db.session.get(App, client_id)
    return app if app is not None and app.registration == Registration.DYNAMIC else None


def update_registered_client(app: App, metadata: dict) -> App:
    """RFC 7592 update: the metadata is replaced (the caller checked it keeps its auth method)."""
    for field, value in _registered_fields(metadata).items():
        setattr(app, field, value)
    app.updated_at = _now()
    db.session.flush()
    audit.record("app.update", tenant_id=None, actor_user_id=None, target=app.client_id)
    return app


def delete_registered_client(app: App) -> None:
    _delete(app, None)


# Keys of service apps


def _service_app(actor: User, client_id: str, *, admin: bool = False, lock: bool = False) -> App:
    app = _app(actor, client_id, admin=admin, lock=lock)
    if not app.uses_keys:
        raise DomainError(422, "not_service_app", Msg("only service apps have keys"))
    return app


def list_keys(actor: User, client_id: str) -> list[AppKey]:
    _service_app(actor, client_id)
    return list(
        db.session.scalars(select(AppKey).where(AppKey.client_id == client_id).order_by(AppKey.id))
    )


def add_key(
    actor: User, client_id: str, public_key_pem: str | None = None
) -> tuple[AppKey, str | None]:
    """Register an uploaded RSA public key, or generate a pair and return its private PEM once."""
    app = _service_app(actor, client_id, admin=True, lock=True)
    kids = set(db.session.scalars(select(AppKey.kid).where(AppKey.client_id == client_id)))
    limit = int(current_app.config["MAX_KEYS_PER_APP"])
    private_pem: str | None = None
    if public_key_pem is not None:
        try:
            public_key = load_public_key(public_key_pem)
        except KeyError_ as exc:
            raise DomainError(
                422,
                "invalid_key",
                str(exc),
                field="public_key",
                text=Msg(
                    "This is not a PEM RSA public key of %(bits)d bits or more.", bits=MIN_RSA_BITS
                ),
            ) from None
        if thumbprint(public_key) in kids:
            raise DomainError(
                409,
                "duplicate_key",
                Msg("this key is already registered for the app"),
                field="public_key",
            )
    if len(kids) >= limit:
        raise DomainError(
            409, "key_limit", Msg("an app may have at most %(limit)d keys", limit=limit)
        )
    if public_key_pem is None:
        private_pem, public_key = generate_key_pair()
    key = AppKey(
        client_id=client_id,
        kid=thumbprint(public_key),
        public_key_pem=pem_of(public_key),
        created_at=_now(),
    )
    db.session.add(key)
    db.session.flush()
    audit.record(
        "key.add",
        tenant_id=app.tenant_id,
        actor_user_id=actor.id,
        target=client_id,
        kid=key.kid,
        generated=private_pem is not None,
    )
    return key, private_pem


def key_removal_effect(actor: User, client_id: str, kid: str) -> dict[str, Any]:
    """What removing a key would do: how many keys would remain; tokens already issued keep
    working until they expire."""
    _service_app(actor, client_id, admin=True)
    kids = list(db.session.scalars(select(AppKey.kid).where(AppKey.client_id == client_id)))
    if kid not in kids:
        raise not_found("key")
    return {
        "remaining": len(kids) - 1,
        "live_tokens": audit.live_tokens(OAuthToken.client_id == client_id),
    }


def delete_key(actor: User, client_id: str, kid: str) -> None:
    app = _service_app(actor, client_id, admin=True)
    result = db.session.execute(
        delete(AppKey).where(AppKey.client_id == client_id, AppKey.kid == kid)
    )
    if result.rowcount == 0:
        raise not_found("key")
    audit.record(
        "key.delete", tenant_id=app.tenant_id, actor_user_id=actor.id, target=client_id, kid=kid
    )


# Installations


def _installation(tenant_id: int, client_id: str, *, lock: bool = False) -> Installation | None:
    stmt = select(Installation).where(
        Installation.tenant_id == tenant_id, Installation.client_id == client_id
    )
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def _install(actor: User, tenant_id: int, app: App, kind: str) -> Installation:
    installation = _installation(tenant_id, app.client_id, lock=True)
    action = "installation.install"
    detail: dict[str, Any] = {"kind": kind}
    if installation is None:
        installation = Installation(tenant_id=tenant_id, client_id=app.client_id, kind=kind)
        db.session.add(installation)
    elif installation.status == InstallationStatus.INSTALLED:
        detail["unchanged"] = True
    else:
        # A pending request has no tokens, so approving it in place revives nothing.
        action = "installation.approve"
    if installation.status != InstallationStatus.INSTALLED:  # new, or approved now
        installation.status = InstallationStatus.INSTALLED
        installation.installed_by = actor.id
        installation.installed_at = _now()
        db.session.flush()
    audit.record(
        action, tenant_id=tenant_id, actor_user_id=actor.id, target=app.client_id, **detail
    )
    return installation


def authorize_service_app(actor: User, client_id: str) -> Installation:
    """The owner tenant's admin makes a service app an installed AppAuth app in that tenant."""
    app = _app(actor, client_id, admin=True)
    if app.signs_users_in:
        raise DomainError(422, "not_service_app", "only service apps are authorized this way")
    return _install(actor, app.tenant_id, app, AuthType.APPAUTH)


def install(actor: User, tenant_id: int, client_id: str, kind: str) -> Installation:
    """Install an app (of any tenant) in this tenant, or approve a pending request.

    `kind` must suit the app: `appauth` for service apps, `obo` for the others; OBO apps need
    no installation in a personal tenant, so installing one there is a 422.
    """
    tenant, _ = require_role(actor, tenant_id, admin=True)
    app = _any_app(client_id)
    if app.app_kind == AppKind.PRIVILEGED and app.tenant_id != tenant_id:
        raise DomainError(
            422,
            "kind_mismatch",
            "a privileged app acts only in the enterprise that owns it",
            field="client_id",
            text=Msg("An enterprise-privileged app acts only in the enterprise that owns it."),
        )
    expected = ClientType(app.client_type).auth_type
    if kind not in OAUTH_AUTH_TYPES:
        raise DomainError(
            422,
            "invalid_value",
            "kind must be 'obo' or 'appauth'",
            field="kind",
            text=Msg("Choose how the app is installed."),
        )
    if kind != expected:
        raise DomainError(
            422,
            "kind_mismatch",
            f"{app.client_type} apps are installed as {expected!r}",
            field="kind",
            text=Msg("Service apps are installed to act as themselves (AppAuth).")
            if expected == AuthType.APPAUTH
            else Msg("Apps that act for people are installed as OBO."),
        )
    if kind not in tenant.installation_kinds:
        raise DomainError(
            422,
            "personal_tenant",
            Msg("OBO apps are installed only in team and enterprise tenants"),
            field="kind",
        )
    return _install(actor, tenant_id, app, kind)


def request_installation(user: User, tenant_id: int, client_id: str) -> Installation:
    """A member asks their team to install an OBO app: a pending installation (kept if any)."""
    tenant, _ = require_role(user, tenant_id)
    app = _any_app(client_id)
    if not app.signs_users_in:
        raise DomainError(422, "kind_mismatch", Msg("service apps are installed by an admin"))
    if not tenant.is_team:
        raise DomainError(
            422,
            "personal_tenant",
            Msg("OBO apps are installed only in team and enterprise tenants"),
        )
    existing = _installation(tenant_id, client_id)
    if existing is not None:
        return existing
    # Asking again after a refusal: the new request replaces the refusal in My requests.
    db.session.execute(
        delete(InstallRefusal).where(
            InstallRefusal.requested_by == user.id,
            InstallRefusal.tenant_id == tenant_id,
            InstallRefusal.client_id == client_id,
        )
    )
    installation = Installation(
        tenant_id=tenant_id,
        client_id=client_id,
        kind=AuthType.OBO,
        status=InstallationStatus.PENDING,
        requested_by=user.id,
        requested_at=_now(),
    )
    db.session.add(installation)
    db.session.flush()
    audit.record(
        "installation.request", tenant_id=tenant_id, actor_user_id=user.id, target=client_id
    )
    return installation


def _installation_tokens(tenant_id: int, client_id: str, installation_id: int) -> Any:
    return and_(
        OAuthToken.client_id == client_id,  # the leading columns of an index
        OAuthToken.tenant_id == tenant_id,
        OAuthToken.installation_id == installation_id,
    )


def uninstall_effect(actor: User, tenant_id: int, client_id: str) -> dict[str, Any]:
    """What uninstalling would end: the tenant, the app and its live tokens there."""
    tenant, _ = require_role(actor, tenant_id, admin=True)
    installation = _installation(tenant_id, client_id)
    if installation is None:
        raise not_found("installation")
    return {
        "tenant": tenant,
        "app": _any_app(client_id),
        "installation": installation,
        "live_tokens": audit.live_tokens(
            _installation_tokens(tenant_id, client_id, installation.id)
        ),
    }


def uninstall(actor: User, tenant_id: int, client_id: str) -> None:
    """Delete the installation row (or refuse a pending request); its tokens die with it.
    A refused request is kept as a refusal for the member who asked (My requests)."""
    require_role(actor, tenant_id, admin=True)
    removed = db.session.execute(
        delete(Installation)
        .where(Installation.tenant_id == tenant_id, Installation.client_id == client_id)
        .returning(
            Installation.id,
            Installation.status,
            Installation.requested_by,
            Installation.requested_at,
        )
    ).first()
    if removed is None:
        raise not_found("installation")
    installation_id, status, requested_by, requested_at = removed
    refused = status == InstallationStatus.PENDING
    if refused and requested_by is not None:
        db.session.add(
            InstallRefusal(
                tenant_id=tenant_id,
                client_id=client_id,
                requested_by=requested_by,
                refused_by=actor.id,
                requested_at=requested_at,
                refused_at=_now(),
            )
        )
    entry = audit.record(
        "installation.uninstall",
        tenant_id=tenant_id,
        actor_user_id=actor.id,
        target=client_id,
        **({"refused": True} if refused else {}),
    )
    audit.count_after_commit(entry, _installation_tokens(tenant_id, client_id, installation_id))


def list_installations(actor: User, tenant_id: int) -> list[tuple[Installation, App]]:
    require_role(actor, tenant_id)
    rows = db.session.execute(
        select(Installation, App)
        .join(App, App.client_id == Installation.client_id)
        .where(Installation.tenant_id == tenant_id)
        .order_by(Installation.id)
    ).all()
    return [(i, a) for i, a in rows]


def pending_requests(actor: User) -> dict[int, int]:
    """How many installation requests wait in each tenant where the actor is an admin."""
    admin_of = select(Membership.tenant_id).where(
        Membership.user_id == actor.id, Membership.role.in_(ADMIN_ROLES)
    )
    rows = db.session.execute(
        select(Installation.tenant_id, func.count())
        .where(
            Installation.status == InstallationStatus.PENDING, Installation.tenant_id.in_(admin_of)
        )
        .group_by(Installation.tenant_id)
    ).all()
    return {tenant_id: count for tenant_id, count in rows}


@dataclass(frozen=True)
class MyRequest:
    """One of my installation requests: pending, installed (approved) or refused."""

    app: App
    tenant: Tenant
    status: str
    requested_at: datetime | None
    decided_at: datetime | None


def my_requests(user: User) -> list[MyRequest]:
    """The installations the user asked for, waiting, approved or refused, newest first. A
    refusal is not listed once the app is installed in that tenant after all."""
    asked = db.session.execute(
        select(Installation, App, Tenant)
        .join(App, App.client_id == Installation.client_id)
        .join(Tenant, Tenant.id == Installation.tenant_id)
        .where(Installation.requested_by == user.id)
    ).all()
    refused = db.session.execute(
        select(InstallRefusal, App, Tenant)
        .join(App, App.client_id == InstallRefusal.client_id)
        .join(Tenant, Tenant.id == InstallRefusal.tenant_id)
        .where(
            InstallRefusal.requested_by == user.id,
            ~exists().where(
                Installation.tenant_id == InstallRefusal.tenant_id,
                Installation.client_id == InstallRefusal.client_id,
                Installation.status == InstallationStatus.INSTALLED,
            ),
        )
    ).all()
    rows = [MyRequest(a, t, i.status, i.requested_at, i.installed_at) for i, a, t in asked]
    rows += [
        MyRequest(a, t, RequestStatus.REFUSED, r.requested_at, r.refused_at) for r, a, t in refused
    ]
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(rows, key=lambda r: r.requested_at or oldest, reverse=True)


# A user's consents


def list_authorizations(user: User) -> list[tuple[Authorization, App]]:
    rows = db.session.execute(
        select(Authorization, App)
        .join(App, App.client_id == Authorization.client_id)
        .where(Authorization.user_id == user.id)
        .order_by(Authorization.created_at.desc(), Authorization.id.desc())
    ).all()
    return [(a, app) for a, app in rows]


def _authorization_tokens(user_id: int, client_id: str, authorization_id: int) -> Any:
    return and_(
        OAuthToken.user_id == user_id,  # the leading columns of an index
        OAuthToken.client_id == client_id,
        OAuthToken.authorization_id == authorization_id,
    )


def authorized_places(user: User, client_ids: list[str]) -> dict[str, list[str]]:
    """Where each of the user's authorized apps holds live tokens for them: "tenant ·
    workspace" names, from one query (the user's tokens, by index)."""
    if not client_ids:
        return {}
    now = int(time.time())
    rows = db.session.execute(
        select(OAuthToken.client_id, Tenant.name, Workspace.name)
        .distinct()
        .join(Tenant, Tenant.id == OAuthToken.tenant_id)
        .outerjoin(Workspace, Workspace.id == OAuthToken.workspace_id)
        .where(
            OAuthToken.user_id == user.id,
            OAuthToken.client_id.in_(client_ids),
            or_(
                and_(OAuthToken.revoked.is_(False), OAuthToken.expires_at > now),
                and_(OAuthToken.refresh_revoked.is_(False), OAuthToken.refresh_expires_at > now),
            ),
        )
    ).all()
    places: dict[str, list[str]] = {}
    for client_id, tenant, workspace in rows:
        places.setdefault(client_id, []).append(f"{tenant} · {workspace}" if workspace else tenant)
    return {k: sorted(v) for k, v in places.items()}


def revoke_effect(user: User, client_id: str) -> dict[str, Any]:
    """What revoking the user's consent would end: the app and the user's live tokens for it."""
    row = db.session.execute(
        select(Authorization, App)
        .join(App, App.client_id == Authorization.client_id)
        .where(Authorization.user_id == user.id, Authorization.client_id == client_id)
    ).first()
    if row is None:
        raise not_found("authorization")
    authorization, app = row
    return {
        "app": app,
        "authorization": authorization,
        "live_tokens": audit.live_tokens(
            _authorization_tokens(user.id, client_id, authorization.id)
        ),
    }


def revoke_authorization(user: User, client_id: str) -> None:
    """Withdraw the user's consent: one DELETE; the tokens issued under it die with it."""
    removed = db.session.scalar(
        delete(Authorization)
        .where(Authorization.user_id == user.id, Authorization.client_id == client_id)
        .returning(Authorization.id)
    )
    if removed is None:
        raise not_found("authorization")
    personal = accounts.personal_tenant(user.id)
    audit.record(
        "authorization.revoke",
        tenant_id=personal.id if personal else None,
        actor_user_id=user.id,
        target=client_id,
        destroyed_tokens=audit.live_tokens(_authorization_tokens(user.id, client_id, removed)),
    )
