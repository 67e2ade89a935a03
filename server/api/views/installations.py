"""Installations of apps in tenants, and the owner's authorization of service apps."""

from __future__ import annotations

from server import clients
from server.api.routing import route
from server.api.schemas import InstallationList, InstallationOut, InstallationPut
from server.extensions import db
from server.models import App, User


@route(
    "GET",
    "/tenants/<tenant_id>/installations",
    summary="Apps installed in (or requested for) a tenant",
    tag="installations",
    response=InstallationList,
)
def list_installations(user: User, tenant_id: int) -> InstallationList:
    items = [InstallationOut.of(i, a) for i, a in clients.list_installations(user, tenant_id)]
    return InstallationList(items=items)


@route(
    "PUT",
    "/tenants/<tenant_id>/installations/<client_id>",
    summary="Install an app in a tenant, or approve a pending request",
    description="Admins of the installing tenant only. The app may belong to any tenant "
    "(cross-account). `kind` must suit the app: `appauth` for service apps, `obo` for the "
    "others (422 `kind_mismatch`); `obo` only in team and enterprise tenants (422 "
    "`personal_tenant`). Installing again is a no-op; after an uninstall a new installation "
    "is made, and tokens of the old one stay dead.",
    tag="installations",
    body=InstallationPut,
    response=InstallationOut,
    errors=(403, 409, 422),
)
def put_installation(
    user: User, tenant_id: int, client_id: str, body: InstallationPut
) -> InstallationOut:
    installation = clients.install(user, tenant_id, client_id, body.kind)
    return InstallationOut.of(installation, db.session.get(App, client_id))


@route(
    "DELETE",
    "/tenants/<tenant_id>/installations/<client_id>",
    summary="Uninstall an app (or refuse a pending request); its tokens here stop working",
    tag="installations",
    errors=(403,),
)
def delete_installation(user: User, tenant_id: int, client_id: str) -> None:
    clients.uninstall(user, tenant_id, client_id)


@route(
    "POST",
    "/apps/<client_id>/authorize",
    summary="Authorize a service app in its own tenant (an installed AppAuth app)",
    description="Admins of the owner tenant only; 422 `not_service_app` for other types.",
    tag="installations",
    response=InstallationOut,
    errors=(403, 409, 422),
)
def authorize_app(user: User, client_id: str) -> InstallationOut:
    installation = clients.authorize_service_app(user, client_id)
    return InstallationOut.of(installation, db.session.get(App, client_id))
