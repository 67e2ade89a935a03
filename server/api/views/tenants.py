"""Tenants, members, workspaces and the audit trail."""

from __future__ import annotations

from grants.vocabulary import Role
from server import tenants
from server.api.routing import route
from server.api.schemas import (
    AuditEntryOut,
    AuditList,
    AuditQuery,
    InvitationCreated,
    InvitationList,
    InvitationOut,
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
    return TenantOut.of(tenant, Role.SUPER_ADMIN)


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
    summary="Invite someone, by email, to a team or enterprise tenant",
    description="Admins only; only a super_admin may invite a super_admin. Nobody becomes a "
    "member without accepting: this creates an invitation, valid for "
    f"{tenants.INVITATION_DAYS} days, and answers 202 "
    "with it, the same whether or not an account has that email. Inviting an email again "
    "renews its pending invitation. A personal tenant has one owner: inviting to it is a 422 "
    "`personal_tenant`; an existing member's email is a 409 `already_member`.",
    tag="members",
    status=202,
    body=MemberCreate,
    response=InvitationCreated,
    errors=(403, 409, 422),
)
def add_member(user: User, tenant_id: int, body: MemberCreate) -> InvitationCreated:
    invitation = tenants.invite(user, tenant_id, body.email, body.role)
    tenant, _ = tenants.get_tenant(user, tenant_id)
    return InvitationCreated(invitation=InvitationOut.of(invitation, tenant))


@route(
    "GET",
    "/tenants/<tenant_id>/invitations",
    summary="The tenant's pending invitations",
    description="Admins only. An invitation past its expiry shows `status` `expired`.",
    tag="members",
    response=InvitationList,
    errors=(403,),
)
def list_invitations(user: User, tenant_id: int) -> InvitationList:
    tenant, _ = tenants.get_tenant(user, tenant_id)
    items = [InvitationOut.of(i, tenant) for i in tenants.list_invitations(user, tenant_id)]
    return InvitationList(items=items)


@route(
    "DELETE",
    "/tenants/<tenant_id>/invitations/<invitation_id>",
    summary="Cancel a pending invitation",
    description="Admins only.",
    tag="members",
    errors=(403,),
)
def cancel_invitation(user: User, tenant_id: int, invitation_id: int) -> None:
    tenants.cancel_invitation(user, tenant_id, invitation_id)


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
    description="Admins only. Page on with `before` set to the last id received. Narrow with "
    "`action`, `actor_user_id` and `client_id` (combined, every one must match); a value that "
    "is not an action code or an id is a 400.",
    tag="audit",
    query=AuditQuery,
    response=AuditList,
    errors=(403, 422),
)
def list_audit(user: User, tenant_id: int, query: AuditQuery) -> AuditList:
    entries = tenants.audit_entries(
        user,
        tenant_id,
        limit=query.limit,
        before=query.before,
        action=query.action,
        actor_user_id=int(query.actor_user_id) if query.actor_user_id else None,
        target=query.client_id,
    )
    return AuditList(items=[AuditEntryOut.of(e) for e in entries])
