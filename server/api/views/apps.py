"""Apps and their service keys."""

from __future__ import annotations

from grants.vocabulary import AppStatus
from server import clients
from server.api.routing import route
from server.api.schemas import (
    AppCreate,
    AppList,
    AppOut,
    AppUpdate,
    AppWithSecret,
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyOut,
    SecretRotate,
)
from server.limits import MAX_SECRET_GRACE_HOURS
from server.models import User


@route(
    "GET",
    "/tenants/<tenant_id>/apps",
    summary="Apps owned by a tenant",
    tag="apps",
    response=AppList,
)
def list_apps(user: User, tenant_id: int) -> AppList:
    return AppList(items=[AppOut.of(a) for a in clients.list_apps(user, tenant_id)])


@route(
    "POST",
    "/tenants/<tenant_id>/apps",
    summary="Create an app; a web app's client_secret is in this response only",
    description="Admins only (in a personal tenant, its owner). Quota: 10 apps per personal "
    "tenant, 100 per team or enterprise tenant (409 `quota_exceeded`). Redirect URIs are "
    "absolute, matched exactly, without fragment, https or http on a loopback host "
    "(localhost, 127.0.0.0/8, [::1]); pkce apps may also use a private-use scheme holding a "
    "dot, such as `com.example.app:/callback`. `app_kind` channel or privileged needs "
    "`client_type` service (422 `kind_mismatch`); privileged apps only in team and enterprise "
    "tenants (422 `personal_tenant`). Apps of every kind count toward the quota.",
    tag="apps",
    status=201,
    body=AppCreate,
    response=AppWithSecret,
    errors=(403, 409, 422),
)
def create_app(user: User, tenant_id: int, body: AppCreate) -> AppWithSecret:
    app, secret = clients.register_app(
        user,
        tenant_id,
        name=body.name,
        client_type=body.client_type,
        description=body.description,
        redirect_uris=body.redirect_uris,
        permissions=body.permissions,
        app_kind=body.app_kind,
    )
    return AppWithSecret.with_secret(app, secret)


@route("GET", "/apps/<client_id>", summary="One app", tag="apps", response=AppOut)
def get_app(user: User, client_id: str) -> AppOut:
    return AppOut.of(clients.get_app(user, client_id))


@route(
    "PATCH",
    "/apps/<client_id>",
    summary="Edit an app",
    description="`client_type` and `app_kind` never change: a different value is a 422 "
    "`immutable_field`. `connector_id` binds a channel app (422 `not_channel_app` for others; "
    "404 for a connector of another tenant); null unbinds; every change of binding ends the "
    "tokens issued under the previous one.",
    tag="apps",
    body=AppUpdate,
    response=AppOut,
    errors=(403, 422),
)
def update_app(user: User, client_id: str, body: AppUpdate) -> AppOut:
    app = clients.update_app(
        user,
        client_id,
        name=body.name,
        description=body.description,
        redirect_uris=body.redirect_uris,
        permissions=body.permissions,
        client_type=body.client_type,
        app_kind=body.app_kind,
        connector_id=(int(body.connector_id) if body.connector_id is not None else None)
        if "connector_id" in body.model_fields_set
        else clients.UNCHANGED,
    )
    return AppOut.of(app)


@route(
    "DELETE",
    "/apps/<client_id>",
    summary="Delete an app for good; its client_id is never used again",
    tag="apps",
    errors=(403,),
)
def delete_app(user: User, client_id: str) -> None:
    clients.delete_app(user, client_id)


@route(
    "POST",
    "/apps/<client_id>/enable",
    summary="Enable an app; its unexpired tokens work again",
    tag="apps",
    response=AppOut,
    errors=(403,),
)
def enable_app(user: User, client_id: str) -> AppOut:
    return AppOut.of(clients.set_status(user, client_id, AppStatus.ENABLED))


@route(
    "POST",
    "/apps/<client_id>/disable",
    summary="Disable an app; all its tokens are suspended at once",
    tag="apps",
    response=AppOut,
    errors=(403,),
)
def disable_app(user: User, client_id: str) -> AppOut:
    return AppOut.of(clients.set_status(user, client_id, AppStatus.DISABLED))


@route(
    "POST",
    "/apps/<client_id>/secret",
    summary="Rotate a web app's secret; the new one is in this response only",
    description=f"With `grace_hours` (up to {MAX_SECRET_GRACE_HOURS}) the old secret keeps "
    "working beside the new one until `previous_secret_expires_at`; without it, it stops at "
    "once. Tokens already issued are not affected either way.",
    tag="apps",
    body=SecretRotate,
    body_required=False,
    response=AppWithSecret,
    errors=(403, 422),
)
def rotate_secret(user: User, client_id: str, body: SecretRotate) -> AppWithSecret:
    secret = clients.rotate_secret(user, client_id, body.grace_hours)
    return AppWithSecret.with_secret(clients.get_app(user, client_id), secret)


@route(
    "POST",
    "/apps/<client_id>/secret/retire",
    summary="End a rotation's grace period: the old secret stops working now",
    tag="apps",
    response=AppOut,
    errors=(403, 422),
)
def retire_secret(user: User, client_id: str) -> AppOut:
    return AppOut.of(clients.retire_previous_secret(user, client_id))


@route(
    "GET",
    "/apps/<client_id>/keys",
    summary="A service app's public keys",
    tag="keys",
    response=KeyList,
    errors=(422,),
)
def list_keys(user: User, client_id: str) -> KeyList:
    return KeyList(items=[KeyOut.of(k) for k in clients.list_keys(user, client_id)])


@route(
    "POST",
    "/apps/<client_id>/keys",
    summary="Generate a key pair (no body, or {}) or register an uploaded public key",
    description="Service apps only (422 `not_service_app`). A generated pair's PKCS#8 private "
    "key is in this response only. Uploads must be PEM RSA public keys of 2048 bits or more "
    "(422 `invalid_key`). At most 3 keys per app (409 `key_limit`); the same key twice is a "
    "409 `duplicate_key`.",
    tag="keys",
    status=201,
    body=KeyCreate,
    body_required=False,
    response=KeyCreated,
    errors=(403, 409, 422),
)
def add_key(user: User, client_id: str, body: KeyCreate) -> KeyCreated:
    key, private_pem = clients.add_key(user, client_id, body.public_key)
    return KeyCreated(**KeyOut.of(key).model_dump(), private_key=private_pem)


@route(
    "DELETE",
    "/apps/<client_id>/keys/<kid>",
    summary="Remove a key; assertions signed with it are refused from now on",
    tag="keys",
    errors=(403, 422),
)
def delete_key(user: User, client_id: str, kid: str) -> None:
    clients.delete_key(user, client_id, kid)
