"""The access rule's coverage as a table: every access path × every way access ends × dialect,
each cell its expected answer (or "n/a" with the reason), one test per cell.

The paths come from the route table: `ROUTES` names the path(s) each OAuth, Coze and page
route serves, `NOT_ACCESS_PATHS` the routes that are none, each with its reason, and
test_every_route_is_in_the_table fails when the Flask URL map has a route in neither. A new
path must get a row here, with a cell for every ending.

Each cell builds its own small world (a team with an admin and a member, the app the path
needs, the credential the path presents), ends access one way, then calls the path through the
Flask test client and compares the answer. Answers read: "200" (or "302 consent", "active"…)
when the path works, "<status> <error>" when it refuses (`error` in the RFC dialect,
`error_code` in the Coze dialect and on pages).
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import re
import secrets
import time
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import select, update

from server import clients, connectors, create_app, service_tokens, tenants
from server.extensions import db
from server.models import AuthorizationCode, DeviceCode, OAuthToken, ServiceToken, User, Workspace
from tests.api_helpers import make_team
from tests.conftest import PASSWORD, fast_password_hash
from tests.oauth_support import (
    DEVICE_CODE,
    JWT_BEARER,
    REDIRECT_URI,
    Browser,
    basic,
    exchange_code,
    hidden,
    query,
    refresh_with,
    resource_server,
)

DIALECTS = ("rfc", "coze")
RESOURCE = "https://mcp.example/api"
OTHER_RESOURCE = "https://other.example/api"

# The ways access ends, in the order of the table's columns.
ENDINGS = (
    "disabled",
    "re-enabled",  # disabled, then enabled again: a suspension, not an end
    "uninstalled",
    "install pending",  # uninstalled, then a member asked for it again
    "consent revoked",
    "member removed",
    "deleted",
    "expired",
    "rotated",  # the credential presented was already used: rotated, exchanged, polled, replayed
    "superseded by reinstall",  # uninstalled, and installed again
    "superseded by re-consent",  # consent revoked, and given again
    "connector unbound",
    "connector rebound",  # bound to another connector: a new binding generation
    "connector deleted",  # which unbinds its apps
    "other resource server",  # introspected by a resource server that is not the audience
)

# The paths, each with the dialects it has. OBO paths act for a member of a team tenant;
# AppAuth paths for a service app of each kind.
PATHS = {
    "code exchange": DIALECTS,
    "refresh": DIALECTS,
    "device authorization": DIALECTS,
    "device polling": DIALECTS,
    "JWT": DIALECTS,
    "cross-account JWT": ("coze",),
    "enterprise JWT": DIALECTS,
    "channel JWT": DIALECTS,
    "authorize page": DIALECTS,
    "consent approval": DIALECTS,
    "device approval": DIALECTS,
    "introspection": ("rfc",),
    "introspection, resource-bound": ("rfc",),
    "introspection, channel token": ("rfc",),
    "introspection, service access token": ("rfc",),
    "revocation": ("rfc",),
}

# The dialects a path does not have, and why.
NO_DIALECT = {
    ("cross-account JWT", "rfc"): "the RFC dialect has no cross-account form (Coze's own path)",
    ("introspection", "coze"): "Coze has no introspection: resource servers use RFC 7662",
    ("introspection, resource-bound", "coze"): "Coze has no introspection (RFC 7662 only)",
    ("introspection, channel token", "coze"): "Coze has no introspection (RFC 7662 only)",
    ("introspection, service access token", "coze"): "Coze has no introspection (RFC 7662 only)",
    ("revocation", "coze"): "Coze has no revocation endpoint: RFC 7009 only",
}

# Every route of the OAuth, Coze and page blueprints: the paths it serves, per dialect.
ROUTES = {
    "rfc.token": ("code exchange", "refresh", "device polling", "JWT", "enterprise JWT",
                  "channel JWT"),
    "coze.token": ("code exchange", "refresh", "device polling", "JWT", "channel JWT"),
    "coze.account_token": ("cross-account JWT",),
    "coze.enterprise_token": ("enterprise JWT",),
    "rfc.device_authorization": ("device authorization",),
    "coze.device_code": ("device authorization",),
    "coze.workspace_device_code": ("device authorization",),
    "rfc.authorize_endpoint": ("authorize page",),
    "coze.authorize_endpoint": ("authorize page",),
    "coze.workspace_authorize": ("authorize page",),
    "pages.consent_page": ("authorize page", "consent approval"),
    "pages.device_page": ("device approval",),
    "rfc.introspect": ("introspection", "introspection, resource-bound",
                       "introspection, channel token", "introspection, service access token"),
    "rfc.revoke": ("revocation",),
}  # fmt: skip
NOT_ACCESS_PATHS = {
    "rfc.metadata": "server metadata: the same for every caller",
    "rfc.oauth_openapi": "the OpenAPI document: the same for every caller",
    "rfc.register": "self-registration makes a new app; no existing app's access is asked",
    "rfc.configure": "RFC 7592: the registration token manages its own registration, issues "
    "nothing and reads no token (a deleted app's registration is gone: 401)",
    "pages.home": "a redirect to the console or the sign-in page",
    "pages.login": "the person signs in; no app is involved",
    "pages.logout": "the person signs out; no app is involved",
    "pages.request_install": "a member asks admins for an installation: it grants nothing, and "
    "the consent page led there only where the rule said 'not installed'",
    "pages.device_done": "the page after a device decision (post/redirect/get): it shows the "
    "outcome already decided and grants nothing",
    "demo.callback": "the demo's stand-in for an app's redirect URI (DEMO_MODE only): it shows "
    "what the app received",
}
BLUEPRINTS = ("rfc", "coze", "pages", "demo")
# The other blueprints, none of which takes or issues an OAuth credential.
OTHER_BLUEPRINTS = {
    "api": "the management API: personal access tokens and console sessions (pat_ tokens are "
    "never active at introspection)",
    "console": "the console: the signed-in person's session",
    "ops": "probes and metrics",
    "i18n": "the language switch",
    "static": "static files",
}

# Why a cell has no answer: (paths, endings) → reason.
OBO = ("code exchange", "refresh", "device authorization", "device polling", "authorize page",
       "consent approval", "device approval", "introspection", "introspection, resource-bound",
       "revocation")  # fmt: skip
APPAUTH = ("JWT", "cross-account JWT", "enterprise JWT", "channel JWT",
           "introspection, channel token")  # fmt: skip
CONNECTOR = ("connector unbound", "connector rebound", "connector deleted")
NOT_APPLICABLE = [
    (OBO + ("JWT", "cross-account JWT", "enterprise JWT"), CONNECTOR,
     "only a channel app is bound to a connector"),
    (APPAUTH, ("install pending",),
     "only an admin installs a service app: its installation is never pending"),
    (APPAUTH, ("consent revoked", "member removed", "superseded by re-consent"),
     "AppAuth acts as the app itself: no user, no consent, no membership"),
    (("device authorization", "authorize page"), ("superseded by re-consent",),
     "asks about the app alone, before any person's consent is involved"),
    (("device authorization", "authorize page"),
     ("consent revoked", "member removed", "expired", "rotated"),
     "asks about the app alone, before any person, tenant or credential is involved"),
    (("introspection, channel token",), ("rotated",), "AppAuth tokens have no refresh token"),
    (("introspection, service access token",),
     ("disabled", "re-enabled", "uninstalled", "install pending", "consent revoked",
      "member removed", "rotated", "superseded by reinstall", "superseded by re-consent")
     + CONNECTOR,
     "a service access token belongs to a tenant, not to an app: no app, installation, "
     "consent, membership, rotation or connector; 'deleted' is the token's revocation"),
    (tuple(p for p in PATHS if p != "introspection, resource-bound"), ("other resource server",),
     "only a resource-bound token has an audience; others are for any resource server"),
]  # fmt: skip

# The answers. A refusal reads "<status> <error>"; ACCESS_DENY/UNAUTHORIZED per dialect.
R_DISABLED = {"rfc": "400 unauthorized_client", "coze": "400 access_deny"}
R_GRANT = {"rfc": "400 invalid_grant", "coze": "400 invalid_grant"}
R_CLIENT = {"rfc": "401 invalid_client", "coze": "401 invalid_client"}
R_JWT_GRANT = {"rfc": "400 invalid_grant", "coze": "401 invalid_client"}
# A public client names an unknown client_id without an Authorization header: RFC 6749 §5.2
# lets the RFC dialect answer 400; the Coze dialect always answers invalid_client with 401.
R_PUBLIC_CLIENT = {"rfc": "400 invalid_client", "coze": "401 invalid_client"}
OK = {"rfc": "200", "coze": "200"}

_OBO_ISSUANCE = {
    "disabled": R_DISABLED,
    "re-enabled": OK,
    "uninstalled": R_DISABLED,
    "install pending": R_DISABLED,
    "consent revoked": R_GRANT,
    "member removed": R_GRANT,
    "deleted": R_CLIENT,
    "expired": R_GRANT,
    "rotated": R_GRANT,
    "superseded by reinstall": R_GRANT,
    "superseded by re-consent": R_GRANT,
}
_JWT_ISSUANCE = {
    "disabled": R_DISABLED,
    "re-enabled": OK,
    "uninstalled": R_DISABLED,
    "deleted": R_JWT_GRANT | {"coze": "401 invalid_client"},
    "expired": R_JWT_GRANT,
    "rotated": R_JWT_GRANT,
    "superseded by reinstall": OK,  # a new installation: new tokens (the old stay dead)
}
_INTROSPECTION = {
    "disabled": "inactive",
    "re-enabled": "active",
    "uninstalled": "inactive",
    "install pending": "inactive",
    "consent revoked": "inactive",
    "member removed": "inactive",
    "deleted": "inactive",
    "expired": "inactive",
    "rotated": "inactive",  # the refresh token rotated away
    "superseded by reinstall": "inactive",
    "superseded by re-consent": "inactive",
}
_ALL = {"rfc", "coze"}

EXPECTED: dict[str, dict[str, dict[str, str] | str]] = {
    "code exchange": dict(_OBO_ISSUANCE),
    "refresh": dict(_OBO_ISSUANCE),
    "device polling": _OBO_ISSUANCE
    | {
        "expired": {"rfc": "400 expired_token", "coze": "400 expired_token"},
        # The removal deleted the approved device code: an unknown code now.
        "member removed": {"rfc": "400 invalid_request", "coze": "400 invalid_request"},
        "deleted": R_PUBLIC_CLIENT,
    },
    "device authorization": {
        "disabled": R_DISABLED,
        "re-enabled": OK,
        # It asks about the app alone: the person and tenant come later, at the device page.
        "uninstalled": OK,
        "install pending": OK,
        "deleted": R_PUBLIC_CLIENT,
        "superseded by reinstall": OK,
    },
    "JWT": dict(_JWT_ISSUANCE),
    "cross-account JWT": dict(_JWT_ISSUANCE),
    "enterprise JWT": dict(_JWT_ISSUANCE),
    "channel JWT": _JWT_ISSUANCE
    | {"connector unbound": R_DISABLED, "connector rebound": OK, "connector deleted": R_DISABLED},
    "authorize page": {
        "disabled": "302 unauthorized_client",  # back to the app, as RFC 6749 §4.1.2.1 says
        "re-enabled": "200 consent",
        "uninstalled": "200 consent: needs_admin",
        "install pending": "200 consent: requested",
        "deleted": "400 invalid_client",  # no app: no redirect URI to trust
        "superseded by reinstall": "200 consent",
    },
    "consent approval": {
        "disabled": "302 unauthorized_client",
        "re-enabled": "302 code",
        "uninstalled": "403 install needed",
        "install pending": "403 install pending",
        "consent revoked": "302 code",  # the approval is a new consent
        "member removed": "400 bad_request",  # the team's workspace is no longer offered
        "deleted": "400 invalid_client",
        "expired": "400 invalid_request",  # the authorize request is gone
        "rotated": "400 invalid_request",  # already answered
        "superseded by reinstall": "302 code",
        "superseded by re-consent": "302 code",
    },
    "device approval": {
        "disabled": "400 unauthorized_client",  # as the consent page: nothing to approve
        "re-enabled": "200 connected",
        "uninstalled": "403 install needed",
        "install pending": "403 install pending",
        "consent revoked": "200 connected",
        "member removed": "400 bad_request",  # the team's workspace is no longer offered
        "deleted": "400 unknown code",  # the device code went with the app
        "expired": "410 expired",
        "rotated": "410 used",
        "superseded by reinstall": "200 connected",
        "superseded by re-consent": "200 connected",
    },
    "introspection": dict(_INTROSPECTION),
    "introspection, resource-bound": _INTROSPECTION | {"other resource server": "inactive"},
    "introspection, channel token": {
        "disabled": "inactive",
        "re-enabled": "active",
        "uninstalled": "inactive",
        "deleted": "inactive",
        "expired": "inactive",
        "superseded by reinstall": "inactive",
        "connector unbound": "inactive",
        "connector rebound": "inactive",
        "connector deleted": "inactive",
    },
    "introspection, service access token": {"deleted": "inactive", "expired": "inactive"},
    # An app may always end its own tokens (RFC 7009 §2.2: an unknown or dead one is a 200
    # too); only an app that no longer exists cannot authenticate.
    "revocation": {
        "disabled": "200",
        "re-enabled": "200",
        "uninstalled": "200",
        "install pending": "200",
        "consent revoked": "200",
        "member removed": "200",
        "deleted": "401 invalid_client",
        "expired": "200",
        "rotated": "200",
        "superseded by reinstall": "200",
        "superseded by re-consent": "200",
    },
}


def reason_not_applicable(path: str, ending: str) -> str | None:
    for paths, endings, reason in NOT_APPLICABLE:
        if path in paths and ending in endings:
            return reason
    return None


def expected(path: str, ending: str, dialect: str) -> str | None:
    """The cell's answer; None for "n/a"."""
    answer = EXPECTED[path].get(ending)
    if isinstance(answer, dict):
        return answer[dialect]
    return answer


