"""Connectors (custom publish channels) and service access tokens of a tenant."""

from __future__ import annotations

from server import connectors, service_tokens
from server.api.routing import route
from server.api.schemas import (
    ConnectorCreate,
    ConnectorList,
    ConnectorOut,
    ConnectorUpdate,
    ServiceTokenCreate,
    ServiceTokenCreated,
    ServiceTokenList,
    ServiceTokenOut,
)
from server.models import User


@route(
    "GET",
    "/tenants/<tenant_id>/connectors",
    summary="A tenant's connectors (custom publish channels)",
    tag="connectors",
    response=ConnectorList,
)
def list_connectors(user: User, tenant_id: int) -> ConnectorList:
    return ConnectorList(
        items=[ConnectorOut.of(c) for c in connectors.list_connectors(user, tenant_id)]
    )


@route(
    "POST",
    "/tenants/<tenant_id>/connectors",
    summary="Define a connector, to which channel apps are then bound",
    description="Admins of team and enterprise tenants (422 `personal_tenant` otherwise); at "
    "most 100 per tenant (409 `quota_exceeded`).",
    tag="connectors",
    status=201,
    body=ConnectorCreate,
    response=ConnectorOut,
    errors=(403, 409, 422),
)
def create_connector(user: User, tenant_id: int, body: ConnectorCreate) -> ConnectorOut:
    connector = connectors.create_connector(
        user, tenant_id, name=body.name, description=body.description
    )
    return ConnectorOut.of(connector)


@route(
    "GET", "/connectors/<connector_id>", summary="One connector", tag="connectors",
    response=ConnectorOut,
)  # fmt: skip
def get_connector(user: User, connector_id: int) -> ConnectorOut:
    return ConnectorOut.of(connectors.get_connector(user, connector_id))


@route(
    "PATCH",
    "/connectors/<connector_id>",
    summary="Rename or describe a connector",
    tag="connectors",
    body=ConnectorUpdate,
    response=ConnectorOut,
    errors=(403, 422),
)
def update_connector(user: User, connector_id: int, body: ConnectorUpdate) -> ConnectorOut:
    connector = connectors.update_connector(
        user, connector_id, name=body.name, description=body.description
    )
    return ConnectorOut.of(connector)


@route(
    "DELETE",
    "/connectors/<connector_id>",
    summary="Delete a connector; the channel apps bound to it are unbound and their tokens end",
    tag="connectors",
    errors=(403,),
)
def delete_connector(user: User, connector_id: int) -> None:
    connectors.delete_connector(user, connector_id)


@route(
    "GET",
    "/tenants/<tenant_id>/service-tokens",
    summary="A tenant's service access tokens, with when each was last used",
    description="Admins only. The tokens themselves are never shown again.",
    tag="service-tokens",
    response=ServiceTokenList,
    errors=(403,),
)
def list_service_tokens(user: User, tenant_id: int) -> ServiceTokenList:
    items = service_tokens.list_service_tokens(user, tenant_id)
    return ServiceTokenList(items=[ServiceTokenOut.of(t) for t in items])


@route(
    "POST",
    "/tenants/<tenant_id>/service-tokens",
    summary="Issue a service access token (SAT); the token is in this response only",
    description="Admins only. Permissions from the standard catalogue; the workspaces must be "
    "the tenant's (422). At most 100 per tenant (409 `quota_exceeded`). Resource servers "
    'introspect it like an OAuth token (`auth_type: "sat"`).',
    tag="service-tokens",
    status=201,
    body=ServiceTokenCreate,
    response=ServiceTokenCreated,
    errors=(403, 409, 422),
)
def create_service_token(
    user: User, tenant_id: int, body: ServiceTokenCreate
) -> ServiceTokenCreated:
    token, secret = service_tokens.create_service_token(
        user,
        tenant_id,
        name=body.name,
        permission_names=list(body.permissions),
        workspace_ids=[int(w) for w in body.workspace_ids],
        expires_in_days=body.expires_in_days,
    )
    return ServiceTokenCreated(**ServiceTokenOut.fields_of(token), token=secret)


@route(
    "DELETE",
    "/service-tokens/<service_token_id>",
    summary="Revoke a service access token; it is inactive from the next introspection on",
    tag="service-tokens",
    errors=(403,),
)
def revoke_service_token(user: User, service_token_id: int) -> None:
    service_tokens.revoke_service_token(user, service_token_id)
