"""The console acts once: every POST answers with a redirect (or a validation error), a form
sent twice has no second effect, one-time secrets are shown once and keep working, and each
destructive step is confirmed with its effect in numbers."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from server import clients, connectors, service_tokens, tenants
from server.accounts import personal_tenant
from server.events import subscriptions
from server.extensions import db
from server.models import App, AppKey, AuditEntry, EventDelivery, User, Workspace
from tests.api_helpers import add_member, make_team, rsa_public_pem
from tests.oauth_support import REDIRECT_URI, Browser, exchange_code, hidden, query
from tests.test_console import Console, text
from tests.test_secret_grace import secret_works

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def owner(make_user):
    return make_user()


@pytest.fixture
def console(client, owner):
    return Console(client, owner)


def _form(console, page: str) -> dict[str, str]:
    html = text(console.get(page))
    return {"csrf_token": hidden(html, "csrf_token"), "form_nonce": hidden(html, "form_nonce")}


def _secret_on(html: str) -> str:
    return re.search(r'id="client-secret"[^>]*value="([^"]+)"', html).group(1)


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_creating_twice_with_one_form_makes_one_app(app, client, console, owner):
    with app.app_context():
        tenant_id = personal_tenant(owner.id).id
    page = f"/console/tenants/{tenant_id}/apps/new"
    form = {
        **_form(console, page),
        "name": "Once",
        "client_type": "web",
        "redirect_uris": REDIRECT_URI,
    }
    first = client.post(page, data=form)
    assert first.status_code == 303
    shown = text(client.get(first.headers["Location"]))
    secret = _secret_on(shown)
    # A reload of the result page, then the browser re-sending the form: nothing new.
    reload = text(client.get(first.headers["Location"]))
    assert secret not in reload and "Already shown" in reload
    again = client.post(page, data=form)
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    assert "Nothing was done again" in text(client.get(again.headers["Location"]))
    assert _count(app, App) == 1
    client_id = re.search(r'id="client-id">(\d+)<', shown).group(1)
    assert secret_works(client, client_id, secret)


def test_a_corrected_form_may_be_sent_again(app, client, console, owner):
    with app.app_context():
        tenant_id = personal_tenant(owner.id).id
    page = f"/console/tenants/{tenant_id}/apps/new"
    form = {**_form(console, page), "name": "Fixed", "client_type": "web"}
    assert client.post(page, data=form).status_code == 422  # no redirect URI: nothing done
    fixed = client.post(page, data={**form, "redirect_uris": REDIRECT_URI})
    assert fixed.status_code == 303 and _count(app, App) == 1


def test_rotating_twice_with_one_form_rotates_once(app, client, console, owner, make_app):
    created, old = make_app(owner, "web")
    page = f"/console/apps/{created.client_id}/secret"
    form = {**_form(console, page), "grace_hours": "0"}
    first = client.post(page, data=form)
    new = _secret_on(text(client.get(first.headers["Location"])))
    assert "Already shown" in text(client.get(first.headers["Location"]))
    assert client.post(page, data=form).status_code == 303
    assert secret_works(client, created.client_id, new)
    assert not secret_works(client, created.client_id, old)
    rotations = _count(app, AuditEntry, AuditEntry.action == "app.secret_rotate")
    assert rotations == 1


def test_generating_a_key_twice_with_one_form_makes_one_key(app, client, console, owner, make_app):
    created, _ = make_app(owner, "service")
    page = f"/console/apps/{created.client_id}"
    form = _form(console, page)
    first = client.post(page + "/keys", data=form)
    html = text(client.get(first.headers["Location"]))
    assert "-----BEGIN PRIVATE KEY-----" in html
    assert "PRIVATE KEY" not in text(client.get(first.headers["Location"]))
    client.post(page + "/keys", data=form)
    assert _count(app, AppKey) == 1


def test_the_one_time_result_is_only_for_its_person(app, client, make_user, owner, make_app):
    """Another person's session (even in the same tenant) never sees the held secret."""
    created, _ = make_app(owner, "web")
    console = Console(client, owner)
    page = f"/console/apps/{created.client_id}/secret"
    first = client.post(page, data={**_form(console, page), "grace_hours": "0"})
    other = app.test_client()
    Console(other, make_user())
    assert other.get(first.headers["Location"]).status_code == 404
    assert "cs_" in text(client.get(first.headers["Location"]))


def test_a_malformed_nonce_is_refused(app, client, console, owner, make_app):
    created, _ = make_app(owner, "web")
    page = f"/console/apps/{created.client_id}"
    form = {**_form(console, page), "form_nonce": "<script>"}
    assert client.post(page + "/disable", data=form).status_code == 400
    with app.app_context():
        assert db.session.get(App, created.client_id).status == "enabled"


