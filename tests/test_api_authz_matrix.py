"""The management API's authorization, as a matrix generated from its route table: every
endpoint × every role (super_admin, admin, member, outsider, anonymous) × the caller's own tenant
and another tenant. Nothing of another tenant is ever visible (404), roles below the endpoint's
need get 403, and a new endpoint without a row here fails the test."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server import clients, connectors, service_tokens, tenants
from server.api.routing import ROUTES
from server.extensions import db
from server.models import Invitation, User
from tests.api_helpers import add_member, make_team

pytestmark = pytest.mark.usefixtures("fast_passwords")

RANK = {"outsider": 0, "member": 1, "admin": 2, "super_admin": 3}
ROLES = ["super_admin", "admin", "member", "outsider"]
_n = itertools.count(1)

# endpoint -> (role needed in the resource's tenant, or None when not tenant-scoped;
#              what the path names: "tenant", "app", "service", "member", "key", "installed")
NEEDS: dict[str, tuple[str | None, str]] = {
    "list_tenants": (None, ""),
    "create_tenant": (None, ""),
    "get_me": (None, ""),
    "list_authorized_apps": (None, ""),
    "list_permissions": (None, ""),
    "openapi_document": (None, ""),
    "revoke_authorized_app": (None, "consented"),
    "get_tenant": ("member", "tenant"),
    "list_members": ("member", "tenant"),
    "list_workspaces": ("member", "tenant"),
    "list_apps": ("member", "tenant"),
    "list_installations": ("member", "tenant"),
    "get_app": ("member", "app"),
    "list_keys": ("member", "service"),
    "add_member": ("admin", "newcomer"),
    "update_member": ("admin", "member"),
    "remove_member": ("admin", "member"),
    "create_workspace": ("admin", "tenant"),
    "list_audit": ("admin", "tenant"),
    "create_app": ("admin", "tenant"),
    "update_app": ("admin", "app"),
    "delete_app": ("admin", "app"),
    "enable_app": ("admin", "app"),
    "disable_app": ("admin", "app"),
    "rotate_secret": ("admin", "app"),
    "retire_secret": ("admin", "app"),
    "add_key": ("admin", "service"),
    "delete_key": ("admin", "key"),
    "authorize_app": ("admin", "service"),
    "put_installation": ("admin", "app"),
    "delete_installation": ("admin", "installed"),
    "list_invitations": ("admin", "tenant"),
    "cancel_invitation": ("admin", "invitation"),
    "list_my_invitations": (None, ""),
    "accept_invitation": (None, "invited"),
    "decline_invitation": (None, "invited"),
    "list_subscriptions": ("admin", "app"),
    "create_subscription": ("admin", "app"),
    "delete_subscription": ("admin", "subscription"),
    "list_deliveries": ("admin", "subscription"),
    "redeliver": ("admin", "delivery"),
    "list_connectors": ("member", "tenant"),
    "create_connector": ("admin", "tenant"),
    "get_connector": ("member", "connector"),
    "update_connector": ("admin", "connector"),
    "delete_connector": ("admin", "connector"),
    "list_service_tokens": ("admin", "tenant"),
    "create_service_token": ("admin", "workspace"),
    "revoke_service_token": ("admin", "sat"),
}

# Cells beyond one per route: the same endpoint with another body, for the decisions that
# depend on it (who may create each kind of app, who may bind a channel app to a connector).
# label -> (endpoint, role needed, what the path names)
VARIANTS: dict[str, tuple[str, str, str]] = {
    "create channel app": ("create_app", "admin", "tenant"),
    "create privileged app": ("create_app", "admin", "tenant"),
    "bind connector": ("update_app", "admin", "channel"),
    "unbind connector": ("update_app", "admin", "channel"),
}


def _body(endpoint: str, values: dict[str, str]) -> dict[str, Any] | None:
    n = next(_n)
    service = {"client_type": "service", "name": f"K{n}"}
    return {
        "create channel app": {**service, "app_kind": "channel"},
        "create privileged app": {**service, "app_kind": "privileged"},
        "bind connector": {"connector_id": values.get("connector_id")},
        "unbind connector": {"connector_id": None},
        "create_connector": {"name": f"C{n}", "description": "a channel"},
        "update_connector": {"name": f"C{n}"},
        "create_service_token": {"name": f"S{n}", "permissions": ["Bot.read"],
                                 "workspace_ids": [values.get("workspace_id")],
                                 "expires_in_days": 30},
        "create_tenant": {"name": f"T{n}", "edition": "team"},
        "add_member": {"email": values.get("email"), "role": "member"},
        "update_member": {"role": "admin"},
        "create_workspace": {"name": f"W{n}"},
        "create_app": {"name": f"App {n}", "client_type": "web",
                       "redirect_uris": ["https://app.example.com/cb"]},
        "update_app": {"description": f"edited {n}"},
        "put_installation": {"kind": "obo"},
        "create_subscription": {"url": "https://93.184.215.14/hook", "events": ["*"]},
    }.get(endpoint)  # fmt: skip


class Tenancy:
    """Two team tenants: ours, where each role has a person, and theirs, where none does."""

    def __init__(self, app, make_user) -> None:
        self.app = app
        self.make_user = make_user
        self.people = {role: make_user() for role in ROLES}
        theirs_owner = make_user()
        self.ours = make_team(app, self.people["super_admin"], "Ours")
        self.theirs = make_team(app, theirs_owner, "Theirs")
        self.owners = {self.ours: self.people["super_admin"], self.theirs: theirs_owner}
        for role in ("admin", "member"):
            add_member(app, self.ours, self.people[role], role)

    def _actor(self, tenant_id: int) -> User:
        return db.session.get(User, self.owners[tenant_id].id)

    def path_values(self, kind: str, tenant_id: int, caller: User) -> dict[str, str]:
        """Fresh resources of `tenant_id` for one call, so destructive calls never interfere."""
        values: dict[str, str] = {"tenant_id": str(tenant_id)}
        with self.app.app_context():
            actor = self._actor(tenant_id)
            n = next(_n)
            if kind == "newcomer":
                values["email"] = self.make_user().email
            if kind == "invitation":
                invitation = tenants.invite(actor, tenant_id, f"i{n}@example.com", "member")
                values["invitation_id"] = str(invitation.id)
            if kind == "invited":
                # The caller's own invitation, to a tenant of its own, so that accepting it
                # changes no other cell of the matrix.
                elsewhere = tenants.create_team_tenant(actor, f"Elsewhere {n}", "team")
                now = datetime.now(UTC)
                invitation = Invitation(
                    tenant_id=elsewhere.id, email=caller.email, role="member", status="pending",
                    created_at=now, expires_at=now + timedelta(days=1),
                )  # fmt: skip
                db.session.add(invitation)
                db.session.flush()
                values["invitation_id"] = str(invitation.id)
            if kind == "member":
                target = self.make_user()
                add_member(self.app, tenant_id, target, "member")
                values["user_id"] = str(target.id)
            if kind in ("app", "installed", "consented", "subscription", "delivery"):
                created, _ = clients.register_app(
                    actor, tenant_id, name=f"M{n}", client_type="web",
                    redirect_uris=["https://app.example.com/cb"],
                )  # fmt: skip
                values["client_id"] = created.client_id
                if kind == "installed":
                    clients.install(actor, tenant_id, created.client_id, "obo")
                if kind == "consented":
                    from server.oauth.consent import ensure_authorization

                    ensure_authorization(caller.id, created.client_id, "")
            if kind in ("subscription", "delivery"):
                from server.events import subscriptions
                from server.models import EventDelivery

                sub, _ = subscriptions.create_subscription(
                    actor, created.client_id, "https://93.184.215.14/hook", ["*"]
                )
                values["subscription_id"] = str(sub.id)
                if kind == "delivery":
                    clients.set_status(actor, created.client_id, "disabled")
                    db.session.flush()
                    values["delivery_id"] = str(
                        db.session.query(EventDelivery.id)
                        .filter_by(subscription_id=sub.id)
                        .scalar()
                    )
            if kind == "workspace":
                values["workspace_id"] = str(
                    next(w.id for w in tenants.list_workspaces(actor, tenant_id))
                )
            if kind in ("connector", "channel", "sat"):
                connector = connectors.create_connector(actor, tenant_id, name=f"C{n}")
                values["connector_id"] = str(connector.id)
            if kind == "channel":
                created, _ = clients.register_app(
                    actor, tenant_id, name=f"Ch{n}", client_type="service", app_kind="channel"
                )
                values["client_id"] = created.client_id
            if kind == "sat":
                workspace = next(w.id for w in tenants.list_workspaces(actor, tenant_id))
                token, _ = service_tokens.create_service_token(
                    actor, tenant_id, name=f"S{n}", permission_names=["Bot.read"],
                    workspace_ids=[workspace], expires_in_days=None,
                )  # fmt: skip
                values["service_token_id"] = str(token.id)
            if kind in ("service", "key"):
                created, _ = clients.register_app(
                    actor, tenant_id, name=f"S{n}", client_type="service"
                )
                values["client_id"] = created.client_id
                if kind == "key":
                    key, _ = clients.add_key(actor, created.client_id)
                    values["kid"] = key.kid
            db.session.commit()
        return values


def _call(client, route, values: dict[str, str], headers: dict[str, str], label: str = ""):
    path = route.path.format(**values)
    body = _body(label or route.endpoint, values)
    method = getattr(client, route.method.lower())
    return method(path, json=body, headers=headers) if body else method(path, headers=headers)


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for label in [r.endpoint for r in ROUTES] + list(VARIANTS):
        for role in ROLES:
            for whose in ("ours", "theirs"):
                cases.append((label, role, whose))
    return cases


def test_every_route_has_a_row_in_the_matrix():
    assert {r.endpoint for r in ROUTES} == set(NEEDS)


@pytest.fixture
def tenancy(app, make_user):
    return Tenancy(app, make_user)


@pytest.fixture
def token_of(app):
    from server.credentials import create_personal_access_token

    cache: dict[int, dict[str, str]] = {}

    def factory(user: User) -> dict[str, str]:
        if user.id not in cache:
            with app.app_context():
                _, token = create_personal_access_token(db.session.get(User, user.id), "m")
                db.session.commit()
            cache[user.id] = {"Authorization": f"Bearer {token}"}
        return cache[user.id]

    return factory


def test_management_api_authorization_matrix(client, tenancy, token_of):
    """One test walks the whole matrix (one set-up), and reports every cell that is wrong."""
    wrong: list[str] = []
    cells = 0
    routes = {r.endpoint: r for r in ROUTES}
    for label, role, whose in _cases():
        endpoint, need, kind = VARIANTS.get(label) or (label, *NEEDS[label])
        route = routes[endpoint]
        caller = tenancy.people[role]
        tenant_id = tenancy.ours if whose == "ours" else tenancy.theirs
        values = tenancy.path_values(kind, tenant_id, caller) if kind else {}
        if route.public:
            expected: Callable[[int], bool] = lambda s: s == 200  # noqa: E731
        elif need is None:
            # Not tenant-scoped: any signed-in caller, acting on what is their own.
            expected = lambda s: 200 <= s < 300  # noqa: E731
        elif whose == "theirs" or role == "outsider":
            expected = lambda s: s == 404  # noqa: E731
        elif RANK[role] >= RANK[need]:
            expected = lambda s: 200 <= s < 300  # noqa: E731
        else:
            expected = lambda s: s == 403  # noqa: E731
        response = _call(client, route, values, token_of(caller), label)
        cells += 1
        if not expected(response.status_code):
            wrong.append(
                f"{label}: {route.method} {route.path} as {role} on {whose}: "
                f"{response.status_code} {response.get_data(as_text=True)[:120]}"
            )
        if not route.public:
            anonymous = _call(client, route, values, {})
            if anonymous.status_code != 401:
                wrong.append(f"{route.method} {route.path} anonymous: {anonymous.status_code}")
    assert cells == (len(ROUTES) + len(VARIANTS)) * len(ROLES) * 2
    assert not wrong, "\n".join(wrong)
