"""Tenants, their members and roles, their workspaces and their audit trail.

Functions take the acting user, check their role and raise DomainError; they flush, and the
caller commits. A tenant the actor does not belong to is reported as absent (404), so that
its existence does not leak.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, select

from grants.vocabulary import (
    ADMIN_ROLES,
    TEAM_EDITIONS,
    AuthType,
    DeviceCodeStatus,
    Edition,
    InvitationStatus,
    Role,
)
from server import accounts, audit, values
from server.errors import DomainError, Msg, forbidden, not_found
from server.extensions import db
from server.limits import MAX_AUDIT_PAGE
from server.models import (
    AuditEntry,
    AuthorizationCode,
    DeviceCode,
    Invitation,
    Membership,
    OAuthToken,
    Tenant,
    User,
    Workspace,
)


def require_role(
    actor: User, tenant_id: int, *, admin: bool = False, lock: bool = False
) -> tuple[Tenant, str]:
    """The tenant and the actor's role in it: 404 if not a member, 403 if `admin` and not one.

    `lock` takes a row lock on the tenant (PostgreSQL) so that checks of counts made
    under it (quotas, the last super_admin) cannot race with a concurrent request.
    """
    stmt = (
        select(Tenant, Membership.role)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Tenant.id == tenant_id, Membership.user_id == actor.id)
    )
    if lock:
        stmt = stmt.with_for_update(of=Tenant)
    row = db.session.execute(stmt).first()
    if row is None:
        raise not_found("tenant")
    if admin and row.role not in ADMIN_ROLES:
        raise forbidden()
    return row.Tenant, row.role


def list_tenants(actor: User) -> list[tuple[Tenant, str]]:
    rows = db.session.execute(
        select(Tenant, Membership.role)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == actor.id)
        .order_by(Tenant.edition != Edition.PERSONAL, Tenant.id)
    ).all()
    return [(t, r) for t, r in rows]


def get_tenant(actor: User, tenant_id: int) -> tuple[Tenant, str]:
    return require_role(actor, tenant_id)


def create_team_tenant(actor: User, name: str, edition: str) -> Tenant:
    """A team or enterprise tenant; the actor becomes its super_admin."""
    if edition not in TEAM_EDITIONS:
        raise DomainError(422, "invalid_value", "edition must be 'team' or 'enterprise'")
    name = values.name(name)
    tenant = accounts.create_tenant(actor, name, edition)
    audit.record(
        "tenant.create",
        tenant_id=tenant.id,
        actor_user_id=actor.id,
        target=str(tenant.id),
        target_name=tenant.name,
    )
    return tenant


# Members


def _membership(tenant_id: int, user_id: int) -> tuple[User, Membership]:
    row = db.session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
    ).first()
    if row is None:
        raise not_found("member")
    return row.User, row.Membership


def _keep_a_super_admin(tenant_id: int) -> None:
    """Refuse (409) to take the role of the tenant's last super_admin away."""
    count = db.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.tenant_id == tenant_id, Membership.role == Role.SUPER_ADMIN)
    )
    if count <= 1:
        raise DomainError(409, "last_super_admin", "a tenant must keep at least one super_admin")


def _check_role(role: str) -> None:
    if role not in tuple(Role):
        raise DomainError(
            422,
            "invalid_value",
            f"role must be one of {', '.join(Role)}",
            field="role",
            text=Msg("Choose a role."),
        )


def list_members(actor: User, tenant_id: int) -> list[tuple[User, Membership]]:
    require_role(actor, tenant_id)
    rows = db.session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id)
        .order_by(Membership.created_at, User.id)
    ).all()
    return [(u, m) for u, m in rows]


INVITATION_DAYS = 7


