"""Installation requests reach people: a pending count for admins in the navigation and on the
console home, "my requests" for members, and an access_denied redirect with a description for
the app waiting at the end of the flow."""

from __future__ import annotations

import pytest

from tests.oauth_support import REDIRECT_URI, hidden, query
from tests.test_console import Console, text
from tests.test_install_requests import authorize_url, browser_for, team  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _ask(app, team):  # noqa: F811
    member = browser_for(app.test_client, team["member"])
    status, _, html = member.open_consent(authorize_url(team["web"].client_id))
    status, _, html = member.decide(html, workspace_id=team["workspace"])
    assert status == 403
    form = {
        "csrf_token": hidden(html, "csrf_token"),
        "authorize_key": hidden(html, "authorize_key"),
        "workspace_id": hidden(html, "workspace_id"),
    }
    status, headers, _ = member.post("/oauth/consent/request-install", form)
    assert status == 302  # post/redirect/get: a reload of what follows asks nothing twice
    status, _, sent = member.get(headers["Location"])
    assert status == 200 and "Request sent" in sent
    return member, sent


def test_the_waiting_app_hears_back_with_a_description(app, team):  # noqa: F811
    member, sent = _ask(app, team)
    status, headers, _ = member.post(
        "/oauth/consent",
        {
            "csrf_token": hidden(sent, "csrf_token"),
            "authorize_key": hidden(sent, "authorize_key"),
            "workspace_id": hidden(sent, "workspace_id"),
            "decision": "deny",
            "reason": "install_requested",
        },
    )
    assert status == 302 and headers["Location"].startswith(REDIRECT_URI)
    answer = query(headers["Location"])
    assert answer["error"] == "access_denied" and answer["state"] == "t"
    assert "installation request is waiting for an admin" in answer["error_description"]


def test_an_unknown_reason_adds_no_description(app, team):  # noqa: F811
    member, sent = _ask(app, team)
    status, headers, _ = member.post(
        "/oauth/consent",
        {
            "csrf_token": hidden(sent, "csrf_token"),
            "authorize_key": hidden(sent, "authorize_key"),
            "decision": "deny",
            "reason": "<script>",
        },
    )
    assert status == 302
    assert "installation" not in query(headers["Location"]).get("error_description", "")


def test_pending_badge_appears_and_clears_and_the_member_sees_the_status(
    app,
    client,
    team,  # noqa: F811
):
    admin = Console(app.test_client(), team["admin"])
    assert "pending-count" not in text(admin.get("/console/"))
    _ask(app, team)
    home = text(admin.get("/console/"))
    assert "1 installation request waits for your approval in Acme." in home
    assert 'class="badge status-pending pending-count"' in home
    member = Console(app.test_client(), team["member"])
    assert "pending-count" not in text(member.get("/console/"))  # members approve nothing
    mine = text(member.get("/console/requests"))
    assert "Vendor CRM" in mine and "Waiting for an admin of Acme." in mine

    page = f"/console/tenants/{team['tenant']}/installations"
    admin.post(f"{page}/{team['web'].client_id}/approve", {"kind": "obo"}, page=page)
    assert "pending-count" not in text(admin.get("/console/"))
    assert "Approved: you can authorize the app now." in text(member.get("/console/requests"))


def test_the_consent_page_names_where_the_person_goes(app, team):  # noqa: F811
    member = browser_for(app.test_client, team["member"])
    status, _, html = member.open_consent(authorize_url(team["web"].client_id))
    assert status == 200
    assert "Then you go to" in html and "<code>127.0.0.1:8765</code>" in html


def test_a_refused_request_stays_in_my_requests_and_may_be_asked_again(
    app,
    client,
    team,  # noqa: F811
):
    _ask(app, team)
    admin = Console(app.test_client(), team["admin"])
    installations = f"/console/tenants/{team['tenant']}/installations"
    refuse = f"{installations}/{team['web'].client_id}/uninstall"
    assert admin.post(refuse, page=refuse).status_code == 302

    member = Console(app.test_client(), team["member"])
    mine = text(member.get("/console/requests"))
    assert "Vendor CRM" in mine and 'class="badge status-refused"' in mine
    assert "Refused by an admin of Acme." in mine
    # A refusal is no installation: nothing waits for the admin, nothing is listed as installed.
    assert "pending-count" not in text(admin.get("/console/"))
    listed = client.get(
        f"/api/v1/tenants/{team['tenant']}/installations", headers=team["admin_h"]
    ).json
    assert listed["items"] == []
    entries = client.get(f"/api/v1/tenants/{team['tenant']}/audit", headers=team["admin_h"]).json
    assert entries["items"][0]["action"] == "installation.uninstall"
    assert entries["items"][0]["detail"]["refused"] is True

    # Asking again replaces the refusal with a new pending request.
    _ask(app, team)
    mine = text(member.get("/console/requests"))
    assert "status-refused" not in mine and "Waiting for an admin of Acme." in mine
    assert "1 installation request waits for your approval in Acme." in text(admin.get("/console/"))

    # Refused again, then installed by the admin after all: the refusal is moot and not shown.
    assert admin.post(refuse, page=refuse).status_code == 302
    admin.post(installations, {"client_id": team["web"].client_id, "kind": "obo"}, installations)
    mine = text(member.get("/console/requests"))
    assert "status-refused" not in mine and "You have not asked for any installations." in mine
