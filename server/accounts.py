"""Users, their tenants and workspaces: creation, sign-in checks and membership lookups."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from grants.vocabulary import Edition, Role
from server import audit
from server.errors import DomainError
from server.extensions import db
from server.limits import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH
from server.models import Membership, Tenant, User, Workspace
from server.passwords import check_password, hash_password

MIN_PASSWORD_LENGTH = 8


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(email: str, password: str, name: str | None = None) -> User:
    """A user with a personal tenant (they are its super_admin) and its default workspace."""
    email = normalize_email(email)
    if "@" not in email or len(email) > MAX_EMAIL_LENGTH:
        raise DomainError(422, "invalid_email", "email must be a valid address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            422, "weak_password", f"password must have at least {MIN_PASSWORD_LENGTH} characters"
        )
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise DomainError(409, "email_taken", "a user with this email already exists")
    now = datetime.now(UTC)
    user = User(
        email=email,
        name=(name or email.split("@")[0])[:MAX_NAME_LENGTH],
        password_hash=hash_password(password),
        created_at=now,
    )
    db.session.add(user)
    db.session.flush()
    tenant = create_tenant(user, f"{user.name}'s account", Edition.PERSONAL)
    audit.record("user.create", tenant_id=tenant.id, actor_user_id=user.id, target=str(user.id))
    return user


def create_tenant(owner: User, name: str, edition: str) -> Tenant:
    """A tenant with its default workspace; the creator becomes its super_admin."""
    now = datetime.now(UTC)
    tenant = Tenant(name=name[:MAX_NAME_LENGTH], edition=edition, created_at=now)
    db.session.add(tenant)
    db.session.flush()
    db.session.add(
        Membership(tenant_id=tenant.id, user_id=owner.id, role=Role.SUPER_ADMIN, created_at=now)
    )
    db.session.add(Workspace(tenant_id=tenant.id, name="Default", is_default=True, created_at=now))
    db.session.flush()
    return tenant


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials, or None; the cost is the same whether the account exists."""
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    ok = check_password(user.password_hash if user else None, password)
    return user if user is not None and ok else None


def role_in(user_id: int, tenant_id: int) -> str | None:
    return db.session.scalar(
        select(Membership.role).where(
            Membership.user_id == user_id, Membership.tenant_id == tenant_id
        )
    )


def personal_tenant(user_id: int) -> Tenant:
    return db.session.scalars(
        select(Tenant)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id, Tenant.edition == Edition.PERSONAL)
        .order_by(Tenant.id)
    ).first()


def workspaces_of(user_id: int) -> list[tuple[Tenant, Workspace, str]]:
    """Every workspace the user can act in, with its tenant and the user's role there."""
    rows = db.session.execute(
        select(Tenant, Workspace, Membership.role)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .join(Workspace, Workspace.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id)
        .order_by(
            Tenant.edition != Edition.PERSONAL, Tenant.id, Workspace.is_default.desc(), Workspace.id
        )
    ).all()
    return [(t, w, r) for t, w, r in rows]


def current_user() -> User | None:
    """The signed-in user of the browser session, if any."""
    from flask import g, session

    if "current_user" not in g:
        user_id = session.get("user_id")
        g.current_user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    return g.current_user
