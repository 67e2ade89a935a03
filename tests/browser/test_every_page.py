"""Every page at desktop and phone widths, in English and Chinese: nothing overflows sideways,
every form control has a label, and a screenshot of each lands in artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from server import clients, tenants
from server.extensions import db
from server.models import User
from tests.api_helpers import add_member, make_team
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.helpers import authorize_url
from tests.conftest import PASSWORD

# Locale-independent selectors: the Chinese run clicks the same buttons.
APPROVE = "button[name=decision][value=approve]"
SUBMIT = "main form button[type=submit]"

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && e.type !== 'submit')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""


# Text a person reads on the page (not code, not user data in form fields, not the other
# language's name in the switcher), and the words of labels only assistive tech reads.
READ_TEXT = """() => {
  const skip = 'code, pre, script, style, textarea, [lang=en], .who-email, time';
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement && !node.parentElement.closest(skip)) out.push(node.textContent);
  }
  document.querySelectorAll('[aria-label], [title], [placeholder]').forEach(e => {
    if (e.closest(skip)) return;
    ['aria-label', 'title', 'placeholder'].forEach(a => out.push(e.getAttribute(a) || ''));
  });
  out.push(document.title);
  return out.join(' | ');
}"""
# Three or more English words in a row: a sentence or phrase left untranslated. Acronyms and
# product names (OBO, AppAuth, PKCE, JWT, Client ID) are shorter than that.
ENGLISH = re.compile(r"[A-Za-z][a-z]+(?:[ ,'’-]+[A-Za-z][a-z]+){2,}")
URLISH = re.compile(r"\S+@\S+|https?://\S+|[\w.-]+\.[a-z]{2,}/\S*")


def english_in(text: str, data: list[str]) -> list[str]:
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return ENGLISH.findall(URLISH.sub(" ", text))


def _sign_in(page, email: str) -> None:
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click(SUBMIT)


@pytest.mark.parametrize(
    ("label", "viewport", "locale"),
    [
        ("desktop", DESKTOP, "en-US"),
        ("phone", PHONE, "en-US"),
        ("desktop-zh", DESKTOP, "zh-CN"),
        ("phone-zh", PHONE, "zh-CN"),
    ],
)
def test_every_page(
    app, new_context, live_server, make_user, make_app, shoot, label, viewport, locale
):
    owner, member = make_user(name="Ada"), make_user(name="Max")
    team = make_team(app, owner, name="Acme Robotics")
    add_member(app, team, member, "member")
    web, _ = make_app(
        owner,
        "web",
        name="Support Copilot",
        description="Drafts answers for the support team from your agents' knowledge.",
        permissions=["Bot.read", "Connector.botChat", "Conversation.read"],
    )
    device, _ = make_app(owner, "device", name="Living-room TV", permissions=["Bot.read"])
    vendor, _ = make_app(make_user(), "pkce", name="Pocket Agent")
    refused, _ = make_app(make_user(), "web", name="Team Wiki")
    with app.app_context():
        asking = db.session.get(User, member.id)
        clients.request_installation(asking, team, vendor.client_id)
        # A request the admin refused stays in the member's My requests, marked so.
        clients.request_installation(asking, team, refused.client_id)
        clients.uninstall(db.session.get(User, owner.id), team, refused.client_id)
        db.session.commit()
    started = requests.post(
        live_server.url + "/oauth/device_authorization",
        data={"client_id": device.client_id},
        timeout=10,
    ).json()

    page = new_context(viewport=viewport, locale=locale).new_page()

    # Names and descriptions people typed are theirs, not the interface's.
    data = [
        "Support Copilot",
        "Drafts answers for the support team from your agents' knowledge.",
        "Living-room TV",
        "Pocket Agent",
        "Team Wiki",
        "Acme Robotics",
        "Nightly Sync",
        "Ada's account",
        "Max's account",
        "Ada",
        "Max",
    ]

    # The detector itself: an untranslated sentence is caught, names and codes are not.
    assert english_in("保存 Save the client secret", []) == ["Save the client secret"]
    assert english_in("应用 Support Copilot · OBO · Client ID <a@b.example>", data) == []

    def check(name: str) -> None:
        if locale.startswith("zh"):
            text = page.evaluate(READ_TEXT)
            assert max(text) >= "\u4e00" and len(text) > 40, f"{name} was not read"
            found = english_in(text, data)
            assert found == [], f"{name} has English text in Chinese: {found}"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name} is {width}px wide at {viewport['width']}px"
        assert page.evaluate(UNLABELLED) == [], f"{name} has form controls without a label"
        shoot(page, f"{name}-{label}")

    page.goto("/login")
    check("login")
    _sign_in(page, owner.email)
    expect(page).to_have_url(live_server.url + "/console/")
    check("console-overview")

    page.goto(authorize_url(web.client_id, state="x"))
    check("consent")
    # The team, where the app is not installed, says in its own choice that approving there
    # installs the app for the whole team; the personal workspace says nothing of the kind.
    team_choice = page.locator("label.choice", has_text="Acme Robotics")
    expect(team_choice.locator(".place-note")).to_be_visible()
    expect(page.locator("label.choice .place-note")).to_have_count(1)
    team_choice.locator("input").check()
    check("consent-install-for-team")
    page.goto(authorize_url("1000000000000000001"))
    check("error")

    page.goto("/device")
    check("device")
    page.fill("#user_code", started["user_code"])
    page.click(SUBMIT)
    expect(page.locator(APPROVE)).to_be_visible()
    check("device-consent")
    page.click(APPROVE)
    check("device-done")

    with app.app_context():
        from server.accounts import personal_tenant

        personal = personal_tenant(owner.id).id
    page.goto(f"/console/tenants/{personal}")
    check("console-tenant")
    page.goto(f"/console/tenants/{personal}/apps/new")
    check("console-new-app")
    page.fill("#name", "Nightly Sync")
    page.check("#type-service")
    page.click("main form button.primary[type=submit]")
    expect(page.locator("#private-key")).to_be_visible()
    check("console-private-key")
    page.goto(f"/console/apps/{web.client_id}")
    check("console-app")
    page.goto(f"/console/apps/{web.client_id}/delete")
    check("console-delete")
    page.goto(f"/console/apps/{web.client_id}/secret")
    check("console-confirm-rotate")
    page.click("main form button.danger[type=submit]")
    check("console-secret-once")
    page.reload()
    check("console-already-shown")
    page.goto(f"/console/apps/{web.client_id}/secret/retire")
    check("error-405")
    page.goto("/console/no-such-page")
    check("error-404")
    page.goto(authorize_url(web.client_id, redirect_uri="https://elsewhere.example/cb"))
    check("error-redirect-uri")
    page.goto(f"/console/tenants/{team}/installations/{vendor.client_id}/uninstall")
    check("console-confirm-refuse")
    page.goto("/console/requests")
    check("console-requests")
    page.goto(f"/console/tenants/{team}/installations")
    check("console-installations")
    channel, _ = make_app(owner, "service", tenant_id=team, name="Shop Bot", app_kind="channel")
    with app.app_context():
        from server import connectors, service_tokens
        from server.events import subscriptions

        acting = db.session.get(User, owner.id)
        shop = connectors.create_connector(acting, team, name="Mini program")
        workspace = tenants.list_workspaces(acting, team)[0].id
        sat, _ = service_tokens.create_service_token(
            acting, team, name="Nightly Sync", permission_names=["Bot.read"],
            workspace_ids=[workspace], expires_in_days=30,
        )  # fmt: skip
        # Stored only: nothing delivers in this test, so the address is never called.
        hook, _ = subscriptions.create_subscription(
            acting, web.client_id, "https://93.184.215.14/hook", ["*"]
        )
        db.session.commit()
        shop_id, sat_id, hook_id = shop.id, sat.id, hook.id
    for name, path in (
        ("console-connectors", f"/console/tenants/{team}/connectors"),
        ("console-confirm-delete-connector", f"/console/connectors/{shop_id}/delete"),
        ("console-channel-app", f"/console/apps/{channel.client_id}"),
        ("console-service-tokens", f"/console/tenants/{team}/service-tokens"),
        ("console-confirm-revoke-service-token", f"/console/service-tokens/{sat_id}/revoke"),
        ("console-subscriptions", f"/console/apps/{web.client_id}/events"),
        ("console-confirm-delete-subscription", f"/console/subscriptions/{hook_id}/delete"),
        ("console-team-audit", f"/console/tenants/{team}/audit"),
    ):
        page.goto(path)
        check(name)
    page.goto(f"/console/tenants/{personal}/audit")
    check("console-audit")
    page.goto("/console/authorized")
    check("console-authorized")
    with app.app_context():
        tenants.invite(db.session.get(User, owner.id), team, "new.colleague@example.com", "admin")
        db.session.commit()
    page.goto(f"/console/tenants/{team}/invitations")
    check("console-invitations")

    # A member of the team, in a browser of their own, meets the installation page.
    asking = new_context(viewport=viewport, locale=locale).new_page()
    page = asking
    page.goto(authorize_url(web.client_id))
    _sign_in(page, member.email)
    page.locator("label.choice", has_text="Acme Robotics").locator("input").check()
    page.click(APPROVE)
    check("request-install")
    with page.expect_navigation():  # measured only once the answer has arrived
        page.click(SUBMIT)
    check("request-sent")
    page.goto("/console/requests")
    expect(page.locator("tr.request.refused")).to_contain_text("Team Wiki")
    expect(page.locator("tr.request.pending", has_text="Pocket Agent")).to_be_visible()
    check("console-my-requests")

    # The member is invited to another team and sees it waiting for an answer.
    with app.app_context():
        other = make_team(app, owner, name="Beta Lab")
        tenants.invite(db.session.get(User, owner.id), other, member.email, "member")
        db.session.commit()
    page.goto("/console/invitations")
    expect(page.locator("text=Beta Lab")).to_be_visible()
    check("console-my-invitations")