_LIVE_CELLS = [
    (path, ending, dialect)
    for path, dialects in PATHS.items()
    for ending in ENDINGS
    for dialect in dialects
    if reason_not_applicable(path, ending) is None
]


def _sample(cells: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Few cells that still reach every path, every ending and every dialect: `make check`
    runs these (a developer's loop), `make test` every cell. Greedy: each next cell is the one
    that reaches the most not yet reached (18 cells, where the first cell of each was 31)."""

    def facets(cell: tuple[str, str, str]) -> set[tuple[int, str]]:
        return {(axis, value) for axis, value in enumerate(cell)}

    wanted = set().union(*map(facets, cells))
    chosen = []
    while wanted:
        best = max(cells, key=lambda cell: len(wanted & facets(cell)))
        chosen.append(best)
        wanted -= facets(best)
    return chosen


_SAMPLE = _sample(_LIVE_CELLS)
CELLS = [
    pytest.param(*cell, id="|".join(cell), marks=() if cell in _SAMPLE else pytest.mark.slow)
    for cell in _LIVE_CELLS
]


# The table's own shape -------------------------------------------------------------------------


def routes_without_a_row(url_map) -> set[str]:
    """The endpoints of the OAuth, Coze and page blueprints that the table does not cover."""
    endpoints = {
        rule.endpoint for rule in url_map.iter_rules() if rule.endpoint.split(".")[0] in BLUEPRINTS
    }
    return endpoints - set(ROUTES) - set(NOT_ACCESS_PATHS)


def test_every_route_is_in_the_table(table_app):
    url_map = table_app.url_map
    blueprints = {rule.endpoint.split(".")[0] for rule in url_map.iter_rules()}
    unknown = blueprints - set(BLUEPRINTS) - set(OTHER_BLUEPRINTS)
    assert not unknown, f"a new blueprint: put its routes in the table or say why not: {unknown}"
    missing = routes_without_a_row(url_map)
    assert not missing, f"routes with no row in the access table and no reason: {missing}"
    assert not set(ROUTES) & set(NOT_ACCESS_PATHS)
    endpoints = {rule.endpoint for rule in url_map.iter_rules()}
    stale = (set(ROUTES) | set(NOT_ACCESS_PATHS)) - endpoints - {"demo.callback"}  # DEMO_MODE
    assert not stale, f"no such routes: {stale}"
    served = {path for paths in ROUTES.values() for path in paths}
    assert served == set(PATHS), set(PATHS) ^ served
    for endpoint, reason in NOT_ACCESS_PATHS.items():
        assert reason.strip(), endpoint


def test_a_new_route_without_a_row_fails_the_table(table_app):
    from werkzeug.routing import Map, Rule

    url_map = table_app.url_map
    copied = [Rule(r.rule, endpoint=r.endpoint, methods=r.methods) for r in url_map.iter_rules()]
    added = Rule("/oauth/par", endpoint="rfc.pushed_authorization", methods=["POST"])
    grown = Map([*copied, added], converters=url_map.converters)
    assert routes_without_a_row(grown) == {"rfc.pushed_authorization"}


def test_every_cell_has_an_answer_or_a_reason():
    for path, dialects in PATHS.items():
        for ending in ENDINGS:
            reason = reason_not_applicable(path, ending)
            answer = EXPECTED[path].get(ending)
            assert (reason is None) != (answer is None), (path, ending, reason, answer)
            if isinstance(answer, dict):
                assert set(dialects) <= set(answer), (path, ending)
        for dialect in DIALECTS:
            assert (dialect in dialects) != ((path, dialect) in NO_DIALECT), (path, dialect)
    assert set(EXPECTED) == set(PATHS)


# The world a cell runs in ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def table_app(base_config, _schema):
    """One app for every cell: each cell's world is its own tenant, users and apps, so cells
    share nothing but the process, and building the app (routes, templates) once saves most of
    a cell's time."""
    app = create_app(dict(base_config))
    with pytest.MonkeyPatch.context() as patch:
        # Cheaper scrypt for the many users made here; no test here is about the KDF.
        patch.setattr("server.accounts.hash_password", fast_password_hash)
        yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@functools.cache
def _key():
    """One RSA key for every service app here: generating, and even loading a PEM, is slow."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem() -> str:
    public = _key().public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _assertion(client_id: str, kid: str, **claims) -> str:
    """An RS256 assertion as cozepy makes it, signed with the loaded key."""
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    body = {"iss": client_id, "aud": "localhost", "iat": now, "exp": now + 3600,
            "jti": secrets.token_hex(16), **claims}  # fmt: skip
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(body).encode())
    signature = _key().sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64(signature)


_numbers = itertools.count(1)


class World:
    """A team (enterprise edition) with its admin and a member signed in at a browser; the
    admin's apps, installed in the team; a resource server."""

    def __init__(self, app) -> None:
        self.app = app
        self.admin, self.member = self.make_user(), self.make_user()
        self.team = make_team(app, self.admin, "Acme", "enterprise")
        with app.app_context():
            invitation = tenants.invite(
                self.user(self.admin), self.team, self.member.email, "member"
            )
            db.session.commit()
            tenants.accept_invitation(self.user(self.member), invitation.id)
            db.session.commit()
            self.workspace = str(
                db.session.scalar(
                    select(Workspace.id).where(
                        Workspace.tenant_id == self.team, Workspace.is_default.is_(True)
                    )
                )
            )
        self.client = app.test_client()
        # Each resource URI belongs to one resource server: every world has its own.
        self.resource = f"{RESOURCE}/{uuid.uuid4().hex[:12]}"
        self.rs = resource_server(app, self.resource)
        self.browser = Browser(client=app.test_client())
        self.browser.login(self.member.email, PASSWORD)
        self.client_id = ""
        self.secret: str | None = None
        self.tenant_of_app = self.team  # where the app is installed (uninstall, reinstall)
        self.kind = "obo"

    def user(self, user):
        return db.session.get(User, user.id)

    def make_user(self):
        from server.accounts import create_user

        with self.app.app_context():
            user = create_user(f"cell-{uuid.uuid4().hex[:12]}@example.com", PASSWORD, None)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    def make_app(self, owner, client_type, tenant_id=None, **fields):
        from server.accounts import personal_tenant

        with self.app.app_context():
            if tenant_id is None:
                tenant_id = personal_tenant(owner.id).id
            if client_type in ("web", "pkce"):
                fields.setdefault("redirect_uris", [REDIRECT_URI])
            created, secret = clients.register_app(
                self.user(owner), tenant_id, client_type=client_type,
                name=f"App {next(_numbers)}", **fields
            )  # fmt: skip
            db.session.commit()
            return created.client_id, secret

    def do(self, action, *args, **kwargs):
        """A domain change, committed."""
        with self.app.app_context():
            result = action(*args, **kwargs)
            db.session.commit()
            return result

    # Apps ------------------------------------------------------------------------------

    def obo_app(self, client_type):
        self.client_id, self.secret = self.make_app(self.admin, client_type)
        with self.app.app_context():
            clients.install(self.user(self.admin), self.team, self.client_id, "obo")
            db.session.commit()

    def service_app(self, kind="normal", *, owner_tenant=None):
        permissions = ["Enterprise.members.read"] if kind == "privileged" else ["Bot.read"]
        self.client_id, _ = self.make_app(
            self.admin,
            "service",
            tenant_id=owner_tenant or self.team,
            app_kind=kind,
            permissions=permissions,
        )
        with self.app.app_context():
            admin = self.user(self.admin)
            self.kid = clients.add_key(admin, self.client_id, _public_pem())[0].kid
            if owner_tenant is None:
                clients.authorize_service_app(admin, self.client_id)
            else:  # another tenant's app, installed in the team (cross-account)
                clients.install(admin, self.team, self.client_id, "appauth")
            if kind == "channel":
                self.connector = connectors.create_connector(admin, self.team, name="Shop").id
                clients.update_app(admin, self.client_id, connector_id=self.connector)
            db.session.commit()
        self.kind = "appauth"

    # Steps of the OBO flows --------------------------------------------------------------

    def authorize_url(self, path="/oauth/authorize", **extra):
        from urllib.parse import urlencode

        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "s",
            **extra,
        }
        return path + "?" + urlencode(params, doseq=True)

    def code(self, **extra):
        url = self.authorize_url(**extra)
        return query(self.browser.authorize(url, workspace_id=self.workspace))["code"]

    def exchange(self, code, dialect="rfc"):
        return exchange_code(self.client, self.client_id, self.secret, code, dialect)

    def tokens(self, **extra):
        response = self.exchange(self.code(**extra))
        assert response.status_code == 200, response.json
        return response.json

    def refresh(self, refresh_token, dialect="rfc"):
        return refresh_with(self.client, self.client_id, self.secret, refresh_token, dialect)

    def start_device(self, dialect="rfc", workspace=False):
        if dialect == "rfc":
            return self.client.post(
                "/oauth/device_authorization", data={"client_id": self.client_id}
            )
        path = "/api/permission/oauth2/device/code"
        if workspace:
            path = f"/api/permission/oauth2/workspace_id/{self.workspace}/device/code"
        return self.client.post(path, json={"client_id": self.client_id})

    def approve_device(self, user_code):
        status, html = self.browser.approve_device(user_code, workspace_id=self.workspace)
        assert status == 200 and "Device connected" in html, html[:300]

    def poll(self, device_code, dialect="rfc"):
        body = {"grant_type": DEVICE_CODE, "device_code": device_code, "client_id": self.client_id}
        if dialect == "rfc":
            return self.client.post("/oauth/token", data=body)
        return self.client.post("/api/permission/oauth2/token", json=body)

    def jwt(self, dialect, path_kind="plain", **claims):
        signed = _assertion(self.client_id, self.kid, **claims)
        if path_kind == "enterprise":
            if dialect == "rfc":
                body = {"grant_type": JWT_BEARER, "assertion": signed, "enterprise_id": self.team}
                return self.client.post("/oauth/token", data=body)
            path = f"/api/permission/oauth2/enterprise_id/{self.team}/token"
        elif path_kind == "account":
            path = f"/api/permission/oauth2/account/{self.team}/token"
        elif dialect == "rfc":
            return self.client.post(
                "/oauth/token", data={"grant_type": JWT_BEARER, "assertion": signed}
            )
        else:
            path = "/api/permission/oauth2/token"
        return self.client.post(
            path, json={"grant_type": JWT_BEARER}, headers={"Authorization": f"Bearer {signed}"}
        )

    def introspect(self, token, rs=None):
        answer = self.client.post(
            "/oauth/introspect", data={"token": token}, headers=rs or self.rs
        ).json
        return "active" if answer["active"] else "inactive"

    # Endings -----------------------------------------------------------------------------

    def consent_again(self):
        """The member consents again: on the consent page (web apps) or the device page."""
        if self.secret is not None:
            self.code()
        else:
            started = self.start_device().json
            self.approve_device(started["user_code"])

    def end(self, ending):
        admin = self.admin
        if ending in ("disabled", "re-enabled"):
            self.do(lambda: clients.set_status(self.user(admin), self.client_id, "disabled"))
            if ending == "re-enabled":
                self.do(lambda: clients.set_status(self.user(admin), self.client_id, "enabled"))
        elif ending == "deleted":
            self.do(lambda: clients.delete_app(self.user(admin), self.client_id))
        elif ending in ("uninstalled", "install pending", "superseded by reinstall"):
            self.do(lambda: clients.uninstall(self.user(admin), self.tenant_of_app, self.client_id))
            if ending == "install pending":
                self.do(
                    lambda: clients.request_installation(
                        self.user(self.member), self.team, self.client_id
                    )
                )
            if ending == "superseded by reinstall":
                self.do(
                    lambda: clients.install(
                        self.user(admin), self.tenant_of_app, self.client_id, self.kind
                    )
                )
        elif ending in ("consent revoked", "superseded by re-consent"):
            self.do(lambda: clients.revoke_authorization(self.user(self.member), self.client_id))
            if ending == "superseded by re-consent":
                self.consent_again()
        elif ending == "member removed":
            self.do(lambda: tenants.remove_member(self.user(admin), self.team, self.member.id))
        elif ending == "connector unbound":
            self.do(lambda: clients.update_app(self.user(admin), self.client_id, connector_id=None))
        elif ending == "connector deleted":
            self.do(lambda: connectors.delete_connector(self.user(admin), self.connector))
        elif ending == "connector rebound":
            other = self.do(
                lambda: connectors.create_connector(self.user(admin), self.team, name="Other").id
            )
            self.do(
                lambda: clients.update_app(self.user(admin), self.client_id, connector_id=other)
            )
        else:
            raise AssertionError(f"the world cannot end access by {ending!r} on its own")

    def expire(self, model, *where):
        with self.app.app_context():
            values = {"expires_at": 1}
            if model is OAuthToken:
                values["refresh_expires_at"] = 1
            db.session.execute(update(model).where(*where).values(**values))
            db.session.commit()


def refusal(response, dialect):
    if response.status_code == 200:
        return "200"
    return f"{response.status_code} {response.json['error' if dialect == 'rfc' else 'error_code']}"


def page_error(status, html):
    found = re.search(r"Error <code>([a-z_]+)</code>", html)
    return f"{status} {found.group(1) if found else '?'}"


# The paths: set up what the path presents, end access, call the path -----------------------


def token_path(world, path, ending, dialect):
    """code exchange, refresh, device polling: an OBO credential obtained while allowed."""
    if path == "device polling":
        world.obo_app("device")
        started = world.start_device().json
        world.approve_device(started["user_code"])
        device_code = started["device_code"]
        if ending == "rotated":
            assert world.poll(device_code).status_code == 200
        elif ending == "expired":
            world.expire(DeviceCode, DeviceCode.client_id == world.client_id)
        if ending not in ("rotated", "expired"):
            world.end(ending)
        return refusal(world.poll(device_code, dialect), dialect)
    world.obo_app("web")
    if path == "code exchange":
        code = world.code()
        if ending == "rotated":
            assert world.exchange(code).status_code == 200
        elif ending == "expired":
            world.expire(AuthorizationCode, AuthorizationCode.client_id == world.client_id)
        else:
            world.end(ending)
        return refusal(world.exchange(code, dialect), dialect)
    refresh_token = world.tokens()["refresh_token"]
    if ending == "rotated":
        assert world.refresh(refresh_token).status_code == 200
    elif ending == "expired":
        world.expire(OAuthToken, OAuthToken.client_id == world.client_id)
    else:
        world.end(ending)
    return refusal(world.refresh(refresh_token, dialect), dialect)


def device_authorization(world, path, ending, dialect):
    world.obo_app("device")
    world.end(ending)
    answers = {refusal(world.start_device(dialect), dialect)}
    if dialect == "coze":
        answers.add(refusal(world.start_device(dialect, workspace=True), dialect))
    assert len(answers) == 1, answers  # both Coze routes answer alike
    return answers.pop()


def jwt_path(world, path, ending, dialect):
    kind = {"enterprise JWT": "privileged", "channel JWT": "channel"}.get(path, "normal")
    path_kind = {"enterprise JWT": "enterprise", "cross-account JWT": "account"}.get(path, "plain")
    if path == "cross-account JWT":
        with world.app.app_context():
            from server.accounts import personal_tenant

            own = personal_tenant(world.admin.id).id
        world.service_app(kind, owner_tenant=own)
    else:
        world.service_app(kind)
        world.tenant_of_app = world.team
    assert world.jwt(dialect, path_kind).status_code == 200
    claims = {}
    if ending == "expired":
        now = int(time.time())
        claims = {"iat": now - 600, "exp": now - 300}
    elif ending == "rotated":
        claims = {"jti": "a-replayed-assertion-id"}
        assert world.jwt(dialect, path_kind, **claims).status_code == 200
    else:
        world.end(ending)
    return refusal(world.jwt(dialect, path_kind, **claims), dialect)


def _install_page(status, html):
    if status == 403 and "is not installed in" in html:
        return "403 install pending" if "already waiting" in html else "403 install needed"
    return None


def _consent_outcome(status, headers, html):
    if status == 302:
        found = query(headers["Location"])
        return "302 code" if "code" in found else f"302 {found.get('error')}"
    return _install_page(status, html) or page_error(status, html)


def authorize_page(world, path, ending, dialect):
    world.obo_app("web")
    world.end(ending)
    if dialect == "rfc":
        urls = [world.authorize_url()]
    else:
        urls = [
            world.authorize_url("/api/permission/oauth2/authorize"),
            world.authorize_url(f"/api/permission/oauth2/workspace_id/{world.workspace}/authorize"),
        ]
    answers = set()
    for url in urls:
        status, headers, html = world.browser.get(url)
        if status == 302 and "/oauth/consent" in headers["Location"]:
            status, headers, html = world.browser.get(headers["Location"])
            if status == 200:
                note = re.search(r'class="(?:place-note|hint)">\s*(.*?)\s*<', html, re.S)
                notes = {
                    "approving installs it": "installs",
                    "request is waiting": "requested",
                    "an admin must install": "needs_admin",
                }
                shown = next((v for k, v in notes.items() if note and k in note.group(1)), None)
                answers.add("200 consent" + (f": {shown}" if shown else ""))
                continue
        if status == 302:
            answers.add(f"302 {query(headers['Location']).get('error')}")
        else:
            answers.add(page_error(status, html))
    assert len(answers) == 1, answers  # every route of the dialect answers alike
    return answers.pop()


def consent_approval(world, path, ending, dialect):
    world.obo_app("web")
    if ending in (
        "consent revoked",
        "superseded by reinstall",
        "superseded by re-consent",
        "rotated",
    ):
        world.code()  # a consent (and a code) from before
    url = world.authorize_url("/oauth/authorize" if dialect == "rfc" else
                              "/api/permission/oauth2/authorize")  # fmt: skip
    status, _, html = world.browser.open_consent(url)
    assert status == 200, html[:300]
    if ending == "rotated":
        status, _, _ = world.browser.decide(html, workspace_id=world.workspace)
        assert status == 302
    elif ending == "expired":
        with world.app.app_context():
            world.app.extensions["store"].take("authorize:" + hidden(html, "authorize_key"))
    else:
        world.end(ending)
    return _consent_outcome(*world.browser.decide(html, workspace_id=world.workspace))


def device_approval(world, path, ending, dialect):
    world.obo_app("device")
    if ending in ("consent revoked", "superseded by reinstall", "superseded by re-consent"):
        world.approve_device(world.start_device().json["user_code"])  # a consent from before
    user_code = world.start_device(dialect).json["user_code"]
    if ending == "rotated":
        world.approve_device(user_code)
    elif ending == "expired":
        world.expire(DeviceCode, DeviceCode.client_id == world.client_id)
    else:
        world.end(ending)
    browser = world.browser
    status, _, html = browser.get(f"/device?user_code={user_code}")
    assert status == 200
    status, _, html = browser.post(
        "/device", {"csrf_token": hidden(html, "csrf_token"), "user_code": user_code}
    )
    if status == 200:
        status, _, html = browser.decide(html, workspace_id=world.workspace, url="/device")
    if status == 200 and "Device connected" in html:
        return "200 connected"
    if status == 410:
        return "410 expired" if "has expired" in html else "410 used"
    if status == 400 and "That code is not valid" in html:
        return "400 unknown code"
    return _install_page(status, html) or page_error(status, html)


def introspection(world, path, ending, dialect):
    if path == "introspection, service access token":
        with world.app.app_context():
            made, token = service_tokens.create_service_token(
                world.user(world.admin),
                world.team,
                name="s",
                permission_names=["Bot.read"],
                workspace_ids=[int(world.workspace)],
                expires_in_days=None,
            )
            db.session.commit()
            sat_id = made.id
        assert world.introspect(token) == "active"
        if ending == "expired":
            world.expire(ServiceToken, ServiceToken.id == sat_id)
        else:  # deleted: the token's revocation
            world.do(lambda: service_tokens.revoke_service_token(world.user(world.admin), sat_id))
        return world.introspect(token)
    if path == "introspection, channel token":
        world.service_app("channel")
        token = world.jwt("coze").json["access_token"]
    else:
        world.obo_app("web")
        extra = {"resource": world.resource} if path == "introspection, resource-bound" else {}
        pair = world.tokens(**extra)
        token = pair["access_token"]
    assert world.introspect(token) == "active"
    rs = None
    if ending == "rotated":
        assert world.refresh(pair["refresh_token"]).status_code == 200
        token = pair["refresh_token"]
    elif ending == "expired":
        world.expire(OAuthToken, OAuthToken.client_id == world.client_id)
    elif ending == "other resource server":
        rs = resource_server(world.app, f"{OTHER_RESOURCE}/{uuid.uuid4().hex[:12]}")
    else:
        world.end(ending)
    return world.introspect(token, rs)


def revocation(world, path, ending, dialect):
    world.obo_app("web")
    pair = world.tokens()
    token = pair["access_token"]
    if ending == "rotated":
        assert world.refresh(pair["refresh_token"]).status_code == 200
        token = pair["refresh_token"]
    elif ending == "expired":
        world.expire(OAuthToken, OAuthToken.client_id == world.client_id)
    else:
        world.end(ending)
    response = world.client.post(
        "/oauth/revoke", data={"token": token}, headers=basic(world.client_id, world.secret)
    )
    answer = refusal(response, "rfc")
    if answer == "200":  # and it ends the token for good, whatever came before
        if ending == "disabled":
            world.do(
                lambda: clients.set_status(world.user(world.admin), world.client_id, "enabled")
            )
        assert world.introspect(token) == "inactive"
    return answer


PROBES = {
    "code exchange": token_path,
    "refresh": token_path,
    "device polling": token_path,
    "device authorization": device_authorization,
    "JWT": jwt_path,
    "cross-account JWT": jwt_path,
    "enterprise JWT": jwt_path,
    "channel JWT": jwt_path,
    "authorize page": authorize_page,
    "consent approval": consent_approval,
    "device approval": device_approval,
    "introspection": introspection,
    "introspection, resource-bound": introspection,
    "introspection, channel token": introspection,
    "introspection, service access token": introspection,
    "revocation": revocation,
}


def test_every_path_has_a_probe():
    assert set(PROBES) == set(PATHS)


@pytest.mark.parametrize("path, ending, dialect", CELLS)
def test_cell(table_app, path, ending, dialect):
    world = World(table_app)
    assert PROBES[path](world, path, ending, dialect) == expected(path, ending, dialect)


def table_markdown() -> str:
    """The table for a reader: `.venv/bin/python -m tests.test_access_rule`."""
    lines = ["| path | dialect | " + " | ".join(ENDINGS) + " |", "|---" * (len(ENDINGS) + 2) + "|"]
    for path, dialects in PATHS.items():
        for dialect in DIALECTS:
            if dialect not in dialects:
                lines.append(f"| {path} | {dialect} | n/a: {NO_DIALECT[path, dialect]} |")
                continue
            cells = [expected(path, ending, dialect) or "n/a" for ending in ENDINGS]
            lines.append(f"| {path} | {dialect} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table_markdown())
