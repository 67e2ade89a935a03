"""What a person's approval means: which workspace, which installation, which consent.

Shared by the consent page (code and PKCE flows) and the device verification page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from grants.access import (
    INSTALLATION_MISSING,
    Denial,
    check_standing,
    needs_installation,
)
from grants.clients import Client
from grants.errors import AccessRefused
from grants.storage import IssueContext
from grants.vocabulary import ADMIN_ROLES, AuthType
from server import audit
from server.accounts import workspaces_of
from server.extensions import db
from server.models import App, Authorization, Tenant, User, Workspace
from server.oauth.storage import SqlStorage


@dataclass(frozen=True, slots=True)
class Place:
    """A workspace the person may approve for, with its tenant and their role there."""

    tenant: Tenant
    workspace: Workspace
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES

    @property
    def needs_installation(self) -> bool:
        return needs_installation(AuthType.OBO, self.tenant.edition)


class InstallationNeeded(Exception):
    """A member consented for a team/enterprise workspace where the app is not installed."""

    def __init__(self, place: Place, pending: bool) -> None:
        super().__init__("the app is not installed in this tenant")
        self.place = place
        self.pending = pending


def places_for(user_id: int, fixed_workspace_id: int | None = None) -> list[Place]:
    places = [Place(t, w, r) for t, w, r in workspaces_of(user_id)]
    if fixed_workspace_id is not None:
        places = [p for p in places if p.workspace.id == fixed_workspace_id]
    return places


def approve(
    user: User, client: Client, place: Place, scope: str, storage: SqlStorage
) -> IssueContext:
    """Record the consent (and, for an admin, the installation) and return what to issue under.

    Raises InstallationNeeded for a member where the app is not installed, and AccessRefused
    when the access rule says no.
    """
    verdict = check_standing(
        storage,
        client.client_id,
        tenant_id=place.tenant.id,
        user_id=user.id,
        auth_type=AuthType.OBO,
        consenting=True,
    )
    if verdict.denial in INSTALLATION_MISSING:
        if not place.is_admin:
            raise InstallationNeeded(place, pending=verdict.denial == Denial.INSTALL_PENDING)
        from server import clients  # the management functions; imported late to avoid a cycle

        clients.install(user, place.tenant.id, client.client_id, AuthType.OBO)
    elif verdict.denial:
        raise AccessRefused(verdict.denial, client.name)
    authorization_id = ensure_authorization(user.id, client.client_id, scope)
    verdict = check_standing(
        storage,
        client.client_id,
        tenant_id=place.tenant.id,
        user_id=user.id,
        auth_type=AuthType.OBO,
    )
    if verdict.denial or verdict.standing is None:
        raise AccessRefused(verdict.denial or Denial.NOT_AUTHORIZED, client.name)
    standing = verdict.standing
    return IssueContext(
        client_id=client.client_id,
        auth_type=AuthType.OBO,
        tenant_id=place.tenant.id,
        workspace_id=place.workspace.id,
        user_id=user.id,
        installation_id=standing.installation.id if standing.installation else None,
        authorization_id=authorization_id,
        scope=scope,
    )


def place_notes(
    client_id: str, user_id: int, places: list[Place], storage: SqlStorage
) -> dict[int, str]:
    """What the consent page says beside each tenant where approving is not enough, as the
    access rule sees it: "installs" (an admin's approval installs the app), "requested" (a
    request waits for an admin) or "needs_admin" (a member cannot install it)."""
    notes: dict[int, str] = {}
    for place in places:
        if place.tenant.id in notes:
            continue
        denial = check_standing(
            storage,
            client_id,
            tenant_id=place.tenant.id,
            user_id=user_id,
            auth_type=AuthType.OBO,
            consenting=True,
        ).denial
        if denial in INSTALLATION_MISSING:
            if place.is_admin:
                notes[place.tenant.id] = "installs"
            elif denial == Denial.INSTALL_PENDING:
                notes[place.tenant.id] = "requested"
            else:
                notes[place.tenant.id] = "needs_admin"
        else:
            notes[place.tenant.id] = ""
    return {tenant_id: note for tenant_id, note in notes.items() if note}


def ensure_authorization(user_id: int, client_id: str, scope: str) -> int:
    """The user's standing consent to the app, created on first approval and kept after."""
    permissions = scope.split()
    existing = db.session.scalar(
        select(Authorization).where(
            Authorization.user_id == user_id, Authorization.client_id == client_id
        )
    )
    if existing is not None:
        merged = list(dict.fromkeys([*existing.permissions, *permissions]))
        if merged != existing.permissions:
            existing.permissions = merged
        return existing.id
    authorization = Authorization(
        user_id=user_id,
        client_id=client_id,
        permissions=permissions,
        created_at=datetime.now(UTC),
    )
    db.session.add(authorization)
    # A self-registered app that was never consented to is purged after a while.
    db.session.execute(
        update(App)
        .where(App.client_id == client_id, App.consented_at.is_(None))
        .values(consented_at=authorization.created_at)
    )
    db.session.flush()
    audit.record("authorization.grant", tenant_id=None, actor_user_id=user_id, target=client_id)
    return authorization.id
