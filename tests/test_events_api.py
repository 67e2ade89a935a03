"""Event subscriptions in the management API, and every event type produced by its change,
through the API and through the console and pages."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from server import netguard
from server.events import EVENT_TYPES
from server.extensions import db
from server.models import Event, EventDelivery
from tests.api_helpers import add_member, text_dump
from tests.conftest import PASSWORD
from tests.event_support import Receiver
from tests.oauth_support import REDIRECT_URI, Browser, basic, hidden, query
from tests.test_console import Console

API = "/api/v1"
pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def receiver(app):
    app.config["EVENTS_ALLOW_PRIVATE_HOSTS"] = True
    receiver = Receiver()
    yield receiver
    receiver.close()


def events_of(app, client_id: str) -> list[Event]:
    with app.app_context():
        rows = db.session.scalars(
            select(Event).where(Event.client_id == client_id).order_by(Event.created_at)
        ).all()
        db.session.expunge_all()
        return list(rows)


def subscribe(client, headers, client_id: str, url: str, events=("*",)) -> dict:
    response = client.post(
        f"{API}/apps/{client_id}/subscriptions",
        json={"url": url, "events": list(events)},
        headers=headers,
    )
    assert response.status_code == 201, response.json
    return response.json


def authorize_url(client_id: str) -> str:
    return "/oauth/authorize?" + urlencode(
        {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI}
    )


def test_subscriptions_are_managed_by_app_admins(app, client, make_user, make_app, auth_header):
    app.config["EVENTS_ALLOW_PRIVATE_HOSTS"] = True
    owner, stranger = make_user(), make_user()
    web, _ = make_app(owner)
    h = auth_header(owner)
    created = subscribe(client, h, web.client_id, "http://127.0.0.1:9/hook", ["app.disabled"])
    assert created["secret"].startswith("whsec_") and created["events"] == ["app.disabled"]
    assert created["secret"] not in text_dump(app)  # kept encrypted, never in clear

    listed = client.get(f"{API}/apps/{web.client_id}/subscriptions", headers=h).json["items"]
    assert [s["id"] for s in listed] == [created["id"]] and "secret" not in listed[0]
    other = client.get(f"{API}/apps/{web.client_id}/subscriptions", headers=auth_header(stranger))
    assert other.status_code == 404
    gone = client.delete(f"{API}/subscriptions/{created['id']}", headers=auth_header(stranger))
    assert gone.status_code == 404

    bad = {
        "unknown event": {"url": "http://127.0.0.1:9/", "events": ["app.exploded"]},
        "no events": {"url": "http://127.0.0.1:9/", "events": []},
    }
    for body in bad.values():
        response = client.post(f"{API}/apps/{web.client_id}/subscriptions", json=body, headers=h)
        assert response.status_code == 422, body

    assert client.delete(f"{API}/subscriptions/{created['id']}", headers=h).status_code == 204
    assert client.get(f"{API}/apps/{web.client_id}/subscriptions", headers=h).json["items"] == []


def test_a_team_member_cannot_subscribe(app, client, make_user, make_app, auth_header):
    app.config["EVENTS_ALLOW_PRIVATE_HOSTS"] = True
    admin, member = make_user(), make_user()
    team = client.post(
        f"{API}/tenants", json={"name": "Acme", "edition": "team"}, headers=auth_header(admin)
    ).json
    add_member(app, int(team["id"]), member, "member")
    web, _ = make_app(admin, tenant_id=int(team["id"]))
    response = client.post(
        f"{API}/apps/{web.client_id}/subscriptions",
        json={"url": "http://127.0.0.1:9/", "events": ["*"]},
        headers=auth_header(member),
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",  # loopback, not allowed by default
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://224.0.0.1/hook",
        "https://user:pw@example.com/hook",
        "ftp://example.com/hook",
        "https://no-such-host.invalid/hook",
    ],
)
def test_subscription_urls_must_be_public_https(app, client, make_user, make_app, auth_header, url):
    owner = make_user()
    web, _ = make_app(owner)
    response = client.post(
        f"{API}/apps/{web.client_id}/subscriptions",
        json={"url": url, "events": ["*"]},
        headers=auth_header(owner),
    )
    assert response.status_code == 422 and response.json["error"] == "invalid_url", url


def test_the_guard_allows_loopback_only_when_told():
    assert netguard.check_url("http://127.0.0.1:8000/x", allow_private=True) == ["127.0.0.1"]
    with pytest.raises(netguard.UnsafeURL):
        netguard.check_url("http://10.1.2.3/x", allow_private=True)
    with pytest.raises(netguard.UnsafeURL):
        netguard.check_url("https://[::ffff:127.0.0.1]/x")
    assert netguard.check_url("https://93.184.215.14/x") == ["93.184.215.14"]


def _team(app, client, make_user, auth_header):
    admin, member = make_user(), make_user()
    admin_h = auth_header(admin)
    team = client.post(
        f"{API}/tenants", json={"name": "Acme", "edition": "enterprise"}, headers=admin_h
    ).json
    add_member(app, int(team["id"]), member, "member")
    return admin, admin_h, member, int(team["id"])


def _consent(client_factory, user, client_id: str, workspace: str | None = None) -> str:
    browser = Browser(client=client_factory())
    browser.login(user.email, PASSWORD)
    return browser.authorize(authorize_url(client_id), workspace_id=workspace)


def _workspace(client, headers, tenant_id: int) -> str:
    items = client.get(f"{API}/tenants/{tenant_id}/workspaces", headers=headers).json["items"]
    return items[0]["id"]


def _request_install(client_factory, user, client_id: str, workspace: str) -> None:
    browser = Browser(client=client_factory())
    browser.login(user.email, PASSWORD)
    _, _, html = browser.open_consent(authorize_url(client_id))
    status, _, html = browser.decide(html, workspace_id=workspace)
    assert status == 403
    status, _, _ = browser.post(
        "/oauth/consent/request-install",
        {
            "csrf_token": hidden(html, "csrf_token"),
            "authorize_key": hidden(html, "authorize_key"),
            "workspace_id": hidden(html, "workspace_id"),
        },
    )
    assert status == 302


def test_every_event_type_through_the_api(app, client, make_user, make_app, auth_header, receiver):
    vendor = make_user()
    vendor_h = auth_header(vendor)
    web, secret = make_app(vendor, "web")
    service, _ = make_app(vendor, "service")
    for created in (web, service):
        subscribe(client, vendor_h, created.client_id, receiver.url)
    admin, admin_h, member, tenant = _team(app, client, make_user, auth_header)
    workspace = _workspace(client, admin_h, tenant)
    install = f"{API}/tenants/{tenant}/installations/{web.client_id}"

    _request_install(app.test_client, member, web.client_id, workspace)  # app.install_requested
    assert client.put(install, json={"kind": "obo"}, headers=admin_h).status_code == 200
    # the member's consent (authorization.granted) and a token, then removing the member
    location = _consent(app.test_client, member, web.client_id, workspace)
    token = client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": query(location)["code"]}
        | {"redirect_uri": REDIRECT_URI},
        headers=basic(web.client_id, secret),
    )
    assert token.status_code == 200
    removed = client.delete(f"{API}/tenants/{tenant}/members/{member.id}", headers=admin_h)
    assert removed.status_code == 204
    assert client.delete(install, headers=admin_h).status_code == 204
    steps = [
        ("POST", f"{API}/apps/{web.client_id}/disable"),
        ("POST", f"{API}/apps/{web.client_id}/enable"),
        ("POST", f"{API}/apps/{web.client_id}/secret"),
        ("DELETE", f"{API}/me/authorized-apps/{web.client_id}"),  # not consented: 404, no event
    ]
    for method, path in steps:
        client.open(path, method=method, headers=vendor_h)
    _consent(app.test_client, vendor, web.client_id)
    revoked = client.delete(f"{API}/me/authorized-apps/{web.client_id}", headers=vendor_h)
    assert revoked.status_code == 204
    key = client.post(f"{API}/apps/{service.client_id}/keys", headers=vendor_h).json
    keys = f"{API}/apps/{service.client_id}/keys/{key['kid']}"
    assert client.delete(keys, headers=vendor_h).status_code == 204
    assert client.delete(f"{API}/apps/{web.client_id}", headers=vendor_h).status_code == 204

    produced = events_of(app, web.client_id) + events_of(app, service.client_id)
    assert sorted({e.type for e in produced}) == sorted(EVENT_TYPES)
    assert len({e.id for e in produced}) == len(produced)
    by_type = {e.type: e for e in produced}
    assert by_type["member.removed"].data == {
        "user_id": str(member.id),
        "actor_role": "super_admin",
    }
    assert by_type["member.removed"].tenant_id == tenant
    assert by_type["app.install_requested"].data["actor_role"] == "member"
    assert by_type["app.installed"].data == {"kind": "obo", "actor_role": "super_admin"}
    assert by_type["authorization.revoked"].data == {
        "user_id": str(vendor.id),
        "actor_role": "user",
    }
    assert by_type["key.added"].data["kid"] == key["kid"]
    assert by_type["secret.rotated"].data == {"actor_role": "super_admin"}
    # One delivery per event to the one subscription, pending for the worker.
    with app.app_context():
        assert db.session.query(EventDelivery).count() == len(produced)


def test_events_go_only_to_matching_subscriptions(app, client, make_user, make_app, auth_header):
    app.config["EVENTS_ALLOW_PRIVATE_HOSTS"] = True
    owner = make_user()
    h = auth_header(owner)
    web, _ = make_app(owner)
    other, _ = make_app(owner)
    subscribe(client, h, web.client_id, "http://127.0.0.1:9/a", ["app.enabled"])
    client.post(f"{API}/apps/{web.client_id}/disable", headers=h)
    client.post(f"{API}/apps/{other.client_id}/disable", headers=h)  # no subscription: no row
    assert events_of(app, web.client_id) == [] and events_of(app, other.client_id) == []
    client.post(f"{API}/apps/{web.client_id}/enable", headers=h)
    assert [e.type for e in events_of(app, web.client_id)] == ["app.enabled"]


def test_every_event_type_through_the_console(
    app, client, make_user, make_app, auth_header, receiver
):
    vendor = make_user()
    web, _ = make_app(vendor, "web")
    service, _ = make_app(vendor, "service")
    for created in (web, service):
        subscribe(client, auth_header(vendor), created.client_id, receiver.url)
    admin, admin_h, member, tenant = _team(app, client, make_user, auth_header)
    workspace = _workspace(client, admin_h, tenant)

    _request_install(app.test_client, member, web.client_id, workspace)
    admin_console = Console(app.test_client(), admin)
    page = f"/console/tenants/{tenant}/installations"
    admin_console.post(f"{page}/{web.client_id}/approve", {"kind": "obo"}, page=page)
    _consent(app.test_client, member, web.client_id, workspace)
    admin_console.post(f"{page}/{web.client_id}/uninstall", page=page)

    console = Console(app.test_client(), vendor)
    path = f"/console/apps/{web.client_id}"
    for action, form in (("/disable", {}), ("/enable", {}), ("/secret", {"grace_hours": "0"})):
        console.post(path + action, form, page=path)
    _consent(app.test_client, vendor, web.client_id)
    console.post(f"/console/authorized/{web.client_id}/revoke", page="/console/authorized")
    spath = f"/console/apps/{service.client_id}"
    console.post(spath + "/keys", page=spath)
    (key,) = client.get(f"{API}/apps/{service.client_id}/keys", headers=auth_header(vendor)).json[
        "items"
    ]
    console.post(f"{spath}/keys/{key['kid']}/delete", page=spath)
    console.post(path + "/delete", {"confirm_name": web.name}, page=path + "/delete")

    produced = events_of(app, web.client_id) + events_of(app, service.client_id)
    # member.removed has no console action: members are managed through the API.
    expected = sorted(set(EVENT_TYPES) - {"member.removed"})
    assert sorted({e.type for e in produced}) == expected


def test_console_subscriptions_and_delivery_log(app, client, make_user, make_app, receiver):
    from server.events.worker import Worker

    owner = make_user()
    web, _ = make_app(owner)
    console = Console(app.test_client(), owner)
    page = f"/console/apps/{web.client_id}/events"
    assert page in console.get(f"/console/apps/{web.client_id}").get_data(as_text=True)
    refused = console.post(page, {"url": "https://10.0.0.1/x", "events": "*"}, page=page)
    assert refused.status_code == 422 and "public address" in refused.get_data(as_text=True)

    added = console.post(page, {"url": receiver.url, "events": "app.disabled"}, page=page)
    assert added.status_code == 303  # post/redirect/get: the secret is on the next page, once
    shown = console.get(added.headers["Location"])
    html = shown.get_data(as_text=True)
    secret = hidden(html, "signing-secret") or html.split('id="signing-secret"')[1]
    assert shown.status_code == 200 and "whsec_" in secret
    assert "whsec_" not in console.get(page).get_data(as_text=True)  # shown once
    assert "whsec_" not in console.get(added.headers["Location"]).get_data(as_text=True)

    console.post(f"/console/apps/{web.client_id}/disable", page=f"/console/apps/{web.client_id}")
    receiver.status = 500
    worker = Worker(app)
    worker.run(burst=True)
    worker.close()
    with app.app_context():
        (sub,) = db.session.query(EventDelivery).all()
        subscription_id, delivery_id = sub.subscription_id, sub.id
    log = f"/console/subscriptions/{subscription_id}"
    html = console.get(log).get_data(as_text=True)
    assert "app.disabled" in html and "HTTP 500" in html and "Pending" in html

    receiver.status = 200
    console.post(f"{log}/deliveries/{delivery_id}/redeliver", page=log)
    worker = Worker(app)
    worker.run(burst=True)
    worker.close()
    html = console.get(log).get_data(as_text=True)
    assert "Delivered" in html and "HTTP 200" in html
    assert len(receiver.received) == 2

    # Deleting is confirmed first, with what goes: the events and the delivery log.
    confirm = f"/console/subscriptions/{subscription_id}/delete"
    assert f'href="{confirm}"' in console.get(page).get_data(as_text=True)
    html = console.get(confirm).get_data(as_text=True)
    assert receiver.url in html and "0 deliveries still waiting are dropped." in html
    assert "1 delivery is deleted from the log." in html
    client.set_cookie("lang", "zh")
    console.client.set_cookie("lang", "zh")
    assert "投递日志" in console.get(log).get_data(as_text=True)
    console.post(confirm, page=confirm)
    assert "whsec_" not in console.get(page).get_data(as_text=True)
    with app.app_context():
        assert db.session.query(EventDelivery).count() == 0
