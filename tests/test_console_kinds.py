"""The console for app kinds, connectors and service access tokens, in both languages: every
action through the domain functions, with CSRF; a SAT shown once and never kept."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import App, Connector, ServiceToken
from tests.api_helpers import add_member, make_team, text_dump
from tests.conftest import Console
from tests.oauth_support import resource_server
from tests.test_console import text

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def team(app, owner):
    return make_team(app, owner, "Acme")


def test_channel_app_bound_to_a_connector(app, console, team):
    page = f"/console/tenants/{team}/connectors"
    made = console.post(page, {"name": "Web shop", "description": "Our store"}, page=page)
    assert made.status_code == 302
    listing = text(console.get(page))
    assert "Web shop" in listing and "Connector created" in listing
    with app.app_context():
        connector = db.session.scalar(select(Connector).where(Connector.tenant_id == team))
        connector_id = connector.id
    new = f"/console/tenants/{team}/apps/new"
    form = text(console.get(new))
    assert 'name="app_kind" value="privileged"' in form  # offered in a team
    created = console.post(
        new,
        {"name": "Shop bot", "client_type": "service", "app_kind": "channel",
         "permissions": ["Connector.botChat"]},
        page=new,
    )  # fmt: skip
    assert created.status_code == 303
    assert "BEGIN PRIVATE KEY" in text(console.get(created.headers["Location"]))
    with app.app_context():
        channel = db.session.scalar(select(App).where(App.name == "Shop bot"))
        assert (channel.app_kind, channel.connector_id) == ("channel", None)
    detail = f"/console/apps/{channel.client_id}"
    html = text(console.get(detail))
    assert "Channel app" in html and "Not bound" in html
    bound = console.post(f"{detail}/connector", {"connector_id": str(connector_id)}, page=detail)
    assert bound.status_code == 302
    html = text(console.get(detail))
    assert "Bound to Web shop" in html
    assert "App kind" in text(console.get(f"/console/tenants/{team}"))
    console.post(f"{detail}/connector", {"connector_id": ""}, page=detail)
    assert "Not bound" in text(console.get(detail))
    # Edit, then delete the connector.
    console.post(f"/console/connectors/{connector_id}", {"name": "Shop 2"}, page=page)
    assert "Shop 2" in text(console.get(page))
    console.post(f"/console/connectors/{connector_id}/delete", page=page)
    with app.app_context():
        assert db.session.get(Connector, connector_id) is None


def test_kind_errors_are_shown(console, owner, app):
    from server.accounts import personal_tenant

    with app.app_context():
        personal = personal_tenant(owner.id).id
    new = f"/console/tenants/{personal}/apps/new"
    assert 'value="privileged"' not in text(console.get(new))
    refused = console.post(
        new, {"name": "X", "client_type": "web", "app_kind": "channel"}, page=new
    )
    assert refused.status_code == 422 and "must be service apps" in text(refused)


def test_issue_and_revoke_a_service_access_token(app, client, console, team):
    page = f"/console/tenants/{team}/service-tokens"
    html = text(console.get(page))
    workspace = re.search(r'name="workspace_ids" value="(\d+)"', html).group(1)
    issued = console.post(
        page,
        {"name": "CI", "workspace_ids": [workspace], "expiry": "custom", "custom_days": "45",
         "permissions": ["Bot.read"]},
        page=page,
    )  # fmt: skip
    assert issued.status_code == 303  # post/redirect/get: the token is on the next page, once
    shown = console.get(issued.headers["Location"])
    assert shown.status_code == 200
    token = re.search(r'value="(sat_[^"]+)"', text(shown)).group(1)
    again = text(console.get(issued.headers["Location"]))
    assert token not in again and "Already shown" in again
    assert token not in text_dump(app)
    rs = resource_server(app)
    answer = client.post("/oauth/introspect", data={"token": token}, headers=rs).json
    assert answer["active"] is True and answer["workspace_ids"] == [workspace]
    listing = text(console.get(page))
    assert "CI" in listing and token not in listing
    with app.app_context():
        token_id = db.session.scalar(select(ServiceToken.id))
    console.post(f"/console/service-tokens/{token_id}/revoke", page=page)
    assert "No service access tokens yet." in text(console.get(page))
    assert client.post("/oauth/introspect", data={"token": token}, headers=rs).json == {
        "active": False
    }
    bad = console.post(
        page, {"name": "x", "workspace_ids": [workspace], "expiry": "custom", "custom_days": "9999",
               "permissions": ["Bot.read"]}, page=page,
    )  # fmt: skip
    assert bad.status_code == 422 and "3650" in text(bad)


def test_members_see_no_service_tokens(app, client, make_user, team):
    member = make_user()
    add_member(app, team, member, "member")
    console = Console(app.test_client(), member)
    assert console.get(f"/console/tenants/{team}/service-tokens").status_code == 403
    html = text(console.get(f"/console/tenants/{team}/connectors"))
    assert "New connector" not in html


def test_pages_in_chinese(console, team, client):
    client.set_cookie("lang", "zh")
    assert "服务访问令牌" in text(console.get(f"/console/tenants/{team}/service-tokens"))
    assert "新建渠道" in text(console.get(f"/console/tenants/{team}/connectors"))
    assert "企业特权应用" in text(console.get(f"/console/tenants/{team}/apps/new"))


def test_deleting_a_connector_is_confirmed_with_its_apps_and_tokens(
    app, client, make_user, make_app, auth_header
):
    from tests.test_app_kinds import Team

    acme = Team(app, client, make_user, make_app, auth_header)
    channel = acme.service("channel")
    assert acme.jwt(channel).status_code == 200
    console = Console(app.test_client(), acme.owner)
    page = f"/console/connectors/{acme.connector}/delete"
    assert f'href="{page}"' in text(console.get(f"/console/tenants/{acme.id}/connectors"))
    html = text(console.get(page))
    assert "Delete connector Shop?" in html
    assert "1 channel app is unbound" in html and "1 live token ends now." in html
    done = text(console.post_and_follow(page, page=page))
    assert '<p class="destructive">Connector deleted' in done
    with app.app_context():
        assert db.session.get(Connector, acme.connector) is None


def test_revoking_a_service_token_is_confirmed(app, console, owner, team):
    from server import service_tokens, tenants
    from server.models import User

    with app.app_context():
        acting = db.session.get(User, owner.id)
        workspace = tenants.list_workspaces(acting, team)[0].id
        token, _ = service_tokens.create_service_token(
            acting, team, name="CI", permission_names=["Bot.read"],
            workspace_ids=[workspace], expires_in_days=30,
        )  # fmt: skip
        db.session.commit()
        token_id = token.id
    page = f"/console/service-tokens/{token_id}/revoke"
    assert f'href="{page}"' in text(console.get(f"/console/tenants/{team}/service-tokens"))
    html = text(console.get(page))
    assert "Revoke CI?" in html and "It reaches 1 workspace" in html
    done = text(console.post_and_follow(page, page=page))
    assert '<p class="destructive">Revoked' in done
    with app.app_context():
        assert db.session.get(ServiceToken, token_id) is None
