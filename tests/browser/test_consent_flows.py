"""Code, PKCE and deny by clicking through sign-in and consent; a member's installation request
approved by an admin in a second browser."""

from __future__ import annotations

import secrets

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from playwright.sync_api import expect

from tests.browser.helpers import authorize_url, exchange, landed_params, sign_in
from tests.oauth_support import REDIRECT_URI


def test_code_flow_by_clicking(page, live_server, make_user, make_app, introspect, shoot):
    user = make_user()
    created, secret = make_app(
        user,
        "web",
        name="Chat Helper",
        description="Answers customers with your agents.",
        permissions=["Bot.read", "Connector.botChat"],
    )
    page.goto(authorize_url(created.client_id, state="st-1"))
    assert page.url.startswith(live_server.url + "/login?next=")
    shoot(page, "login")
    sign_in(page, user.email)

    expect(page.get_by_role("heading", level=1)).to_contain_text("Chat Helper")
    expect(page.get_by_text("Answers customers with your agents.")).to_be_visible()
    expect(
        page.get_by_text("Chat with published agents (bots) through the API connector")
    ).to_be_visible()
    shoot(page, "consent")
    page.get_by_role("button", name="Approve").click()

    params = landed_params(page)
    assert params["state"] == "st-1"
    token = exchange(live_server.url, created.client_id, params["code"], client_secret=secret)
    info = introspect(token["access_token"])
    assert info["active"] and info["sub"] == str(user.id) and info["app_type"] == "web"
    assert info["scope"] == "Bot.read Connector.botChat"


def test_pkce_flow_by_clicking(page, live_server, make_user, make_app, introspect):
    user = make_user()
    created, _ = make_app(user, "pkce", name="Pocket Agent")
    verifier = secrets.token_urlsafe(48)
    page.goto(
        authorize_url(
            created.client_id,
            state="p",
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
    )
    sign_in(page, user.email)
    expect(page.get_by_text("Mobile, desktop or single-page app")).to_be_visible()
    page.get_by_role("button", name="Approve").click()

    params = landed_params(page)
    token = exchange(live_server.url, created.client_id, params["code"], code_verifier=verifier)
    assert introspect(token["access_token"])["app_type"] == "pkce"
    assert token["refresh_token"]


def test_deny_returns_access_denied_with_state(page, make_user, make_app):
    user = make_user()
    created, _ = make_app(user, "web")
    page.goto(authorize_url(created.client_id, state="keep-me"))
    sign_in(page, user.email)
    page.get_by_role("button", name="Deny").click()
    params = landed_params(page)
    assert params["error"] == "access_denied" and params["state"] == "keep-me"
    assert "code" not in params


def test_member_requests_installation_and_admin_approves(
    app, new_context, live_server, make_user, make_app, introspect, shoot
):
    from tests.api_helpers import add_member, make_team

    admin, member = make_user(name="Ada Admin"), make_user(name="Max Member")
    team = make_team(app, admin, name="Acme Robotics")
    add_member(app, team, member, "member")
    created, secret = make_app(admin, "web", name="Standup Bot", permissions=["Bot.read"])

    # The member asks for the team workspace and learns why they cannot approve yet.
    asking = new_context().new_page()
    asking.goto(authorize_url(created.client_id, state="m"))
    sign_in(asking, member.email)
    team_choice = asking.get_by_role("radio", name="Acme Robotics")
    expect(team_choice).to_be_visible()
    expect(asking.get_by_text("an admin must install it")).to_be_visible()
    team_choice.check()
    asking.get_by_role("button", name="Approve").click()
    expect(asking.get_by_role("heading", level=1)).to_contain_text("is not installed in Acme")
    shoot(asking, "request-install")
    asking.get_by_role("button", name="Request installation").click()
    expect(asking.get_by_role("heading", name="Request sent")).to_be_visible()
    shoot(asking, "request-sent")

    # An admin, in a browser of their own, approves the request in the console.
    approving = new_context().new_page()
    approving.goto("/console/")
    sign_in(approving, admin.email)
    approving.get_by_role("link", name="Acme Robotics").first.click()
    approving.get_by_role("link", name="Installations").click()
    row = approving.get_by_role("row").filter(has_text="Standup Bot")
    expect(row).to_contain_text("Pending approval")
    expect(row).to_contain_text(member.email)
    shoot(approving, "console-installations-pending")
    row.get_by_role("button", name="Approve").click()
    expect(approving.get_by_text("Installation approved")).to_be_visible()
    expect(approving.get_by_role("row").filter(has_text="Standup Bot")).to_contain_text("Installed")

    # Now the member's approval goes through, for the team.
    asking.goto(authorize_url(created.client_id, state="again"))
    asking.get_by_role("radio", name="Acme Robotics").check()
    asking.get_by_role("button", name="Approve").click()
    params = landed_params(asking)
    assert params["state"] == "again"
    token = exchange(live_server.url, created.client_id, params["code"], client_secret=secret)
    info = introspect(token["access_token"])
    assert info["active"] and info["tenant_id"] == str(team) and info["sub"] == str(member.id)
    assert asking.url.startswith(REDIRECT_URI)
