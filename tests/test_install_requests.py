"""Team and enterprise tenants over HTTP: a member's consent asks for installation, an admin
approves, the installation list, a person's authorized apps and their revocation."""

from __future__ import annotations

import re

import pytest

from tests.api_helpers import join_by_invitation
from tests.conftest import PASSWORD
from tests.oauth_support import (
    Browser,
    authorize_url,
    exchange_code,
    hidden,
    query,
    resource_server,
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
    token = exchange_code(
        client, team["web"].client_id, team["secret"], query(location)["code"]
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


INSTALL_BUTTON = {
    "en": "Install for the whole team and authorize",
    "zh": "为整个团队安装并授权",
}
INSTALL_NOTE = {
    "en": "Approving here installs Vendor CRM for the whole team Acme.",
    "zh": "在此批准将为整个团队 Acme 安装 Vendor CRM。",
}
INSTALL_HINT = {
    "en": "You are an admin of Acme. Every member there can then authorize the app",
    "zh": "你是 Acme 的管理员。安装后，该团队的每位成员都可以自行授权此应用",
}


def _approve_button(html: str) -> str:
    return re.search(r'<button[^>]*name="decision" value="approve"[^>]*>[^<]*</button>', html)[0]


def _choice(html: str, workspace_id: int) -> str:
    """The label of one workspace's radio button on the consent page."""
    pattern = rf'<label class="choice">\s*<input[^>]*value="{workspace_id}"[^>]*>.*?</label>'
    return re.search(pattern, html, re.S)[0]


def _workspace_scoped_url(team) -> str:
    # Coze's workspace-scoped authorize URL fixes the workspace: one place on the page.
    path = f"/api/permission/oauth2/workspace_id/{team['workspace']}/authorize"
    return authorize_url(team["web"].client_id, path=path)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_one_workspace_the_approve_button_says_it_installs(app, client, team, language):
    admin = browser_for(app.test_client, team["admin"])
    admin.get(f"/language/{language}")
    status, _, html = admin.open_consent(_workspace_scoped_url(team))
    assert status == 200
    # Clicking the approve button is the explicit step: it says what it does, the hint beside
    # it names the team, and it is still the contract's decision=approve.
    button = _approve_button(html)
    assert INSTALL_BUTTON[language] in button
    assert f'aria-describedby="install-{team["tenant"]}-hint"' in button
    assert INSTALL_NOTE[language] in html and INSTALL_HINT[language] in html
    assert "install_for_tenant" not in html and 'type="checkbox"' not in html
    assert _installations(client, team) == []

    # Approving (csrf_token, authorize_key, workspace_id, decision=approve, nothing else)
    # installs the app for everyone and sends the code to the app.
    status, headers, _ = admin.decide(html)
    assert status == 302 and "code" in query(headers["Location"])
    (entry,) = _installations(client, team)
    assert (entry["kind"], entry["status"]) == ("obo", "installed")

    # Installed now: the next consent is a plain approval.
    status, _, html = admin.open_consent(_workspace_scoped_url(team))
    assert INSTALL_BUTTON[language] not in html and INSTALL_NOTE[language] not in html
    assert {"en": "Approve", "zh": "同意"}[language] in _approve_button(html)


def test_one_workspace_deny_installs_nothing(app, client, team):
    admin = browser_for(app.test_client, team["admin"])
    status, _, html = admin.open_consent(_workspace_scoped_url(team))
    status, headers, _ = admin.decide(html, "deny")
    assert status == 302 and query(headers["Location"])["error"] == "access_denied"
    assert _installations(client, team) == []


@pytest.mark.parametrize("language", ["en", "zh"])
def test_several_workspaces_the_one_that_installs_says_so(app, client, team, language):
    admin = browser_for(app.test_client, team["admin"])
    admin.get(f"/language/{language}")
    status, _, html = admin.open_consent(authorize_url(team["web"].client_id))
    assert status == 200
    # The admin also has a personal workspace, where approving installs nothing.
    radios = re.findall(r'name="workspace_id" value="(\d+)"', html)
    assert len(radios) == 2 and str(team["workspace"]) in radios
    (personal,) = [int(r) for r in radios if r != str(team["workspace"])]
    assert INSTALL_NOTE[language] in _choice(html, team["workspace"])
    assert INSTALL_NOTE[language] not in _choice(html, personal)
    assert "Acme" not in _choice(html, personal)
    # Not every choice installs: the button keeps its label, and no checkbox asks anything.
    button = _approve_button(html)
    assert INSTALL_BUTTON[language] not in button and "aria-describedby" not in button
    assert "install_for_tenant" not in html

    # Approving in the personal workspace installs nothing in the team.
    location = admin.authorize(authorize_url(team["web"].client_id), workspace_id=personal)
    assert "code" in query(location)
    assert _installations(client, team) == []
    # Choosing the team and approving installs it there.
    location = admin.authorize(authorize_url(team["web"].client_id), workspace_id=team["workspace"])
    assert "code" in query(location)
    assert _installations(client, team)[0]["status"] == "installed"


def test_the_device_page_says_the_same(app, client, team, make_user, make_app):
    device_app, _ = make_app(make_user(), "device", name="Vendor TV")
    started = client.post("/oauth/device_authorization", data={"client_id": device_app.client_id})
    user_code = started.json["user_code"]
    admin = browser_for(app.test_client, team["admin"])
    status, _, html = admin.get(f"/device?user_code={user_code}")
    status, _, html = admin.post(
        "/device", {"csrf_token": hidden(html, "csrf_token"), "user_code": user_code}
    )
    assert status == 200
    note = "Approving here installs Vendor TV for the whole team Acme."
    assert note in _choice(html, team["workspace"])
    assert html.count(note) == 1 and "install_for_tenant" not in html
    assert INSTALL_BUTTON["en"] not in _approve_button(html)
    # The decision answers with a redirect to the done page, which decide() follows.
    status, _, done = admin.decide(html, workspace_id=team["workspace"], url="/device")
    assert status == 200 and _installations(client, team)[0]["status"] == "installed"
    assert "Vendor TV" in done and "Device connected" in done


def test_authorized_apps_list_and_revoke(app, client, team, make_user, make_app, auth_header):
    person = make_user()
    headers = auth_header(person)
    browser = browser_for(app.test_client, person)
    location = browser.authorize(authorize_url(team["web"].client_id))
    tokens = exchange_code(
        client, team["web"].client_id, team["secret"], query(location)["code"]
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
