"""Coze's app family: app kinds, connectors with channel apps and their scope object,
enterprise-privileged apps and their token path, in both dialects."""

from __future__ import annotations

import functools

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from server import clients
from server.extensions import db
from server.models import AuditEntry, User
from tests.api_helpers import API, add_member, make_team
from tests.oauth_support import JWT_BEARER, assertion, resource_server

pytestmark = pytest.mark.usefixtures("fast_passwords")

AUD = "localhost"
COZE_TOKEN = "/api/permission/oauth2/token"


@functools.cache
def key_pair() -> tuple[str, str]:
    """One RSA pair for every app here (private PEM, public PEM): generating is the slow part."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


class Team:
    """A team with its super_admin (acting over the API), a connector and apps of each kind."""

    def __init__(self, app, client, make_user, make_app, auth_header) -> None:
        self.app, self.client, self.make_app = app, client, make_app
        self.owner = make_user()
        self.headers = auth_header(self.owner)
        self.id = make_team(app, self.owner, "Acme", "enterprise")
        self.rs = resource_server(app)
        self.connector = self.api("post", f"/tenants/{self.id}/connectors", json={"name": "Shop"})[
            "id"
        ]

    def api(self, method, path, expect=(200, 201, 204), **kwargs):
        response = self.client.open(API + path, method=method, headers=self.headers, **kwargs)
        assert response.status_code in expect, (path, response.status_code, response.json)
        return response.json

    def service(self, kind, permissions=("Connector.botChat", "Bot.read"), bind=True):
        """An authorized service app of this kind with the shared key: (client_id, kid, pem)."""
        created, _ = self.make_app(
            self.owner, "service", tenant_id=self.id, app_kind=kind, permissions=list(permissions)
        )
        client_id = created.client_id
        pem, public = key_pair()
        with self.app.app_context():
            actor = db.session.get(User, self.owner.id)
            kid = clients.add_key(actor, client_id, public)[0].kid
            clients.authorize_service_app(actor, client_id)
            db.session.commit()
        if kind == "channel" and bind:
            self.bind(client_id, self.connector)
        return client_id, kid, pem

    def bind(self, client_id, connector_id):
        return self.api("patch", f"/apps/{client_id}", json={"connector_id": connector_id})

    def jwt(self, service, dialect="coze", path=COZE_TOKEN, **body):
        client_id, kid, pem = service
        signed = assertion(client_id, kid, pem, AUD)
        if dialect == "rfc":
            return self.client.post(
                "/oauth/token", data={"grant_type": JWT_BEARER, "assertion": signed, **body}
            )
        return self.client.post(
            path,
            json={"grant_type": JWT_BEARER, **body},
            headers={"Authorization": f"Bearer {signed}"},
        )

    def enterprise(self, service, enterprise_id=None):
        """The privileged path exactly as coze-go calls it: the JWT as a Bearer header and a
        JSON body with grant_type, duration_seconds, client_id and enterprise_id."""
        client_id, kid, pem = service
        enterprise_id = enterprise_id or self.id
        return self.client.post(
            f"/api/permission/oauth2/enterprise_id/{enterprise_id}/token",
            data=(
                '{"grant_type":"urn:ietf:params:oauth:grant-type:jwt-bearer",'
                f'"duration_seconds":900,"client_id":"{client_id}",'
                f'"enterprise_id":"{enterprise_id}"}}'
            ),
            headers={
                "Authorization": f"Bearer {assertion(client_id, kid, pem, AUD)}",
                "Content-Type": "application/json",
            },
        )

    def introspect(self, token):
        return self.client.post("/oauth/introspect", data={"token": token}, headers=self.rs).json


@pytest.fixture
def team(app, client, make_user, make_app, auth_header):
    return Team(app, client, make_user, make_app, auth_header)


def error_of(response, dialect):
    return response.status_code, response.json["error_code" if dialect == "coze" else "error"]


# App kinds ---------------------------------------------------------------------------------


def test_kind_is_set_at_creation_and_never_changes(team):
    base = {"name": "Ch", "client_type": "service"}
    created = team.api("post", f"/tenants/{team.id}/apps", json={**base, "app_kind": "channel"})
    assert (created["app_kind"], created["connector_id"]) == ("channel", None)
    plain = team.api("post", f"/tenants/{team.id}/apps", json={**base, "name": "N"})
    assert plain["app_kind"] == "normal"
    for kind in ("normal", "privileged"):
        refused = team.client.patch(
            f"{API}/apps/{created['client_id']}", json={"app_kind": kind}, headers=team.headers
        )
        assert (refused.status_code, refused.json["error"]) == (422, "immutable_field")
    same = team.api("patch", f"/apps/{created['client_id']}", json={"app_kind": "channel"})
    assert same["app_kind"] == "channel"
    listed = team.api("get", f"/tenants/{team.id}/apps")["items"]
    assert {a["app_kind"] for a in listed} == {"channel", "normal"}
    with team.app.app_context():
        entry = (
            db.session.query(AuditEntry)
            .filter_by(target=created["client_id"], action="app.create")
            .one()
        )
        assert entry.detail["app_kind"] == "channel"


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"client_type": "web", "app_kind": "channel"}, 422, "kind_mismatch"),
        ({"client_type": "device", "app_kind": "privileged"}, 422, "kind_mismatch"),
        ({"client_type": "service", "app_kind": "admin"}, 422, "invalid_value"),
        ({"client_type": "service", "app_kind": None}, 400, "invalid_request"),
    ],
)
def test_kind_must_suit_the_client_type(team, body, status, code):
    body = {"name": "X", "redirect_uris": ["https://a.example/cb"], **body}
    if body["client_type"] != "web":
        body.pop("redirect_uris")
    response = team.client.post(f"{API}/tenants/{team.id}/apps", json=body, headers=team.headers)
    assert (response.status_code, response.json["error"]) == (status, code)


def test_privileged_apps_only_in_teams_by_admins_with_their_own_catalogue(
    team, make_user, auth_header
):
    from tests.api_helpers import personal_id

    body = {"name": "P", "client_type": "service", "app_kind": "privileged"}
    personal = team.client.post(
        f"{API}/tenants/{personal_id(team.app, team.owner)}/apps", json=body, headers=team.headers
    )
    assert (personal.status_code, personal.json["error"]) == (422, "personal_tenant")
    member = make_user()
    add_member(team.app, team.id, member, "member")
    as_member = team.client.post(
        f"{API}/tenants/{team.id}/apps", json=body, headers=auth_header(member)
    )
    assert as_member.status_code == 403
    mixed = team.client.post(
        f"{API}/tenants/{team.id}/apps",
        json={**body, "permissions": ["Bot.read"]},
        headers=team.headers,
    )
    assert (mixed.status_code, mixed.json["error"]) == (422, "invalid_permission")
    normal = team.client.post(
        f"{API}/tenants/{team.id}/apps",
        json={"name": "N", "client_type": "service", "permissions": ["Enterprise.members.read"]},
        headers=team.headers,
    )
    assert (normal.status_code, normal.json["error"]) == (422, "invalid_permission")
    good = team.api(
        "post",
        f"/tenants/{team.id}/apps",
        json={**body, "permissions": ["Enterprise.billing.read"]},
    )
    assert good["permissions"] == ["Enterprise.billing.read"]
    catalogue = team.api("get", "/permissions?app_kind=privileged")["items"]
    assert "Enterprise.members.manage" in {p["name"] for p in catalogue}
    assert "Enterprise.members.manage" not in {
        p["name"] for p in team.api("get", "/permissions")["items"]
    }


def test_every_kind_counts_toward_the_quota(app, team):
    app.config["APP_QUOTA_TEAM"] = 3
    for kind in ("normal", "channel", "privileged"):
        body = {"name": kind, "client_type": "service", "app_kind": kind}
        team.api("post", f"/tenants/{team.id}/apps", json=body)
    over = team.client.post(
        f"{API}/tenants/{team.id}/apps",
        json={"name": "more", "client_type": "service", "app_kind": "channel"},
        headers=team.headers,
    )
    assert (over.status_code, over.json["error"]) == (409, "quota_exceeded")


# Connectors and channel apps ---------------------------------------------------------------


def test_connector_crud(team, monkeypatch):
    base = f"/tenants/{team.id}/connectors"
    made = team.api("post", base, json={"name": "Web shop", "description": "Our store"})
    assert made["name"] == "Web shop" and made["tenant_id"] == str(team.id)
    assert made["id"] in [c["id"] for c in team.api("get", base)["items"]]
    edited = team.api("patch", f"/connectors/{made['id']}", json={"description": "New"})
    assert (edited["name"], edited["description"]) == ("Web shop", "New")
    assert team.api("get", f"/connectors/{made['id']}")["description"] == "New"
    team.api("delete", f"/connectors/{made['id']}")
    gone = team.client.get(f"{API}/connectors/{made['id']}", headers=team.headers)
    assert gone.status_code == 404
    from tests.api_helpers import personal_id

    personal = personal_id(team.app, team.owner)
    refused = team.client.post(
        f"{API}/tenants/{personal}/connectors", json={"name": "X"}, headers=team.headers
    )
    assert (refused.status_code, refused.json["error"]) == (422, "personal_tenant")
    monkeypatch.setattr("server.connectors.MAX_CONNECTORS", 1)  # the team has one
    over = team.client.post(f"{API}{base}", json={"name": "Y"}, headers=team.headers)
    assert (over.status_code, over.json["error"]) == (409, "quota_exceeded")


def test_binding_rules(team, make_user, auth_header):
    normal = team.service("normal")
    refused = team.client.patch(
        f"{API}/apps/{normal[0]}", json={"connector_id": team.connector}, headers=team.headers
    )
    assert (refused.status_code, refused.json["error"]) == (422, "not_channel_app")
    channel = team.service("channel", bind=False)
    stranger = make_user()
    theirs = make_team(team.app, stranger, "Other")
    other = team.client.post(
        f"{API}/tenants/{theirs}/connectors", json={"name": "X"}, headers=auth_header(stranger)
    ).json["id"]
    foreign = team.client.patch(
        f"{API}/apps/{channel[0]}", json={"connector_id": other}, headers=team.headers
    )
    assert foreign.status_code == 404
    assert team.bind(channel[0], team.connector)["connector_id"] == team.connector
    assert team.bind(channel[0], None)["connector_id"] is None


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_channel_app_needs_a_connector(team, dialect):
    channel = team.service("channel", bind=False)
    response = team.jwt(channel, dialect)
    assert error_of(response, dialect) == (400, "access_deny" if dialect == "coze" else
                                           "unauthorized_client")  # fmt: skip
    words = response.json["error_message" if dialect == "coze" else "error_description"]
    assert words == "connector app should bind connector id"
    team.bind(channel[0], team.connector)
    token = team.jwt(channel, dialect).json["access_token"]
    answer = team.introspect(token)
    assert answer["active"] is True
    assert (answer["app_kind"], answer["connector_id"]) == ("channel", team.connector)
    assert "bot_id_list" not in answer  # no constraint: every bot published to the connector


def test_scope_object_narrows_a_channel_token(team):
    from cozepy import Scope

    channel = team.service("channel")
    scope = Scope.build_bot_chat(["7351", "7352"]).model_dump()
    response = team.jwt(channel, scope=scope)
    assert response.status_code == 200, response.json
    answer = team.introspect(response.json["access_token"])
    assert answer["bot_id_list"] == ["7351", "7352"]
    assert answer["scope"] == "Connector.botChat"
    # cozepy sends a null constraint for an empty bot list: the token is not narrowed to bots.
    empty = Scope.build_bot_chat([]).model_dump()
    assert empty["attribute_constraint"] is None
    answer = team.introspect(team.jwt(channel, scope=empty).json["access_token"])
    assert "bot_id_list" not in answer and answer["scope"] == "Connector.botChat"
    # The RFC dialect takes the bots as a parameter of the JWT grant.
    rfc = team.jwt(channel, "rfc", bot_id_list="42 43", scope="Bot.read")
    answer = team.introspect(rfc.json["access_token"])
    assert (answer["bot_id_list"], answer["scope"]) == (["42", "43"], "Bot.read")


def _scope(perms=None, bots=None):
    return {
        "account_permission": {"permission_list": perms or ["Connector.botChat"]},
        "attribute_constraint": {"connector_bot_chat_attribute": {"bot_id_list": bots}}
        if bots
        else None,
    }


REFUSED_SCOPES = [
    (_scope(perms=["Dataset.delete"]), "invalid_scope"),  # never wider than the app
    (_scope(perms=["Enterprise.members.read"]), "invalid_scope"),
    ({"account_permission": {"permission_list": []}}, "invalid_request"),
    ({"account_permission": {"permissions": ["Bot.read"]}}, "invalid_request"),
    ({"account_permission": ["Bot.read"]}, "invalid_request"),
    ({"attribute_constraint": {"connector_bot_chat_attribute": {"bot_id_list": []}}},
     "invalid_request"),
    ({"attribute_constraint": {"other_attribute": {}}}, "invalid_request"),
    ({"attribute_constraint": {"connector_bot_chat_attribute": {"bot_id_list": [7]}}},
     "invalid_request"),
    ({"workspace_permission": {"workspace_id_list": ["1"]}}, "invalid_request"),
    ({"extra": 1}, "invalid_request"),
    (_scope(bots=["a b"]), "invalid_request"),
    (["Bot.read"], "invalid_request"),
]  # fmt: skip


def test_scope_object_shapes_refused(team):
    channel = team.service("channel")
    for scope, code in REFUSED_SCOPES:
        response = team.jwt(channel, scope=scope)
        assert error_of(response, "coze") == (400, code), (scope, response.json)
        assert response.json["error_message"]


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_bot_list_only_for_channel_apps(team, dialect):
    for kind in ("normal", "privileged"):
        perms = ["Enterprise.members.read"] if kind == "privileged" else ["Connector.botChat"]
        service = team.service(kind, permissions=perms)
        if dialect == "coze":
            response = team.jwt(service, scope=_scope(perms=perms, bots=["1"]))
        else:
            response = team.jwt(service, "rfc", bot_id_list="1")
        assert error_of(response, dialect) == (400, "invalid_scope"), response.json
    channel = team.service("channel")
    bad = team.jwt(channel, "rfc", bot_id_list="not/an/id")
    assert error_of(bad, "rfc") == (400, "invalid_request")


@pytest.mark.parametrize("ending", ["unbind", "delete connector", "rebind"])
def test_connector_changes_end_channel_tokens_at_once(team, ending):
    channel = team.service("channel")
    token = team.jwt(channel).json["access_token"]
    assert team.introspect(token)["active"] is True
    if ending == "unbind":
        team.bind(channel[0], None)
    elif ending == "delete connector":
        team.api("delete", f"/connectors/{team.connector}")
        assert team.api("get", f"/apps/{channel[0]}")["connector_id"] is None
    else:
        team.bind(channel[0], team.connector)  # a new binding, even to the same connector
    assert team.introspect(token) == {"active": False}
    if ending != "rebind":
        refused = team.jwt(channel)
        assert refused.json["error_message"] == "connector app should bind connector id"
        fresh = team.api("post", f"/tenants/{team.id}/connectors", json={"name": "Again"})
        team.bind(channel[0], fresh["id"])
    # The new binding's tokens work; the old one never comes back.
    newer = team.jwt(channel).json["access_token"]
    assert team.introspect(newer)["active"] is True
    assert team.introspect(token) == {"active": False}


# Enterprise-privileged apps ---------------------------------------------------------------


def test_privileged_app_tokens_only_through_the_enterprise_path(team):
    privileged = team.service("privileged", permissions=["Enterprise.members.read"])
    response = team.enterprise(privileged)
    assert response.status_code == 200, response.json
    assert "refresh_token" not in response.json
    answer = team.introspect(response.json["access_token"])
    assert answer["active"] is True
    assert (answer["app_kind"], answer["tenant_id"]) == ("privileged", str(team.id))
    assert answer["scope"] == "Enterprise.members.read"
    rfc = team.jwt(privileged, "rfc", enterprise_id=str(team.id))
    assert rfc.status_code == 200, rfc.json
    assert team.introspect(rfc.json["access_token"])["app_kind"] == "privileged"
    # The normal paths refuse it, in both dialects.
    for dialect in ("rfc", "coze"):
        refused = team.jwt(privileged, dialect)
        expected = "access_deny" if dialect == "coze" else "unauthorized_client"
        assert error_of(refused, dialect) == (400, expected)
    coze = team.jwt(privileged)
    assert coze.json["error_message"].startswith("invalid app type")
    account = team.jwt(privileged, path=f"/api/permission/oauth2/account/{team.id}/token")
    assert error_of(account, "coze") == (400, "access_deny")
    # Another enterprise's path does not serve it.
    assert team.enterprise(privileged, enterprise_id="999999").status_code == 400


def test_the_enterprise_path_refuses_other_kinds(team):
    for kind in ("normal", "channel"):
        service = team.service(kind)
        assert error_of(team.enterprise(service), "coze") == (400, "access_deny")
        rfc = team.jwt(service, "rfc", enterprise_id=str(team.id))
        assert error_of(rfc, "rfc") == (400, "unauthorized_client")
    malformed = team.jwt(team.service("privileged", ("Enterprise.billing.read",)), "rfc",
                         enterprise_id="x1")  # fmt: skip
    assert error_of(malformed, "rfc") == (400, "invalid_request")
    bad_path = team.client.post(
        "/api/permission/oauth2/enterprise_id/abc/token", json={"grant_type": JWT_BEARER}
    )
    assert error_of(bad_path, "coze") == (404, "not_found")  # not an id: no such path


def test_privileged_app_is_not_installed_elsewhere(team, make_user, auth_header):
    privileged = team.service("privileged", permissions=["Enterprise.billing.read"])
    other_owner = make_user()
    other = make_team(team.app, other_owner, "Other")
    response = team.client.put(
        f"{API}/tenants/{other}/installations/{privileged[0]}",
        json={"kind": "appauth"},
        headers=auth_header(other_owner),
    )
    assert (response.status_code, response.json["error"]) == (422, "kind_mismatch")


def test_demoting_the_creator_keeps_tokens_disabling_and_deleting_end_them(team, make_user):
    admin = make_user()
    add_member(team.app, team.id, admin, "super_admin")
    privileged = team.service("privileged", permissions=["Enterprise.members.read"])
    token = team.enterprise(privileged).json["access_token"]
    with team.app.app_context():
        from server import tenants

        tenants.update_member(db.session.get(User, admin.id), team.id, team.owner.id, "member")
        db.session.commit()
    assert team.introspect(token)["active"] is True
    assert team.enterprise(privileged).status_code == 200
    with team.app.app_context():
        actor = db.session.get(User, admin.id)
        clients.set_status(actor, privileged[0], "disabled")
        db.session.commit()
        assert team.introspect(token) == {"active": False}
        assert error_of(team.enterprise(privileged), "coze") == (400, "access_deny")
        clients.set_status(actor, privileged[0], "enabled")
        db.session.commit()
        assert team.introspect(token)["active"] is True
        clients.delete_app(actor, privileged[0])
        db.session.commit()
    assert team.introspect(token) == {"active": False}
    assert error_of(team.enterprise(privileged), "coze") == (401, "invalid_client")
