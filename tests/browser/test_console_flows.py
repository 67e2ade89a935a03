"""The console in a browser: create an app, use it, disable and enable it, delete it; a service
app's key downloaded and used; an authorized app revoked. Introspection confirms each effect."""

from __future__ import annotations

from pathlib import Path

import requests
from playwright.sync_api import expect

from tests.browser.helpers import authorize_url, exchange, landed_params, sign_in
from tests.oauth_support import JWT_BEARER, REDIRECT_URI, assertion


def _open_tenant(page, email: str) -> None:
    page.goto("/console/")
    sign_in(page, email)
    expect(page.get_by_role("heading", name="Console", exact=True)).to_be_visible()
    page.get_by_role("link", name="'s account").first.click()


def test_console_app_lifecycle(new_context, live_server, make_user, introspect, shoot):
    user = make_user()
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    _open_tenant(page, user.email)
    shoot(page, "console-tenant-empty")
    page.get_by_role("link", name="New app").first.click()

    page.get_by_label("Name").fill("Support Copilot")
    page.get_by_label("Description").fill("Drafts answers for the support team.")
    page.get_by_label("Web back-end app").check()
    page.get_by_label("Redirect URIs").fill(REDIRECT_URI)
    page.get_by_label("Bot.read").check()
    page.get_by_label("Connector.botChat").check()
    shoot(page, "console-new-app")
    page.get_by_role("button", name="Create app").click()

    expect(page.get_by_role("heading", name="Save the client secret")).to_be_visible()
    expect(page.get_by_text("App Support Copilot created.")).to_be_visible()
    secret = page.get_by_label("Client secret").input_value()
    client_id = page.locator("#client-id").inner_text()
    assert secret.startswith("cs_") and client_id.isdigit()
    copy = page.locator("button[data-copy=client-secret]")
    expect(copy).to_be_visible()  # shown only because the script runs
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    shoot(page, "console-secret-once")
    page.get_by_role("link", name="I have saved it, continue").click()
    expect(page.get_by_role("heading", name="Support Copilot")).to_be_visible()
    expect(page.get_by_text(secret)).to_have_count(0)
    shoot(page, "console-app")

    # The new app works: the same person authorizes it and the app exchanges the code.
    page.goto(authorize_url(client_id, state="c"))
    page.get_by_role("button", name="Approve").click()
    code = landed_params(page)["code"]
    token = exchange(live_server.url, client_id, code, client_secret=secret)["access_token"]
    assert introspect(token)["active"]

    page.goto(f"/console/apps/{client_id}")
    page.get_by_role("button", name="Disable app").click()
    expect(page.get_by_text("all of the app's tokens are suspended")).to_be_visible()
    assert introspect(token) == {"active": False}
    page.get_by_role("button", name="Enable app").click()
    expect(page.get_by_text("unexpired tokens work again")).to_be_visible()
    assert introspect(token)["active"]

    page.get_by_role("link", name="Delete Support Copilot…").click()
    shoot(page, "console-delete-confirm")
    page.get_by_label("Type Support Copilot to confirm").fill("Support copilot")
    page.get_by_role("button", name="Delete this app").click()
    expect(page.get_by_role("alert")).to_contain_text("does not match")
    assert introspect(token)["active"]
    page.get_by_label("Type Support Copilot to confirm").fill("Support Copilot")
    page.get_by_role("button", name="Delete this app").click()
    expect(page.get_by_text("Support Copilot was deleted.")).to_be_visible()
    expect(page.get_by_role("link", name="Support Copilot")).to_have_count(0)
    assert introspect(token) == {"active": False}


def test_service_app_key_is_downloaded_once_and_signs(
    page, live_server, make_user, introspect, shoot, tmp_path: Path
):
    user = make_user()
    _open_tenant(page, user.email)
    page.get_by_role("link", name="New app").first.click()
    page.get_by_label("Name").fill("Nightly Sync")
    page.get_by_label("Service app").check()
    page.get_by_role("button", name="Create app").click()

    expect(page.get_by_role("heading", name="Save the private key")).to_be_visible()
    shown = page.get_by_label("Private key (PEM, PKCS#8)").input_value()
    kid = page.locator("#kid").inner_text()
    client_id = page.locator("#client-id").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download .pem").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.endswith(".pem") and saved.read_text() == shown
    shoot(page, "console-private-key-once")

    page.get_by_role("link", name="I have saved it, continue").click()
    expect(page.get_by_text("Not authorized yet")).to_be_visible()
    page.get_by_role("button", name="Authorize in this tenant").click()
    expect(page.get_by_text("The app can now get AppAuth tokens")).to_be_visible()
    expect(page.get_by_text(kid)).to_be_visible()
    assert "PRIVATE KEY" not in page.content()

    jwt = assertion(client_id, kid, saved.read_text(), aud=live_server.url + "/oauth/token")
    response = requests.post(
        live_server.url + "/oauth/token",
        data={"grant_type": JWT_BEARER, "assertion": jwt},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert introspect(response.json()["access_token"])["auth_type"] == "appauth"

    # A second key, then the first removed: assertions signed with it are refused.
    page.get_by_role("button", name="Generate key pair").click()
    expect(page.get_by_role("heading", name="Save the private key")).to_be_visible()
    page.get_by_role("link", name="I have saved it, continue").click()
    page.get_by_role("link", name=f"Remove key {kid[:8]}").click()
    expect(page.get_by_text("1 other key remains.")).to_be_visible()
    page.get_by_role("button", name="Remove key").click()
    expect(page.get_by_text("Key removed")).to_be_visible()
    again = assertion(client_id, kid, saved.read_text(), aud=live_server.url + "/oauth/token")
    response = requests.post(
        live_server.url + "/oauth/token",
        data={"grant_type": JWT_BEARER, "assertion": again},
        timeout=10,
    )
    assert response.status_code == 400


def test_revoking_an_authorized_app(page, live_server, make_user, make_app, introspect, shoot):
    vendor, user = make_user(), make_user()
    created, secret = make_app(vendor, "web", name="Calendar Sync", permissions=["Bot.read"])
    page.goto(authorize_url(created.client_id))
    sign_in(page, user.email)
    page.get_by_role("button", name="Approve").click()
    code = landed_params(page)["code"]
    token = exchange(live_server.url, created.client_id, code, client_secret=secret)
    assert introspect(token["access_token"])["active"]

    page.goto("/console/")
    page.get_by_role("link", name="Authorized apps").first.click()
    card = page.get_by_role("listitem").filter(has_text="Calendar Sync")
    expect(card).to_contain_text("Read the agents (bots) in a workspace and their settings")
    shoot(page, "console-authorized-apps")
    card.get_by_role("link", name="Revoke access for Calendar Sync").click()
    expect(page.get_by_text("1 live token ends now.")).to_be_visible()
    shoot(page, "console-confirm-revoke")
    page.get_by_role("button", name="Revoke access").click()
    expect(page.get_by_text("Access revoked")).to_be_visible()
    expect(page.get_by_text("You have not authorized any apps.")).to_be_visible()
    assert introspect(token["access_token"]) == {"active": False}
    refreshed = requests.post(
        live_server.url + "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(created.client_id, secret),
        timeout=10,
    )
    assert refreshed.status_code == 400
