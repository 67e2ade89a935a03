"""Team and enterprise tenants over HTTP: a member's consent asks for installation, an admin
approves, the installation list, a person's authorized apps and their revocation."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from tests.api_helpers import join_by_invitation
from tests.conftest import PASSWORD
from tests.oauth_support import (
    REDIRECT_URI,
    Browser,
    basic,
    hidden,
    install_boxes,
    query,
    resource_server,
)


def authorize_url(client_id: str) -> str:
    return "/oauth/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "t",
        }
    )


@pytest.fixture
def team(app, client, make_user, make_app, auth_header):
    admin, member, outsider = make_user(), make_user(), make_user()
    admin_h = auth_header(admin)
    team = client.post(
        "/api/v1/tenants", json={"name": "Acme", "edition": "enterprise"}, headers=admin_h
    ).json
    join_by_invitation(client, team["id"], admin_h, member, auth_header(member))
    workspace = next(
        w
        for w in client.get(f"/api/v1/tenants/{team['id']}/workspaces", headers=admin_h).json[
            "items"
        ]
    )
    # a third party's app, not installed in Acme
    vendor = make_user()
    web, secret = make_app(vendor, "web", name="Vendor CRM")
    return {
        "admin": admin,
        "admin_h": admin_h,
        "member": member,
        "member_h": auth_header(member),
        "outsider_h": auth_header(outsider),
        "tenant": team["id"],
        "workspace": workspace["id"],
        "web": web,
        "secret": secret,
    }


def browser_for(client_factory, user):
    browser = Browser(client=client_factory())
    browser.login(user.email, PASSWORD)
    return browser


def test_member_requests_installation_and_admin_approves(app, client, team):
    member = browser_for(app.test_client, team["member"])
    status, _, html = member.open_consent(authorize_url(team["web"].client_id))
    assert status == 200 and "Acme" in html  # the workspace chooser offers the team
    status, _, html = member.decide(html, workspace_id=team["workspace"])
    assert status == 403 and "not installed" in html
    status, headers, _ = member.post(
        "/oauth/consent/request-install",
        {
            "csrf_token": hidden(html, "csrf_token"),
            "authorize_key": hidden(html, "authorize_key"),
            "workspace_id": hidden(html, "workspace_id"),
        },
    )
    assert status == 302
    status, _, sent = member.get(headers["Location"])
    assert status == 200 and "Request sent" in sent

    listed = client.get(
        f"/api/v1/tenants/{team['tenant']}/installations", headers=team["admin_h"]
    ).json
    (entry,) = listed["items"]
    assert (entry["client_id"], entry["kind"], entry["status"]) == (
        team["web"].client_id,
        "obo",
        "pending",
    )
    assert entry["app_name"] == "Vendor CRM" and entry["requested_at"]

    # asking again shows the request is waiting
    status, _, html = member.open_consent(authorize_url(team["web"].client_id))
    status, _, html = member.decide(html, workspace_id=team["workspace"])
    assert status == 403 and "already waiting" in html

    # a member cannot approve; an admin can
    path = f"/api/v1/tenants/{team['tenant']}/installations/{team['web'].client_id}"
    assert client.put(path, json={"kind": "obo"}, headers=team["member_h"]).status_code == 403
    approved = client.put(path, json={"kind": "obo"}, headers=team["admin_h"])
    assert approved.status_code == 200 and approved.json["status"] == "installed"

    location = member.authorize(
        authorize_url(team["web"].client_id), workspace_id=team["workspace"]
    )
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query(location)["code"],
            "redirect_uri": REDIRECT_URI,
        },
        headers=basic(team["web"].client_id, team["secret"]),
    ).json
    info = client.post(
        "/oauth/introspect", data={"token": token["access_token"]}, headers=resource_server(app)
    ).json
    assert (
        info["active"]
        and info["tenant_id"] == team["tenant"]
        and info["workspace_id"] == team["workspace"]
    )
    listed = client.get(
        f"/api/v1/tenants/{team['tenant']}/installations", headers=team["admin_h"]
    ).json
    assert listed["items"][0]["last_used_at"]


def test_admin_consent_installs_directly(app, client, team):
    admin = browser_for(app.test_client, team["admin"])
    location = admin.authorize(authorize_url(team["web"].client_id), workspace_id=team["workspace"])
    assert "code" in query(location)
    listed = client.get(
        f"/api/v1/tenants/{team['tenant']}/installations", headers=team["admin_h"]
    ).json
    (entry,) = listed["items"]
    assert (entry["kind"], entry["status"]) == ("obo", "installed")


def _installations(client, team) -> list[dict]:
    return client.get(
        f"/api/v1/tenants/{team['tenant']}/installations", headers=team["admin_h"]
    ).json["items"]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_installing_for_the_whole_team_is_an_explicit_step(app, client, team, language):
    admin = browser_for(app.test_client, team["admin"])
    admin.get(f"/language/{language}")
    status, _, html = admin.open_consent(authorize_url(team["web"].client_id))
    assert status == 200
    assert install_boxes(html) == [str(team["tenant"])]
    box = re.search(r'<input type="checkbox" name="install_for_tenant"[^>]*>', html).group(0)
    # The admin also has a personal workspace to choose: the server asks, not the browser.
    assert "required" not in box and "aria-invalid" not in box
    wording = {
        "en": "Install Vendor CRM for the whole team Acme",
        "zh": "为整个团队 Acme 安装 Vendor CRM",
    }[language]
    assert wording in html

    # Approving in the team without ticking the box installs nothing and issues no code: the
    # same page again, the error under the box and focus on it, the team still chosen.
    status, _, again = admin.decide(html, workspace_id=team["workspace"], install=False)
    assert status == 400
    box = re.search(r'<input type="checkbox" name="install_for_tenant"[^>]*>', again).group(0)
    assert 'aria-invalid="true"' in box and "autofocus" in box
    assert f"install-{team['tenant']}-error" in box
    error = {
        "en": "To approve in Acme, tick the box to install the app for the whole team",
        "zh": "要在 Acme 中批准，请先勾选",
    }[language]
    assert error in again
    assert re.search(rf'value="{team["workspace"]}" checked', again)
    assert _installations(client, team) == []

    # Ticked: installed for everyone, and the code goes to the app.
    status, headers, _ = admin.decide(again, workspace_id=team["workspace"])
    assert status == 302 and "code" in query(headers["Location"])
    (entry,) = _installations(client, team)
    assert (entry["kind"], entry["status"]) == ("obo", "installed")


def test_a_box_for_another_team_does_not_install_this_one(app, client, team, make_app):
    admin = browser_for(app.test_client, team["admin"])
    status, _, html = admin.open_consent(authorize_url(team["web"].client_id))
    form = {
        "csrf_token": hidden(html, "csrf_token"),
        "authorize_key": hidden(html, "authorize_key"),
        "workspace_id": str(team["workspace"]),
        "decision": "approve",
        "install_for_tenant": ["999999", "not a number"],
    }
    status, _, _ = admin.post("/oauth/consent", form)
    assert status == 400 and _installations(client, team) == []


def test_the_device_page_asks_the_same(app, client, team, make_user, make_app):
    device_app, _ = make_app(make_user(), "device", name="Vendor TV")
    started = client.post("/oauth/device_authorization", data={"client_id": device_app.client_id})
    user_code = started.json["user_code"]
    admin = browser_for(app.test_client, team["admin"])
    status, _, html = admin.get(f"/device?user_code={user_code}")
    status, _, html = admin.post(
        "/device", {"csrf_token": hidden(html, "csrf_token"), "user_code": user_code}
    )
    assert status == 200 and "Install Vendor TV for the whole team Acme" in html
    status, _, again = admin.decide(
        html, workspace_id=team["workspace"], url="/device", install=False
    )
    assert status == 400 and 'aria-invalid="true"' in again
    assert _installations(client, team) == []
    # The decision answers with a redirect to the done page, which decide() follows.
    status, _, done = admin.decide(again, workspace_id=team["workspace"], url="/device")
    assert status == 200 and _installations(client, team)[0]["status"] == "installed"
    assert "Vendor TV" in done and "Device connected" in done


def test_one_place_makes_the_box_required_and_deny_still_works(app, client, team):
    # Coze's workspace-scoped authorize URL fixes the workspace: one place on the page.
    url = f"/api/permission/oauth2/workspace_id/{team['workspace']}/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": team["web"].client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "t",
        }
    )
    admin = browser_for(app.test_client, team["admin"])
    status, _, html = admin.open_consent(url)
    assert status == 200
    box = re.search(r'<input type="checkbox" name="install_for_tenant"[^>]*>', html).group(0)
    assert "required" in box
    assert re.search(r'name="decision" value="deny" formnovalidate', html)
    status, headers, _ = admin.decide(html, "deny", install=False)
    assert status == 302 and query(headers["Location"])["error"] == "access_denied"
    assert _installations(client, team) == []


def test_authorized_apps_list_and_revoke(app, client, team, make_user, make_app, auth_header):
    person = make_user()
    headers = auth_header(person)
    browser = browser_for(app.test_client, person)
    location = browser.authorize(authorize_url(team["web"].client_id))
    tokens = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query(location)["code"],
            "redirect_uri": REDIRECT_URI,
        },
        headers=basic(team["web"].client_id, team["secret"]),
    ).json
    listed = client.get("/api/v1/me/authorized-apps", headers=headers).json["items"]
    assert [a["client_id"] for a in listed] == [team["web"].client_id]
    assert client.get("/api/v1/me/authorized-apps", headers=team["outsider_h"]).json["items"] == []
    # someone else cannot revoke it for them
    path = f"/api/v1/me/authorized-apps/{team['web'].client_id}"
    assert client.delete(path, headers=team["outsider_h"]).status_code == 404
    assert client.delete(path, headers=headers).status_code == 204
    assert client.delete(path, headers=headers).status_code == 404
    rs = resource_server(app)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert client.post("/oauth/introspect", data={"token": token}, headers=rs).json == {
            "active": False
        }
    assert client.get("/api/v1/me/authorized-apps", headers=headers).json["items"] == []


def test_installations_do_not_leak_across_tenants(client, team):
    base = f"/api/v1/tenants/{team['tenant']}/installations"
    assert client.get(base, headers=team["outsider_h"]).status_code == 404
    put = client.put(
        f"{base}/{team['web'].client_id}", json={"kind": "obo"}, headers=team["outsider_h"]
    )
    assert put.status_code == 404
    assert (
        client.delete(f"{base}/{team['web'].client_id}", headers=team["outsider_h"]).status_code
        == 404
    )
