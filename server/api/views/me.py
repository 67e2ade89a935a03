"""The caller: who I am, the apps I have authorized, and the permission catalogue."""

from __future__ import annotations

from server import clients, permissions
from server.api.routing import route
from server.api.schemas import (
    AuthorizedAppList,
    AuthorizedAppOut,
    PermissionList,
    PermissionOut,
    PermissionQuery,
    UserOut,
)
from server.models import User


@route("GET", "/me", summary="The signed-in user", tag="me", response=UserOut)
def get_me(user: User) -> UserOut:
    return UserOut.of(user)


@route(
    "GET",
    "/me/authorized-apps",
    summary="Apps I have authorized (my consents)",
    tag="me",
    response=AuthorizedAppList,
)
def list_authorized_apps(user: User) -> AuthorizedAppList:
    items = [AuthorizedAppOut.of(a, app) for a, app in clients.list_authorizations(user)]
    return AuthorizedAppList(items=items)


@route(
    "DELETE",
    "/me/authorized-apps/<client_id>",
    summary="Revoke my consent to an app; its tokens for me stop working at once",
    tag="me",
)
def revoke_authorized_app(user: User, client_id: str) -> None:
    clients.revoke_authorization(user, client_id)


@route(
    "GET",
    "/permissions",
    summary="The permission catalogue",
    description="`?app_kind=privileged` lists the enterprise administration catalogue, which "
    "only privileged apps may ask for.",
    tag="permissions",
    query=PermissionQuery,
    response=PermissionList,
)
def list_permissions(user: User, query: PermissionQuery) -> PermissionList:
    catalogue = permissions.catalogue_for(query.app_kind)
    items = [PermissionOut(name=n, description=d) for n, d in catalogue.items()]
    return PermissionList(items=items)