def test_every_console_form_carries_a_nonce(app, client, console, owner, make_app):
    web, _ = make_app(owner, "web")
    service, _ = make_app(owner, "service")
    team = make_team(app, owner, name="Forms")
    channel, _ = make_app(owner, "service", tenant_id=team, app_kind="channel")
    with app.app_context():
        acting = db.session.get(User, owner.id)
        clients.add_key(acting, service.client_id)
        tenant_id = personal_tenant(owner.id).id
        connectors.create_connector(acting, team, name="Shop")
        tenants.invite(acting, team, "someone@example.com", "member")
        db.session.commit()
        kid = db.session.scalar(select(AppKey.kid))
    pages = [
        f"/console/tenants/{tenant_id}/apps/new",
        f"/console/tenants/{tenant_id}/installations",
        f"/console/apps/{web.client_id}",
        f"/console/apps/{web.client_id}/secret",
        f"/console/apps/{web.client_id}/delete",
        f"/console/apps/{web.client_id}/events",
        f"/console/apps/{service.client_id}",
        f"/console/apps/{service.client_id}/keys/{kid}/delete",
        f"/console/apps/{channel.client_id}",
        f"/console/tenants/{team}/connectors",
        f"/console/tenants/{team}/service-tokens",
        f"/console/tenants/{team}/invitations",
    ]
    for page in pages:
        html = text(console.get(page))
        forms = re.findall(r'<form method="post"(.*?)</form>', html, re.S)
        console_forms = [f for f in forms if "/logout" not in f]
        assert console_forms, page
        for found in console_forms:
            assert 'name="form_nonce"' in found, (page, found[:200])


def _rules(app) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("console.") and "POST" in (rule.methods or ())
    )


def test_no_console_post_answers_with_a_page(app, client, console, owner, make_app, make_user):
    """Walk every POST route of the console with good and bad values: each answers with a
    redirect, or with a validation error (400 malformed, 422 re-shown form), never a page."""
    team = make_team(app, owner, name="Walk")
    web, _ = make_app(owner, "web", tenant_id=team)
    service, _ = make_app(owner, "service", tenant_id=team)
    vendor_app, _ = make_app(make_user(), "web")
    invitee = make_user()
    with app.app_context():
        acting = db.session.get(User, owner.id)
        clients.add_key(acting, service.client_id)
        clients.install(acting, team, vendor_app.client_id, "obo")
        db.session.commit()
        kid = db.session.scalar(select(AppKey.kid))
        connector = connectors.create_connector(acting, team, name="Walk shop")
        workspace = next(w.id for w in tenants.list_workspaces(acting, team))
        sat, _ = service_tokens.create_service_token(
            acting, team, name="Walk", permission_names=["Bot.read"],
            workspace_ids=[workspace], expires_in_days=None,
        )  # fmt: skip
        # Stored only: nothing delivers in this test, so the address is never called.
        subscription, _ = subscriptions.create_subscription(
            acting, web.client_id, "https://93.184.215.14/hook", ["*"]
        )
        clients.set_status(acting, web.client_id, "disabled")  # an event, so a delivery
        invitation = tenants.invite(acting, team, invitee.email, "member")
        db.session.commit()
        delivery = db.session.scalar(select(EventDelivery.id))
        connector_id, sat_id, subscription_id = connector.id, sat.id, subscription.id
        invitation_id = invitation.id
    ids = {
        "tenant_id": str(team),
        "client_id": web.client_id,
        "kid": kid,
        "connector_id": str(connector_id),
        "token_id": str(sat_id),
        "subscription_id": str(subscription_id),
        "delivery_id": str(delivery),
        "invitation_id": str(invitation_id),
    }
    bodies = [
        {},
        {
            "name": "Walked",
            "client_type": "web",
            "redirect_uris": REDIRECT_URI,
            "grace_hours": "1",
            "kind": "obo",
            "confirm_name": "nope",
            "public_key": rsa_public_pem(),
        },
        {"name": "", "redirect_uris": "ftp://x", "grace_hours": "5", "kind": "x"},
    ]
    walked = 0
    deleted: set[str] = set()
    for rule in _rules(app):
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: ids[m.group(1)], rule)
        if "/keys" in path or "/authorize" in path and "authorized" not in path:
            path = path.replace(web.client_id, service.client_id)
        if "/installations/" in path:
            path = path.replace(web.client_id, vendor_app.client_id)
        for body in bodies:
            response = client.post(
                path, data={**_form(console, "/console/apps/" + web.client_id), **body}
            )
            # What an earlier body of the walk deleted is then absent: 404 is the right answer.
            allowed = (302, 303, 400, 422) + ((404,) if path in deleted else ())
            assert response.status_code in allowed, (path, body, response.status_code)
            if response.status_code in (302, 303) and path.endswith(
                ("/delete", "/revoke", "/cancel")
            ):
                deleted.add(path)
            if response.status_code == 422:
                assert 'aria-invalid="true"' in text(response) or 'role="alert"' in text(response)
        walked += 1
    assert walked >= 21


