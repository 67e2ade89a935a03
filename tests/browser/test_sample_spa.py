"""The single-page sample (examples/spa/) in Chromium: PKCE S256 from plain JavaScript against
the live server, its token exchange and refresh made cross-origin by the page itself, a
revoked consent noticed at refresh, and a refusal."""

from __future__ import annotations

import threading

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.helpers import sign_in
from tests.live import free_port


@pytest.fixture
def spa(live_server, make_user, make_app, monkeypatch):
    from examples.spa.serve import serve

    user = make_user()
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    created, _ = make_app(
        user, "pkce", redirect_uris=[origin + "/callback"], permissions=["Bot.read"]
    )
    for name, value in {
        "OAUTH_SERVER": live_server.url,
        "CLIENT_ID": created.client_id,
        "REDIRECT_URI": origin + "/callback",
        "DEMO_CREDENTIALS": "/nonexistent",
    }.items():
        monkeypatch.setenv(name, value)
    server = serve(port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield origin, user, created.client_id
    server.shutdown()


def test_spa_sample_signs_in_with_pkce_refreshes_and_notices_revocation(
    new_context, live_server, spa, auth_header
):
    origin, user, client_id = spa
    page = new_context().new_page()
    page.goto(origin + "/")
    page.get_by_role("button", name="Sign in").click()
    sign_in(page, user.email)
    page.get_by_role("button", name="Approve").click()
    status = page.locator("#status")
    expect(status).to_contain_text("Signed in. Scope: Bot.read")
    assert page.url == origin + "/"  # the code left the address bar

    refresh_token = "JSON.parse(sessionStorage.getItem('token')).refresh_token"
    first = page.evaluate(refresh_token)
    page.get_by_role("button", name="Refresh").click()
    expect(status).to_contain_text("Signed in")
    page.wait_for_function(f"{refresh_token} !== {first!r}")  # rotated by the refresh
    revoked = requests.delete(
        f"{live_server.url}/api/v1/me/authorized-apps/{client_id}",
        headers=auth_header(user),
        timeout=10,
    )
    assert revoked.status_code == 204
    page.get_by_role("button", name="Refresh").click()
    expect(status).to_contain_text("Your access was revoked or has expired")

    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Deny").click()
    expect(status).to_contain_text("You declined")