def invite(actor: User, tenant_id: int, email: str, role: str) -> Invitation:
    """Invite an email to the tenant: the same answer whether or not an account has it, so
    that no caller learns which emails are registered. Only super_admins invite super_admins.

    A personal tenant has exactly one owner, so inviting anyone to it is a 422. Inviting an
    email that already has a pending invitation renews it (new role, new expiry).
    """
    tenant, actor_role = require_role(actor, tenant_id, admin=True)
    _check_role(role)
    if tenant.edition == Edition.PERSONAL:
        raise DomainError(
            422,
            "personal_tenant",
            "a personal tenant has one owner and no members",
            text=Msg("A personal tenant has one owner and no members."),
        )
    if not Role(actor_role).may_grant(role):
        raise forbidden("only a super_admin can make super_admins")
    email = accounts.normalize_email(values.email(email))
    if "@" not in email:
        raise DomainError(
            422,
            "invalid_value",
            "email: is not an email address",
            field="email",
            text=Msg("Enter an email address."),
        )
    member = db.session.scalar(
        select(User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(User.email == email, Membership.tenant_id == tenant_id)
    )
    if member is not None:
        # Admins see the member list already: saying so leaks nothing new.
        raise DomainError(
            409,
            "already_member",
            "this user is already a member",
            field="email",
            text=Msg("This person is already a member."),
        )
    now = datetime.now(UTC)
    invitation = _pending_invitation(Invitation.tenant_id == tenant_id, Invitation.email == email)
    if invitation is None:
        invitation = Invitation(tenant_id=tenant_id, email=email, status=InvitationStatus.PENDING)
        db.session.add(invitation)
    invitation.role = role
    invitation.invited_by = actor.id
    invitation.created_at = now
    invitation.expires_at = now + timedelta(days=INVITATION_DAYS)
    db.session.flush()
    audit.record(
        "invitation.create",
        tenant_id=tenant_id,
        actor_user_id=actor.id,
        target=str(invitation.id),
        target_name=email,
        role=role,
    )
    return invitation


def _pending_invitation(*where: ColumnElement[bool], lock: bool = False) -> Invitation | None:
    """The pending invitation (expired or not) that matches `where`; `lock` takes its row."""
    stmt = select(Invitation).where(*where, Invitation.status == InvitationStatus.PENDING)
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def expired(invitation: Invitation, now: datetime | None = None) -> bool:
    return invitation.expires_at <= (now or datetime.now(UTC))


def shown_status(invitation: Invitation) -> str:
    if invitation.status == InvitationStatus.PENDING and expired(invitation):
        return InvitationStatus.EXPIRED
    return invitation.status


def list_invitations(actor: User, tenant_id: int) -> list[Invitation]:
    """The tenant's pending invitations (expired ones included, marked so). Admins only."""
    require_role(actor, tenant_id, admin=True)
    return list(
        db.session.scalars(
            select(Invitation)
            .where(Invitation.tenant_id == tenant_id, Invitation.status == InvitationStatus.PENDING)
            .order_by(Invitation.id.desc())
        )
    )


def cancel_invitation(actor: User, tenant_id: int, invitation_id: int) -> None:
    require_role(actor, tenant_id, admin=True)
    invitation = _pending_invitation(
        Invitation.id == invitation_id, Invitation.tenant_id == tenant_id
    )
    if invitation is None:
        raise not_found("invitation")
    invitation.status = InvitationStatus.CANCELLED
    invitation.decided_at = datetime.now(UTC)
    audit.record(
        "invitation.cancel",
        tenant_id=tenant_id,
        actor_user_id=actor.id,
        target=str(invitation.id),
        target_name=invitation.email,
    )


def my_invitations(actor: User) -> list[tuple[Invitation, Tenant]]:
    """Pending, unexpired invitations for the actor's email, with their tenants."""
    rows = db.session.execute(
        select(Invitation, Tenant)
        .join(Tenant, Tenant.id == Invitation.tenant_id)
        .where(
            Invitation.email == accounts.normalize_email(actor.email),
            Invitation.status == InvitationStatus.PENDING,
            Invitation.expires_at > datetime.now(UTC),
        )
        .order_by(Invitation.id.desc())
    ).all()
    return [(i, t) for i, t in rows]


def _my_invitation(actor: User, invitation_id: int) -> Invitation:
    """The actor's own pending, unexpired invitation, locked; anything else is absent (404)."""
    invitation = _pending_invitation(
        Invitation.id == invitation_id,
        Invitation.email == accounts.normalize_email(actor.email),
        lock=True,
    )
    if invitation is None or expired(invitation):
        raise not_found("invitation")
    return invitation


def accept_invitation(actor: User, invitation_id: int) -> tuple[Invitation, Tenant]:
    """The invitee accepts: the membership is made with the invited role."""
    invitation = _my_invitation(actor, invitation_id)
    tenant_id = invitation.tenant_id
    invitation.status = InvitationStatus.ACCEPTED
    invitation.decided_at = datetime.now(UTC)
    tenant = db.session.get(Tenant, tenant_id)
    current = db.session.get(Membership, (tenant_id, actor.id))
    if current is not None:
        return invitation, tenant
    # A request that raced an earlier removal may have left rows the rule refuses only while
    # the user is out; they must not come back with the user.
    _end_delegated_access(tenant_id, actor.id)
    membership = Membership(
        tenant_id=tenant_id, user_id=actor.id, role=invitation.role, created_at=datetime.now(UTC)
    )
    db.session.add(membership)
    db.session.flush()
    audit.record(
        "member.add",
        tenant_id=tenant_id,
        actor_user_id=actor.id,
        target=str(actor.id),
        role=invitation.role,
        invitation=str(invitation.id),
    )
    return invitation, tenant


def decline_invitation(actor: User, invitation_id: int) -> tuple[Invitation, Tenant]:
    invitation = _my_invitation(actor, invitation_id)
    invitation.status = InvitationStatus.DECLINED
    invitation.decided_at = datetime.now(UTC)
    audit.record(
        "invitation.decline",
        tenant_id=invitation.tenant_id,
        actor_user_id=actor.id,
        target=str(invitation.id),
        target_name=invitation.email,
    )
    return invitation, db.session.get(Tenant, invitation.tenant_id)


def update_member(actor: User, tenant_id: int, user_id: int, role: str) -> tuple[User, Membership]:
    """Change a member's role; super_admin roles are given and taken only by super_admins."""
    _, actor_role = require_role(actor, tenant_id, admin=True, lock=True)
    _check_role(role)
    user, membership = _membership(tenant_id, user_id)
    touches_super = Role.SUPER_ADMIN in (role, membership.role)
    if touches_super and actor_role != Role.SUPER_ADMIN:
        raise forbidden("only a super_admin can change super_admin roles")
    if membership.role == Role.SUPER_ADMIN and role != Role.SUPER_ADMIN:
        _keep_a_super_admin(tenant_id)
    old = membership.role
    membership.role = role
    db.session.flush()
    audit.record(
        "member.update",
        tenant_id=tenant_id,
        actor_user_id=actor.id,
        target=str(user_id),
        old_role=old,
        role=role,
    )
    return user, membership


def remove_member(actor: User, tenant_id: int, user_id: int) -> None:
    """Remove a member; what apps hold on their behalf in this tenant goes with them.

    Their OBO tokens, unused authorization codes and undecided or approved device codes in
    the tenant are deleted in the same transaction (one statement each). The access rule
    refuses anything a request racing the removal leaves behind, as the user is no longer a
    member (grants/access.py), and accepting a new invitation deletes such leftovers first.
    """
    _, actor_role = require_role(actor, tenant_id, admin=True, lock=True)
    _, membership = _membership(tenant_id, user_id)
    if membership.role == Role.SUPER_ADMIN:
        if actor_role != Role.SUPER_ADMIN:
            raise forbidden("only a super_admin can remove a super_admin")
        _keep_a_super_admin(tenant_id)
    db.session.execute(
        delete(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
    )
    apps = audit.live_token_apps(_delegated_tokens(tenant_id, user_id))
    destroyed = _end_delegated_access(tenant_id, user_id)
    audit.record(
        "member.remove",
        tenant_id=tenant_id,
        actor_user_id=actor.id,
        target=str(user_id),
        destroyed_tokens=destroyed,
        apps=sorted(apps),
    )


def _delegated_tokens(tenant_id: int, user_id: int) -> ColumnElement[bool]:
    """The tokens apps hold on the user's behalf (OBO) in the tenant."""
    return and_(
        OAuthToken.tenant_id == tenant_id,
        OAuthToken.user_id == user_id,
        OAuthToken.auth_type == AuthType.OBO,
    )


def _end_delegated_access(tenant_id: int, user_id: int) -> int:
    """Delete the user's OBO tokens, unused codes and undecided or approved device codes in
    the tenant, one statement each whatever their number; returns how many tokens were live."""
    delegated = _delegated_tokens(tenant_id, user_id)
    live = audit.live_tokens(delegated)
    for statement in (
        delete(OAuthToken).where(delegated),
        delete(AuthorizationCode).where(
            AuthorizationCode.tenant_id == tenant_id,
            AuthorizationCode.user_id == user_id,
            AuthorizationCode.used_at.is_(None),
        ),
        delete(DeviceCode).where(
            DeviceCode.tenant_id == tenant_id,
            DeviceCode.user_id == user_id,
            DeviceCode.status.in_((DeviceCodeStatus.PENDING, DeviceCodeStatus.APPROVED)),
        ),
    ):
        db.session.execute(statement.execution_options(synchronize_session=False))
    return live


# Workspaces


def list_workspaces(actor: User, tenant_id: int) -> list[Workspace]:
    require_role(actor, tenant_id)
    return list(
        db.session.scalars(
            select(Workspace)
            .where(Workspace.tenant_id == tenant_id)
            .order_by(Workspace.is_default.desc(), Workspace.id)
        )
    )


def create_workspace(actor: User, tenant_id: int, name: str) -> Workspace:
    require_role(actor, tenant_id, admin=True)
    name = values.name(name)
    workspace = Workspace(
        tenant_id=tenant_id, name=name, is_default=False, created_at=datetime.now(UTC)
    )
    db.session.add(workspace)
    db.session.flush()
    audit.record(
        "workspace.create",
        tenant_id=tenant_id,
        actor_user_id=actor.id,
        target=str(workspace.id),
        target_name=workspace.name,
    )
    return workspace


# Audit trail


def audit_entries(
    actor: User,
    tenant_id: int,
    *,
    limit: int = 50,
    before: int | None = None,
    action: str | None = None,
    actor_user_id: int | None = None,
    target: str | None = None,
) -> list[AuditEntry]:
    """The tenant's audit entries, newest first; `before` pages on by entry id; optionally only
    one action, one actor's or one target's (an app's client_id). Admins only."""
    require_role(actor, tenant_id, admin=True)
    if not 1 <= limit <= MAX_AUDIT_PAGE:
        raise DomainError(422, "invalid_value", f"limit must be between 1 and {MAX_AUDIT_PAGE}")
    stmt = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if actor_user_id is not None:
        stmt = stmt.where(AuditEntry.actor_user_id == actor_user_id)
    if target:
        stmt = stmt.where(AuditEntry.target == target)
    return list(db.session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))