def _issue_token(app, client, user, created, secret, workspace_id=None) -> dict:
    browser = Browser(client=app.test_client())
    from tests.conftest import PASSWORD

    browser.login(user.email, PASSWORD)
    url = "/oauth/authorize?" + urlencode(
        {"response_type": "code", "client_id": created.client_id, "redirect_uri": REDIRECT_URI}
    )
    code = query(browser.authorize(url, workspace_id=workspace_id))["code"]
    response = exchange_code(client, created.client_id, secret, code)
    assert response.status_code == 200, response.json
    return response.json


def test_uninstall_confirmation_counts_the_tokens_and_names_the_tenant(
    app, client, make_user, make_app, owner
):
    member, vendor = make_user(), make_user()
    team = make_team(app, owner, name="Acme")
    add_member(app, team, member, "member")
    created, secret = make_app(vendor, "web", name="Vendor CRM")
    with app.app_context():
        clients.install(db.session.get(User, owner.id), team, created.client_id, "obo")
        db.session.commit()
        workspace = db.session.scalar(
            select(Workspace.id).where(Workspace.tenant_id == team, Workspace.is_default)
        )
    _issue_token(app, client, member, created, secret, str(workspace))
    _issue_token(app, client, owner, created, secret, str(workspace))
    console = Console(client, owner)
    page = f"/console/tenants/{team}/installations/{created.client_id}/uninstall"
    html = text(console.get(page))
    assert "Uninstall Vendor CRM from Acme?" in html
    assert "2 live tokens end now." in html and "Acme loses Vendor CRM" in html
    assert console.post_and_follow(page, page=page).status_code == 200
    assert "No apps are installed" in text(console.get(f"/console/tenants/{team}/installations"))


def test_revoke_confirmation_counts_the_tokens(app, client, make_user, make_app, owner):
    created, secret = make_app(make_user(), "web", name="Calendar")
    _issue_token(app, client, owner, created, secret)
    console = Console(client, owner)
    listed = text(console.get("/console/authorized"))
    assert re.search(r"Acts for you in <strong>[^<]+ · [^<]+</strong>", listed), listed[-3000:]
    page = f"/console/authorized/{created.client_id}/revoke"
    html = text(console.get(page))
    assert "Revoke access for Calendar?" in html and "1 live token ends now." in html
    console.post_and_follow(page, page=page)
    assert console.get(page).status_code == 404


def test_removing_the_last_key_says_so(app, client, console, owner, make_app):
    created, _ = make_app(owner, "service", name="Nightly")
    with app.app_context():
        acting = db.session.get(User, owner.id)
        clients.add_key(acting, created.client_id)
        clients.add_key(acting, created.client_id)
        db.session.commit()
        kids = list(db.session.scalars(select(AppKey.kid).order_by(AppKey.id)))
    base = f"/console/apps/{created.client_id}/keys"
    assert "1 other key remains." in text(console.get(f"{base}/{kids[0]}/delete"))
    console.post(f"{base}/{kids[0]}/delete", page=f"{base}/{kids[0]}/delete")
    html = text(console.get(f"{base}/{kids[1]}/delete"))
    assert "last key: Nightly cannot get new tokens until you add another." in html
    assert console.get(f"{base}/not-a-key/delete").status_code == 404


def test_rotation_with_grace_in_the_console_then_retire(app, client, console, owner, make_app):
    created, old = make_app(owner, "web")
    page = f"/console/apps/{created.client_id}/secret"
    html = text(console.get(page))
    assert "0 live tokens keep working" in html and 'value="24" checked' in html
    result = console.post_and_follow(page, {"grace_hours": "24"}, page=page)
    new = _secret_on(text(result))
    assert secret_works(client, created.client_id, new)
    assert secret_works(client, created.client_id, old)
    detail = f"/console/apps/{created.client_id}"
    assert "The previous secret still works until" in text(console.get(detail))
    console.post(detail + "/secret/retire", page=detail)
    assert not secret_works(client, created.client_id, old)
    assert secret_works(client, created.client_id, new)
    assert "The previous secret still works" not in text(console.get(detail))


def test_a_second_click_while_the_first_is_served_lands_where_the_first_does(
    app, client, console, owner, make_app
):
    """A double click: the second submission arrives while the first is still being served
    (its nonce claimed, its answer not yet known); it waits for that answer and goes there."""
    import threading

    created, _ = make_app(owner, "web")
    page = f"/console/apps/{created.client_id}/secret"
    form = {**_form(console, page), "grace_hours": "0"}
    store = app.extensions["store"]
    key = f"console:form:{owner.id}:{form['form_nonce']}"
    store.add(key, "", 60)  # the first submission, in progress
    first_lands = f"/console/apps/{created.client_id}/revealed"
    settle = threading.Timer(0.3, lambda: store.put(key, first_lands, 60))
    settle.start()
    second = client.post(page, data=form)
    settle.join()
    assert second.status_code == 303 and second.headers["Location"] == first_lands
    assert _count(app, AuditEntry, AuditEntry.action == "app.secret_rotate") == 0
