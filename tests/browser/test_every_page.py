"""Every page at desktop and phone widths, in English and Chinese: nothing overflows sideways,
every form control has a label, and a screenshot of each lands in artifacts/screenshots/."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from server import clients
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


def _sign_in(page, email: str) -> None:
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click(SUBMIT)


@pytest.mark.parametrize(
    ("label", "viewport", "locale"),
    [("desktop", DESKTOP, "en-US"), ("phone", PHONE, "en-US"), ("phone-zh", PHONE, "zh-CN")],
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
    with app.app_context():
        clients.request_installation(db.session.get(User, member.id), team, vendor.client_id)
        db.session.commit()
    started = requests.post(
        live_server.url + "/oauth/device_authorization",
        data={"client_id": device.client_id},
        timeout=10,
    ).json()

    page = new_context(viewport=viewport, locale=locale).new_page()

    def check(name: str) -> None:
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
    page.goto(f"/console/tenants/{team}/installations")
    check("console-installations")
    page.goto(f"/console/tenants/{personal}/audit")
    check("console-audit")
    page.goto("/console/authorized")
    check("console-authorized")

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
