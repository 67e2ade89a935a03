"""The console in a browser, as people who reload, double-check and use phones: one-time
results survive a reload without a second effect, destructive steps are confirmed with their
effect, field errors are focused and translated, and the phone layout fits."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.helpers import authorize_url, exchange, landed_params, sign_in
from tests.conftest import PASSWORD
from tests.oauth_support import JWT_BEARER, REDIRECT_URI, assertion


def _secret_works(base_url: str, client_id: str, secret: str) -> bool:
    """Client authentication at the token endpoint: a bogus refresh token is 400 once the
    client is authenticated, 401 before."""
    response = requests.post(
        base_url + "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "czr_bogus"},
        auth=(client_id, secret),
        timeout=10,
    )
    assert response.status_code in (400, 401)
    return response.status_code == 400


def _apps_in(page) -> int:
    return page.locator("table.rows tbody tr").count()


def _console(page, email: str) -> None:
    page.goto("/console/")
    sign_in(page, email)
    page.get_by_role("link", name="'s account").first.click()


def test_reloading_one_time_results_repeats_nothing(page, live_server, make_user, shoot):
    user = make_user()
    _console(page, user.email)
    tenant_url = page.url
    page.get_by_role("link", name="New app").first.click()
    page.get_by_label("Name").fill("Reloaded")
    page.get_by_label("Redirect URIs").fill(REDIRECT_URI)
    page.get_by_role("button", name="Create app").click()
    secret = page.get_by_label("Client secret").input_value()
    client_id = page.locator("#client-id").inner_text()
    expect(page.get_by_role("navigation", name="Console")).to_be_attached()  # sidebar kept
    page.reload()
    expect(page.get_by_role("heading", name="Already shown")).to_be_visible()
    assert secret not in page.content()
    page.go_back()  # the form again, then forward: still no second app
    page.goto(tenant_url)
    assert _apps_in(page) == 1
    assert _secret_works(live_server.url, client_id, secret)

    # Rotate with a grace period: both secrets work; a reload shows nothing and rotates nothing.
    page.goto(f"/console/apps/{client_id}")
    page.get_by_role("link", name="Rotate secret…").click()
    expect(page.get_by_text("live tokens keep working")).to_be_visible()
    shoot(page, "console-confirm-rotate")
    page.get_by_label("keeps working for 24 more hours").check()
    page.get_by_role("button", name="Rotate secret").click()
    rotated = page.get_by_label("Client secret").input_value()
    page.reload()
    expect(page.get_by_role("heading", name="Already shown")).to_be_visible()
    assert _secret_works(live_server.url, client_id, rotated)
    assert _secret_works(live_server.url, client_id, secret)
    page.goto(f"/console/apps/{client_id}")
    expect(page.locator("#grace-note")).to_be_visible()
    page.get_by_role("button", name="Retire the old secret now").click()
    expect(page.locator(".flashes .destructive")).to_contain_text("The old secret no longer works")
    assert not _secret_works(live_server.url, client_id, secret)
    assert _secret_works(live_server.url, client_id, rotated)

    # The code flow with the rotated secret still completes.
    page.goto(authorize_url(client_id, state="r"))
    page.get_by_role("button", name="Approve").click()
    code = landed_params(page)["code"]
    assert exchange(live_server.url, client_id, code, client_secret=rotated)["access_token"]


def test_service_app_key_reloads_and_last_key_confirmation(page, live_server, make_user, shoot):
    user = make_user()
    _console(page, user.email)
    page.get_by_role("link", name="New app").first.click()
    page.get_by_label("Name").fill("Keyed")
    page.get_by_label("Service app").check()
    expect(page.get_by_label("Redirect URIs")).to_be_hidden()  # not asked of service apps
    page.get_by_role("button", name="Create app").click()
    pem = page.get_by_label("Private key (PEM, PKCS#8)").input_value()
    kid = page.locator("#kid").inner_text()
    client_id = page.locator("#client-id").inner_text()
    expect(page.get_by_role("heading", name="Next steps")).to_be_visible()
    expect(page.get_by_text("Authorize the app in this tenant")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Already shown")).to_be_visible()
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_text("Enabled: the app can get tokens for this tenant")).to_be_visible()
    expect(page.get_by_text("sign users in")).to_have_count(0)
    page.get_by_role("button", name="Authorize in this tenant").click()

    page.get_by_role("button", name="Generate key pair").click()
    second_kid = page.locator("#kid").inner_text()
    page.reload()
    expect(page.get_by_role("heading", name="Already shown")).to_be_visible()
    page.goto(f"/console/apps/{client_id}")
    expect(page.locator("table.list code")).to_have_count(2)  # one generated key, not two

    jwt = assertion(client_id, kid, pem, aud=live_server.url + "/oauth/token")
    token = requests.post(
        live_server.url + "/oauth/token",
        data={"grant_type": JWT_BEARER, "assertion": jwt},
        timeout=10,
    )
    assert token.status_code == 200
    page.get_by_role("link", name=f"Remove key {second_kid[:8]}").click()
    expect(page.get_by_text("1 other key remains.")).to_be_visible()
    page.get_by_role("button", name="Remove key").click()
    page.get_by_role("link", name=f"Remove key {kid[:8]}").click()
    expect(page.get_by_text("This is the app's last key")).to_be_visible()
    expect(page.get_by_text("1 live token keeps working until it expires.")).to_be_visible()
    shoot(page, "console-confirm-last-key")
    page.get_by_role("button", name="Remove key").click()
    expect(page.get_by_text("No keys: the app cannot get tokens")).to_be_visible()


def test_uninstall_confirmation(page, live_server, make_user, make_app, app, shoot):
    from server import clients
    from server.extensions import db
    from server.models import User
    from tests.api_helpers import make_team

    admin, vendor = make_user(), make_user()
    team = make_team(app, admin, name="Acme")
    created, secret = make_app(vendor, "web", name="Vendor CRM")
    with app.app_context():
        clients.install(db.session.get(User, admin.id), team, created.client_id, "obo")
        db.session.commit()
    page.goto(authorize_url(created.client_id, state="u"))
    sign_in(page, admin.email)
    page.get_by_label("Acme").first.check()
    page.get_by_role("button", name="Approve").click()
    exchange(live_server.url, created.client_id, landed_params(page)["code"], client_secret=secret)

    page.goto(f"/console/tenants/{team}/installations")
    page.get_by_role("link", name="Uninstall Vendor CRM").click()
    expect(page.get_by_role("heading", name="Uninstall Vendor CRM from Acme?")).to_be_visible()
    expect(page.get_by_text("1 live token ends now.")).to_be_visible()
    shoot(page, "console-confirm-uninstall")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_text("Vendor CRM")).to_be_visible()
    page.get_by_role("link", name="Uninstall Vendor CRM").click()
    page.get_by_role("button", name="Uninstall").click()
    expect(page.locator(".flashes .destructive")).to_contain_text("Uninstalled")
    expect(page.get_by_text("No apps are installed in this tenant.")).to_be_visible()


def test_a_field_error_is_focused_and_translated(new_context, make_user, shoot):
    user = make_user()
    page = new_context(locale="zh-CN").new_page()
    page.goto("/console/")
    page.get_by_label("邮箱").fill(user.email)
    page.get_by_label("密码").fill(PASSWORD)
    page.locator("button[type=submit]").last.click()
    page.locator("a.tenant-link").first.click()
    page.locator("a.button.primary").first.click()
    page.locator("#name").fill("测试应用")
    page.locator("#redirect_uris").fill("http://example.com/cb")
    page.locator("button.primary[type=submit]").click()
    field = page.locator("#redirect_uris")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-invalid", "true")
    error = page.locator("#redirect_uris-error")
    assert "redirect_uris-error" in (field.get_attribute("aria-describedby") or "")
    text = error.inner_text()
    assert "https" in text and any("\u4e00" <= ch <= "\u9fff" for ch in text), text
    assert "must use" not in text
    shoot(page, "console-field-error-zh")


def test_phone_layout_fits_and_targets_are_large(new_context, make_user, make_app, shoot):
    user = make_user()
    for index in range(4):
        make_app(user, "web", name=f"Phone app {index}")
    page = new_context(viewport=PHONE).new_page()
    page.goto("/console/")
    sign_in(page, user.email)
    menu = page.locator("details.side-menu")
    expect(menu).not_to_have_attribute("open", "")  # folded on a phone
    menu.locator("summary").click()
    page.locator("a.tenant-link").first.click()
    heights = page.locator("table.rows tbody tr").evaluate_all(
        "rows => rows.map(r => r.getBoundingClientRect().height)"
    )
    assert len(heights) == 4 and max(heights) < 90, heights  # rows, not cards
    shoot(page, "console-phone-apps")
    for path in ("", "/installations"):
        page.goto(page.url.split("/installations")[0] + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
        small = page.evaluate(
            """() => [...document.querySelectorAll(
                'button, a.button, nav a, summary, select, .langs a')]
              .filter(e => e.offsetParent !== null || e.tagName === 'SUMMARY')
              .map(e => [e.textContent.trim().slice(0, 30), e.getBoundingClientRect().height])
              .filter(([, h]) => h > 0 && h < 44)"""
        )
        assert small == [], small


def test_audit_log_after_rename_and_delete(page, make_user, make_app, shoot):
    user = make_user()
    created, _ = make_app(user, "web", name="First name")
    _console(page, user.email)
    page.goto(f"/console/apps/{created.client_id}")
    page.get_by_label("Name", exact=True).fill("Second name")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("link", name="Delete Second name…").click()
    page.get_by_label("Type Second name to confirm").fill("Second name")
    page.get_by_role("button", name="Delete this app").click()
    expect(page.locator(".flashes .destructive")).to_contain_text("Second name was deleted.")
    page.get_by_role("link", name="Audit log").click()
    created_row = page.locator("tr", has_text="App created")
    expect(created_row).to_contain_text("First name")  # the name it had then
    expect(created_row).to_contain_text("app.create")  # the code, secondary
    edited = page.locator("tr", has_text="App edited")
    expect(edited.locator("del")).to_have_text("First name")
    expect(edited.locator("ins")).to_have_text("Second name")
    expect(page.locator("tr", has_text="App deleted")).to_contain_text("Second name")
    shoot(page, "console-audit")
    page.get_by_label("Action").select_option(label="App edited")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.audit tbody tr")).to_have_count(1)
    page.get_by_label("Action").select_option(value="")
    page.get_by_label("App", exact=True).select_option(label="Second name (deleted)")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.audit tbody tr")).to_have_count(3)
    page.get_by_label("Who").select_option(label=user.email)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.audit tbody tr")).to_have_count(3)


def test_pending_badge_appears_and_clears(page, app, make_user, make_app, shoot):
    from server import clients
    from server.extensions import db
    from server.models import User
    from tests.api_helpers import add_member, make_team

    admin, member = make_user(), make_user()
    team = make_team(app, admin, name="Acme")
    add_member(app, team, member, "member")
    created, _ = make_app(make_user(), "web", name="Vendor CRM")
    page.goto("/console/")
    sign_in(page, admin.email)
    expect(page.locator(".pending-count")).to_have_count(0)
    with app.app_context():
        clients.request_installation(db.session.get(User, member.id), team, created.client_id)
        db.session.commit()
    page.reload()
    expect(
        page.get_by_text("1 installation request waits for your approval in Acme.")
    ).to_be_visible()
    page.get_by_text("1 installation request waits for your approval in Acme.").click()
    expect(page.locator("nav.side .pending-count")).to_have_text("1 request waits for approval")
    shoot(page, "console-pending-badge")
    page.get_by_role("button", name="Approve Vendor CRM").click()
    expect(page.get_by_text("Installation approved")).to_be_visible()
    expect(page.locator(".pending-count")).to_have_count(0)
