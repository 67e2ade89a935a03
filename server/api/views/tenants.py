"""Tenants, members, workspaces and the audit trail."""

from __future__ import annotations

from server import tenants
from server.api.routing import route
from server.api.schemas import (
    AuditEntryOut,
    AuditList,
    AuditQuery,
    MemberCreate,
    MemberList,
    MemberOut,
    MemberUpdate,
    TenantCreate,
    TenantList,
    TenantOut,
    WorkspaceCreate,
    WorkspaceList,
    WorkspaceOut,
)
from server.models import User


@route(
    "GET",
    "/tenants",
    summary="Tenants I belong to, with my role",
    tag="tenants",
    response=TenantList,
)
def list_tenants(user: User) -> TenantList:
    return TenantList(items=[TenantOut.of(t, r) for t, r in tenants.list_tenants(user)])


@route(
    "POST",
    "/tenants",
    summary="Create a team or enterprise tenant; I become its super_admin",
    tag="tenants",
    status=201,
    body=TenantCreate,
    response=TenantOut,
    errors=(422,),
)
def create_tenant(user: User, body: TenantCreate) -> TenantOut:
    tenant = tenants.create_team_tenant(user, body.name, body.edition)
    return TenantOut.of(tenant, "super_admin")


@route("GET", "/tenants/<tenant_id>", summary="One tenant", tag="tenants", response=TenantOut)
def get_tenant(user: User, tenant_id: int) -> TenantOut:
    return TenantOut.of(*tenants.get_tenant(user, tenant_id))


@route(
    "GET",
    "/tenants/<tenant_id>/members",
    summary="Members and their roles",
    tag="members",
    response=MemberList,
)
def list_members(user: User, tenant_id: int) -> MemberList:
    return MemberList(items=[MemberOut.of(u, m) for u, m in tenants.list_members(user, tenant_id)])


@route(
    "POST",
    "/tenants/<tenant_id>/members",
    summary="Add an existing user to a team or enterprise tenant",
    description="Admins only; only a super_admin may add a super_admin. A personal tenant has "
    "one owner: adding a member to it is a 422 `personal_tenant`. An unknown email is a 404; "
    "an existing member a 409 `already_member`.",
    tag="members",
    status=201,
    body=MemberCreate,
    response=MemberOut,
    errors=(403, 409, 422),
)
def add_member(user: User, tenant_id: int, body: MemberCreate) -> MemberOut:
    return MemberOut.of(*tenants.add_member(user, tenant_id, body.email, body.role))


@route(
    "PATCH",
    "/tenants/<tenant_id>/members/<user_id>",
    summary="Change a member's role",
    description="Admins only; super_admin roles are given and taken only by a super_admin. "
    "Demoting the last super_admin is a 409 `last_super_admin`.",
    tag="members",
    body=MemberUpdate,
    response=MemberOut,
    errors=(403, 409, 422),
)
def update_member(user: User, tenant_id: int, user_id: int, body: MemberUpdate) -> MemberOut:
    return MemberOut.of(*tenants.update_member(user, tenant_id, user_id, body.role))


@route(
    "DELETE",
    "/tenants/<tenant_id>/members/<user_id>",
    summary="Remove a member",
    description="Admins only; only a super_admin removes a super_admin, and never the last one "
    "(409 `last_super_admin`). The member's delegated (OBO) tokens and pending codes in the "
    "tenant end at once.",
    tag="members",
    errors=(403, 409),
)
def remove_member(user: User, tenant_id: int, user_id: int) -> None:
    tenants.remove_member(user, tenant_id, user_id)


@route(
    "GET",
    "/tenants/<tenant_id>/workspaces",
    summary="Workspaces of a tenant",
    tag="workspaces",
    response=WorkspaceList,
)
def list_workspaces(user: User, tenant_id: int) -> WorkspaceList:
    items = [WorkspaceOut.of(w) for w in tenants.list_workspaces(user, tenant_id)]
    return WorkspaceList(items=items)


@route(
    "POST",
    "/tenants/<tenant_id>/workspaces",
    summary="Create a workspace",
    tag="workspaces",
    status=201,
    body=WorkspaceCreate,
    response=WorkspaceOut,
    errors=(403, 422),
)
def create_workspace(user: User, tenant_id: int, body: WorkspaceCreate) -> WorkspaceOut:
    return WorkspaceOut.of(tenants.create_workspace(user, tenant_id, body.name))


@route(
    "GET",
    "/tenants/<tenant_id>/audit",
    summary="The tenant's audit trail, newest first",
    description="Admins only. Page on with `before` set to the last id received.",
    tag="audit",
    query=AuditQuery,
    response=AuditList,
    errors=(403, 422),
)
def list_audit(user: User, tenant_id: int, query: AuditQuery) -> AuditList:
    entries = tenants.audit_entries(user, tenant_id, limit=query.limit, before=query.before)
    return AuditList(items=[AuditEntryOut.of(e) for e in entries])
