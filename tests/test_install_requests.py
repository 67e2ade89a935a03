"""Team and enterprise tenants over HTTP: a member's consent asks for installation, an admin
approves, the installation list, a person's authorized apps and their revocation."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.api_helpers import join_by_invitation
from tests.conftest import PASSWORD
from tests.oauth_support import REDIRECT_URI, Browser, basic, hidden, query, resource_server


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
    status, _, sent = member.post(
        "/oauth/consent/request-install",
        {
            "csrf_token": hidden(html, "csrf_token"),
            "authorize_key": hidden(html, "authorize_key"),
            "workspace_id": hidden(html, "workspace_id"),
        },
    )
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
