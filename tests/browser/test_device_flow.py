"""The device flow: the test polls as a device would while the browser enters the user code."""

from __future__ import annotations

import threading
import time

import requests
from playwright.sync_api import expect

from tests.browser.helpers import sign_in
from tests.oauth_support import DEVICE_CODE


def _poll(base_url: str, client_id: str, started: dict, result: dict) -> None:
    """Poll the token endpoint at the pace the server asks for, until an answer that is final."""
    interval = started["interval"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        time.sleep(interval)
        response = requests.post(
            base_url + "/oauth/token",
            data={
                "grant_type": DEVICE_CODE,
                "device_code": started["device_code"],
                "client_id": client_id,
            },
            timeout=10,
        )
        body = response.json()
        result.setdefault("answers", []).append(body.get("error", "token"))
        if body.get("error") == "slow_down":
            interval += 5
        elif body.get("error") != "authorization_pending":
            result["final"] = body
            return


def test_device_flow_with_the_code_typed_in(
    page, live_server, make_user, make_app, introspect, shoot
):
    user = make_user()
    created, _ = make_app(user, "device", name="Living-room TV", permissions=["Bot.read"])
    started = requests.post(
        live_server.url + "/oauth/device_authorization",
        data={"client_id": created.client_id},
        timeout=10,
    ).json()
    result: dict = {}
    poller = threading.Thread(
        target=_poll, args=(live_server.url, created.client_id, started, result), daemon=True
    )
    poller.start()

    page.goto(started["verification_uri"])
    sign_in(page, user.email)
    expect(page.get_by_role("heading", name="Connect a device")).to_be_visible()
    shoot(page, "device")
    # Typed the way a person might: lower case, without the dash.
    page.get_by_label("Code", exact=True).fill(started["user_code"].replace("-", "").lower())
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Living-room TV")
    expect(page.get_by_text(started["user_code"])).to_be_visible()
    shoot(page, "device-consent")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="Device connected")).to_be_visible()
    shoot(page, "device-done")

    poller.join(timeout=60)
    assert "final" in result, result
    token = result["final"]
    assert "access_token" in token, token
    assert result["answers"][0] == "authorization_pending" or len(result["answers"]) == 1
    info = introspect(token["access_token"])
    assert info["active"] and info["app_type"] == "device" and info["sub"] == str(user.id)

    # The same code again: a clear page, not a second approval.
    page.goto(started["verification_uri_complete"])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="This code was already used")).to_be_visible()
    shoot(page, "device-used")


def test_wrong_and_denied_codes(page, live_server, make_user, make_app):
    user = make_user()
    created, _ = make_app(user, "device", name="Kitchen speaker")
    started = requests.post(
        live_server.url + "/oauth/device_authorization",
        data={"client_id": created.client_id},
        timeout=10,
    ).json()
    page.goto("/device")
    sign_in(page, user.email)
    page.get_by_label("Code", exact=True).fill("BBBB-BBBB")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not valid")

    page.goto(started["verification_uri_complete"])
    expect(page.get_by_label("Code", exact=True)).to_have_value(started["user_code"])
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("heading", name="Request denied")).to_be_visible()
    response = requests.post(
        live_server.url + "/oauth/token",
        data={
            "grant_type": DEVICE_CODE,
            "device_code": started["device_code"],
            "client_id": created.client_id,
        },
        timeout=10,
    )
    assert response.json()["error"] == "access_denied"
