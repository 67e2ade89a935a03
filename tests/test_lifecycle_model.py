"""A stateful property test: random lifecycle changes, issuances, refreshes and introspections,
each answer compared with a plain-Python model of the access rule.

The person consents to the web app in a team where they are a member (and the app is
installed), so removing them from the team and adding them back is one of the changes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from server import clients, tenants
from server.accounts import personal_tenant
from server.extensions import db
from server.models import User, Workspace
from tests.conftest import PASSWORD
from tests.oauth_support import (
    JWT_BEARER,
    Browser,
    assertion,
    authorize_url,
    basic,
    exchange_code,
    query,
    resource_server,
    service_app,
)


@dataclass
class AppModel:
    client_id: str
    kind: str  # "web" or "service"
    secret: str | None = None
    key: tuple[str, str] | None = None
    enabled: bool = True
    deleted: bool = False
    generation: int | None = None  # current consent (web) or installation (service)


@dataclass
class TokenModel:
    value: str
    app: AppModel
    generation: int
    family: int
    membership: int | None = None  # the team membership a web token was issued under
    is_refresh: bool = False
    revoked: bool = False  # explicitly (rotation for refresh tokens)


@dataclass
class World:
    families_revoked: set[int] = field(default_factory=set)


_generations = itertools.count(1)
_families = itertools.count(1)


def make_machine(app, client, make_user, make_app):
    class AccessRuleMachine(RuleBasedStateMachine):
        tokens = Bundle("tokens")
        refresh_tokens = Bundle("refresh_tokens")

        @initialize()
        def setup(self) -> None:
            self.user = make_user()
            self.browser = Browser(client=client)
            self.browser.login(self.user.email, PASSWORD)
            self.rs = resource_server(app)
            web, secret = make_app(self.user, "web")
            client_id, kid, pem = service_app(app, self.user, make_app)
            self.web = AppModel(web.client_id, "web", secret=secret)
            self.service = AppModel(
                client_id, "service", key=(kid, pem), generation=next(_generations)
            )
            self.world = World()
            self.live: list[TokenModel] = []
            # A team where the person is a member and the web app is installed by its admin.
            self.admin = make_user()
            with app.app_context():
                admin = db.session.get(User, self.admin.id)
                self.team = tenants.create_team_tenant(admin, "Team", "team").id
                self._join(admin)
                clients.install(admin, self.team, web.client_id, "obo")
                self.workspace = str(
                    db.session.scalar(select(Workspace.id).where(Workspace.tenant_id == self.team))
                )
                db.session.commit()
            self.membership: int | None = next(_generations)

        # Changes ---------------------------------------------------------------------

        def _actor(self) -> User:
            return db.session.get(User, self.user.id)

        def _join(self, admin: User) -> None:
            """Into the team the only way there is: invited, then accepting."""
            invitation = tenants.invite(admin, self.team, self.user.email, "member")
            tenants.accept_invitation(self._actor(), invitation.id)

        @rule(which=st.sampled_from(["web", "service"]), enabled=st.booleans())
        def set_status(self, which, enabled):
            target = getattr(self, which)
            if target.deleted:
                return
            with app.app_context():
                clients.set_status(
                    self._actor(), target.client_id, "enabled" if enabled else "disabled"
                )
                db.session.commit()
            target.enabled = enabled

        @rule()
        def revoke_consent(self):
            if self.web.deleted or self.web.generation is None:
                return
            with app.app_context():
                clients.revoke_authorization(self._actor(), self.web.client_id)
                db.session.commit()
            self.web.generation = None

        @rule()
        def remove_from_team(self):
            if self.membership is None:
                return
            with app.app_context():
                admin = db.session.get(User, self.admin.id)
                tenants.remove_member(admin, self.team, self.user.id)
                db.session.commit()
            self.membership = None

        @rule()
        def add_to_team(self):
            if self.membership is not None:
                return
            with app.app_context():
                self._join(db.session.get(User, self.admin.id))
                db.session.commit()
            self.membership = next(_generations)

        @rule()
        def uninstall_service(self):
            if self.service.deleted or self.service.generation is None:
                return
            with app.app_context():
                clients.uninstall(
                    self._actor(), personal_tenant(self.user.id).id, self.service.client_id
                )
                db.session.commit()
            self.service.generation = None

        @rule()
        def reinstall_service(self):
            if self.service.deleted or self.service.generation is not None:
                return
            with app.app_context():
                clients.authorize_service_app(self._actor(), self.service.client_id)
                db.session.commit()
            self.service.generation = next(_generations)

        @rule(which=st.sampled_from(["web", "service"]))
        def delete(self, which):
            target = getattr(self, which)
            if target.deleted:
                return
            with app.app_context():
                clients.delete_app(self._actor(), target.client_id)
                db.session.commit()
            target.deleted = True

        # Issuance ----------------------------------------------------------------------

        def _allowed(self, target: AppModel) -> bool:
            return not target.deleted and target.enabled

        @rule(target=tokens)
        def issue_service_token(self):
            kid, pem = self.service.key
            response = client.post(
                "/oauth/token",
                data={
                    "grant_type": JWT_BEARER,
                    "assertion": assertion(self.service.client_id, kid, pem, "localhost"),
                },
            )
            expected = self._allowed(self.service) and self.service.generation is not None
            assert (response.status_code == 200) == expected, response.json
            if not expected:
                return None
            token = TokenModel(
                response.json["access_token"],
                self.service,
                self.service.generation,
                next(_families),
            )
            self.live.append(token)
            return token

        @rule(target=refresh_tokens)
        def issue_web_tokens(self):
            status, headers, html = self.browser.open_consent(authorize_url(self.web.client_id))
            if not self._allowed(self.web):
                assert status in (302, 400)
                return None
            assert status == 200, html[:200]
            status, headers, _ = self.browser.decide(html, workspace_id=self.workspace)
            if self.membership is None:
                assert status == 400  # the team is no longer offered
                return None
            code = query(headers["Location"])["code"]
            if self.web.generation is None:
                self.web.generation = next(_generations)
            response = exchange_code(client, self.web.client_id, self.web.secret, code)
            assert response.status_code == 200, response.json
            family = next(_families)
            access = TokenModel(
                response.json["access_token"],
                self.web,
                self.web.generation,
                family,
                membership=self.membership,
            )
            refresh = TokenModel(
                response.json["refresh_token"],
                self.web,
                self.web.generation,
                family,
                membership=self.membership,
                is_refresh=True,
            )
            self.live += [access, refresh]
            return refresh

        @rule(old=consumes(refresh_tokens), target=refresh_tokens)
        def refresh(self, old):
            if old is None:
                return None
            response = client.post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": old.value},
                headers=basic(self.web.client_id, self.web.secret),
            )
            usable = self._expect_active(old)
            if (
                old.revoked
                and old.family not in self.world.families_revoked
                and self._allowed(self.web)
            ):
                # a rotated token came back: its whole family is revoked
                self.world.families_revoked.add(old.family)
            assert (response.status_code == 200) == usable, (response.json, old)
            if not usable:
                return None
            old.revoked = True
            access = TokenModel(
                response.json["access_token"],
                self.web,
                old.generation,
                old.family,
                membership=old.membership,
            )
            new = TokenModel(
                response.json["refresh_token"],
                self.web,
                old.generation,
                old.family,
                membership=old.membership,
                is_refresh=True,
            )
            self.live += [access, new]
            return new

        # The rule, checked -------------------------------------------------------------

        def _expect_active(self, token: TokenModel) -> bool:
            target = token.app
            return (
                not target.deleted
                and target.enabled
                and token.generation == target.generation
                and (target.kind != "web" or token.membership == self.membership)
                and not token.revoked
                and token.family not in self.world.families_revoked
            )

        @invariant()
        def introspection_agrees(self):
            if not hasattr(self, "live"):
                return
            for token in self.live[-10:]:
                answer = client.post(
                    "/oauth/introspect", data={"token": token.value}, headers=self.rs
                ).json
                assert answer["active"] == self._expect_active(token), (token, answer)

    return AccessRuleMachine


def test_access_rule_model(app, client, make_user, make_app, fast_passwords):
    machine = make_machine(app, client, make_user, make_app)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
