"""The console in a browser: a channel app created and bound to a connector (its token then
names the connector), and a service access token issued, shown once, used and revoked."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from playwright.sync_api import expect

from tests.api_helpers import make_team
from tests.browser.helpers import sign_in
from tests.oauth_support import JWT_BEARER, assertion


def _open_team(page, app, user) -> int:
    team = make_team(app, user, "Acme Shop")
    page.goto("/console/")
    sign_in(page, user.email)
    page.get_by_role("link", name="Acme Shop").first.click()
    return team


def test_channel_app_bound_to_a_connector(page, app, live_server, make_user, introspect, shoot):
    user = make_user()
    _open_team(page, app, user)
    page.get_by_role("link", name="Connectors").click()
    page.get_by_label("Name").fill("Mini program")
    page.get_by_label("Description").fill("Our store's mini program")
    page.get_by_role("button", name="Create connector").click()
    expect(page.get_by_text("Connector created.")).to_be_visible()
    expect(page.get_by_role("cell", name="Mini program", exact=True)).to_be_visible()
    shoot(page, "console-connectors")

    page.get_by_role("link", name="Apps", exact=True).click()
    page.get_by_role("link", name="New app").first.click()
    page.get_by_label("Name").fill("Shop Assistant")
    page.get_by_label("Service app").check()
    page.get_by_label("Channel app").check()
    page.get_by_label("Connector.botChat").check()
    shoot(page, "console-new-channel-app")
    page.get_by_role("button", name="Create app").click()
    expect(page.get_by_role("heading", name="Save the private key")).to_be_visible()
    pem = page.get_by_label("Private key (PEM, PKCS#8)").input_value()
    kid = page.locator("#kid").inner_text()
    client_id = page.locator("#client-id").inner_text()
    page.get_by_role("link", name="I have saved it, continue").click()

    expect(page.locator("#app-kind")).to_have_text("Channel app")
    expect(page.locator("#bound-connector")).to_contain_text("Not bound")
    page.get_by_role("button", name="Authorize in this tenant").click()

    audience = urlsplit(live_server.url).netloc  # what cozepy sends: the API host[:port]

    def token():
        return requests.post(
            live_server.url + "/api/permission/oauth2/token",
            json={"grant_type": JWT_BEARER},
            headers={"Authorization": f"Bearer {assertion(client_id, kid, pem, audience)}"},
            timeout=10,
        )

    refused = token()
    assert refused.json()["error_message"] == "connector app should bind connector id"
    page.get_by_role("combobox", name="Connector").select_option(label="Mini program")
    page.get_by_role("button", name="Save binding").click()
    expect(page.locator("#bound-connector")).to_contain_text("Bound to Mini program")
    shoot(page, "console-channel-app-bound")
    issued = token()
    assert issued.status_code == 200, issued.text
    answer = introspect(issued.json()["access_token"])
    assert answer["app_kind"] == "channel" and answer["connector_id"].isdigit()

    page.get_by_role("combobox", name="Connector").select_option(label="None (unbind)")
    page.get_by_role("button", name="Save binding").click()
    expect(page.get_by_text("Unbound: the app's tokens stopped working.")).to_be_visible()
    assert introspect(issued.json()["access_token"]) == {"active": False}


def test_issue_and_revoke_a_service_access_token(
    new_context, app, live_server, make_user, introspect, shoot
):
    user = make_user()
    page = new_context().new_page()
    team = _open_team(page, app, user)
    page.goto(f"/language/zh?next=/console/tenants/{team}")  # the switcher at the foot
    page.get_by_role("link", name="服务访问令牌").click()
    expect(page.get_by_role("heading", name="服务访问令牌", exact=True)).to_be_visible()
    page.get_by_label("名称").fill("Nightly export")
    page.get_by_label("90 天").check()
    page.get_by_label("Workflow.run").check()
    page.get_by_role("button", name="签发令牌").click()  # no workspace chosen yet
    first_workspace = page.locator("input[name=workspace_ids]").first
    expect(first_workspace).to_be_focused()
    expect(first_workspace).to_have_attribute("aria-describedby", "workspace_ids-error")
    expect(page.locator("#workspace_ids-error")).to_have_text("请至少选择一个工作空间。")
    expect(page.get_by_label("Workflow.run")).to_be_checked()  # the rest kept as chosen
    first_workspace.check()
    shoot(page, "console-new-service-token-zh")
    page.get_by_role("button", name="签发令牌").click()

    expect(page.get_by_role("heading", name="保存服务访问令牌")).to_be_visible()
    secret = page.locator("#service-token").input_value()
    assert secret.startswith("sat_")
    answer = introspect(secret)
    assert answer["auth_type"] == "sat" and answer["scope"] == "Workflow.run"
    page.reload()  # shown once: a reload issues nothing and shows nothing
    expect(page.get_by_role("heading", name="已经显示过")).to_be_visible()
    assert secret not in page.content()
    page.go_back()  # back to the form and forward again: still one token
    page.go_forward()
    assert introspect(secret)["active"]
    page.goto(f"/console/tenants/{team}/service-tokens")
    expect(page.locator("#service-tokens tbody tr")).to_have_count(1)
    listed = page.locator("#service-tokens")
    expect(listed).to_contain_text("Nightly export")
    assert secret not in page.content()
    shoot(page, "console-service-tokens-zh")
    page.get_by_role("link", name="撤销 Nightly export").click()
    expect(page.get_by_role("heading", name="撤销 Nightly export？")).to_be_visible()
    expect(page.get_by_text("可访问 1 个工作空间")).to_be_visible()
    shoot(page, "console-confirm-revoke-service-token-zh")
    page.get_by_role("button", name="撤销令牌").click()
    expect(page.locator(".flashes .destructive")).to_contain_text("已撤销")
    assert introspect(secret) == {"active": False}
