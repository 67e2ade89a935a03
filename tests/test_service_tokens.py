"""Service access tokens: issued once by admins, stored hashed, introspected like OAuth tokens,
and inactive from the next call on once revoked, expired, cut off from a workspace or
orphaned by their tenant."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import delete, update

from grants.secrets import digest
from server.extensions import db
from server.models import ServiceToken, Tenant, Workspace
from tests.api_helpers import API, add_member, make_team, text_dump
from tests.oauth_support import resource_server

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def team(app, client, make_user, auth_header):
    owner = make_user()
    tenant = make_team(app, owner, "Acme")
    headers = auth_header(owner)
    workspaces = client.get(f"{API}/tenants/{tenant}/workspaces", headers=headers).json["items"]
    second = client.post(
        f"{API}/tenants/{tenant}/workspaces", json={"name": "Lab"}, headers=headers
    ).json
    return {
        "id": tenant,
        "owner": owner,
        "headers": headers,
        "workspaces": [workspaces[0]["id"], second["id"]],
        "rs": resource_server(app),
    }


def issue(client, team, **fields):
    body = {
        "name": "CI",
        "permissions": ["Bot.read", "Workflow.run"],
        "workspace_ids": team["workspaces"],
        "expires_in_days": 30,
        **fields,
    }
    return client.post(
        f"{API}/tenants/{team['id']}/service-tokens", json=body, headers=team["headers"]
    )


def introspect(client, team, token):
    return client.post("/oauth/introspect", data={"token": token}, headers=team["rs"]).json


def test_issue_list_introspect_revoke(app, client, team):
    response = issue(client, team)
    assert response.status_code == 201, response.json
    made = response.json
    assert made["token"].startswith("sat_")
    assert set(made) == {
        "id", "tenant_id", "name", "token", "permissions", "workspace_ids", "expires_at",
        "created_at", "last_used_at",
    }  # fmt: skip
    assert made["workspace_ids"] == team["workspaces"] and made["last_used_at"] is None
    # Stored as a digest only.
    dump = text_dump(app)
    assert made["token"] not in dump and digest(made["token"]) in dump
    answer = introspect(client, team, made["token"])
    assert answer["active"] is True
    assert answer["auth_type"] == "sat"
    assert answer["tenant_id"] == str(team["id"])
    assert answer["scope"] == "Bot.read Workflow.run"
    assert answer["workspace_ids"] == team["workspaces"]
    assert abs(answer["exp"] - (time.time() + 30 * 86400)) < 60
    listed = client.get(f"{API}/tenants/{team['id']}/service-tokens", headers=team["headers"])
    (item,) = listed.json["items"]
    assert "token" not in item and item["last_used_at"] is not None
    revoked = client.delete(f"{API}/service-tokens/{made['id']}", headers=team["headers"])
    assert revoked.status_code == 204
    assert introspect(client, team, made["token"]) == {"active": False}
    again = client.delete(f"{API}/service-tokens/{made['id']}", headers=team["headers"])
    assert again.status_code == 404


@pytest.mark.parametrize("days", [1, 90, 180, 3650, None])
def test_expiry_choices(client, team, days):
    made = issue(client, team, expires_in_days=days).json
    answer = introspect(client, team, made["token"])
    if days is None:
        assert made["expires_at"] is None and "exp" not in answer
    else:
        assert abs(answer["exp"] - (time.time() + days * 86400)) < 60
    assert answer["active"] is True


@pytest.mark.parametrize(
    "fields, status",
    [
        ({"expires_in_days": 0}, 422),
        ({"expires_in_days": 3651}, 422),
        ({"expires_in_days": "30"}, 400),
        ({"permissions": []}, 422),
        ({"permissions": ["Enterprise.members.read"]}, 422),
        ({"workspace_ids": []}, 422),
        ({"workspace_ids": ["999999"]}, 422),
        ({"name": ""}, 422),
    ],
)
def test_bad_requests(client, team, fields, status):
    assert issue(client, team, **fields).status_code == status


def test_workspace_of_another_tenant_refused(client, team, make_user, auth_header, app):
    stranger = make_user()
    theirs = make_team(app, stranger, "Theirs")
    foreign = client.get(f"{API}/tenants/{theirs}/workspaces", headers=auth_header(stranger)).json[
        "items"
    ][0]["id"]
    response = issue(client, team, workspace_ids=[foreign])
    assert response.status_code == 422


def test_only_admins(client, team, make_user, auth_header, app):
    member = make_user()
    add_member(app, team["id"], member, "member")
    headers = auth_header(member)
    made = issue(client, team).json
    base = f"{API}/tenants/{team['id']}/service-tokens"
    assert client.get(base, headers=headers).status_code == 403
    assert issue(client, {**team, "headers": headers}).status_code == 403
    assert client.delete(f"{API}/service-tokens/{made['id']}", headers=headers).status_code == 403


def test_quota(app, client, team):
    app.config["SAT_QUOTA"] = 1
    assert issue(client, team).status_code == 201
    over = issue(client, team)
    assert (over.status_code, over.json["error"]) == (409, "quota_exceeded")


@pytest.mark.parametrize("ending", ["expired", "workspace removed", "tenant deleted"])
def test_ends_on_the_next_call(app, client, team, ending):
    made = issue(client, team).json
    assert introspect(client, team, made["token"])["active"] is True
    with app.app_context():
        if ending == "expired":
            db.session.execute(
                update(ServiceToken)
                .where(ServiceToken.id == int(made["id"]))
                .values(expires_at=int(time.time()) - 1)
            )
        elif ending == "workspace removed":
            db.session.execute(delete(Workspace).where(Workspace.id == int(team["workspaces"][1])))
        else:
            db.session.execute(delete(Tenant).where(Tenant.id == team["id"]))
        db.session.commit()
    assert introspect(client, team, made["token"]) == {"active": False}


def test_personal_access_tokens_stay_inactive_at_introspection(client, team):
    pat = team["headers"]["Authorization"].split()[1]
    assert client.get(f"{API}/me", headers=team["headers"]).status_code == 200
    assert introspect(client, team, pat) == {"active": False}
    # And a SAT is no credential for the management API.
    made = issue(client, team).json
    refused = client.get(f"{API}/me", headers={"Authorization": f"Bearer {made['token']}"})
    assert refused.status_code == 401


def test_never_logged(client, team):
    from server.logsafety import redact

    made = issue(client, team).json
    assert made["token"] not in redact(f"Authorization: Bearer {made['token']}")
