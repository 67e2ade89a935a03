"""The pages over HTTP: sign-in and its limits, sessions, safe redirects, headers, escaping,
consent details, deny, the request-install flow and the error page."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from server import clients
from server.extensions import db
from server.models import Installation, User
from tests.api_helpers import add_member, make_team
from tests.conftest import PASSWORD
from tests.oauth_support import REDIRECT_URI, Browser, hidden, query


def authorize_url(client_id: str, **params: str) -> str:
    base = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI}
    return "/oauth/authorize?" + urlencode({**base, **params})


def login_form(client, email: str, password: str, next_: str = "", **kw):
    page = client.get("/login" + (f"?next={next_}" if next_ else ""), **kw)
    token = hidden(page.get_data(as_text=True), "csrf_token")
    data = {"email": email, "password": password, "csrf_token": token, "next": next_}
    return client.post("/login", data=data, **kw)


# Sign-in ---------------------------------------------------------------------------------


def test_sign_in_starts_a_fresh_session(client, make_user):
    user = make_user()
    with client.session_transaction() as sess:
        sess["planted"] = "by someone else"
    response = login_form(client, user.email, PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    with client.session_transaction() as sess:
        assert sess["user_id"] == user.id
        assert "planted" not in sess and "csrf_token" not in sess


def test_wrong_password_and_unknown_account_look_the_same(client, make_user):
    user = make_user()
    wrong = login_form(client, user.email, "not the password")
    unknown = login_form(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "Incorrect email or password." in response.get_data(as_text=True)
    with client.session_transaction() as sess:
        assert "user_id" not in sess


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/\r\nSet-Cookie:x",
    ],
)
def test_next_goes_only_to_local_paths(client, make_user, target):
    user = make_user()
    response = login_form(client, user.email, PASSWORD, next_=target)
    assert response.headers["Location"] == "/"


def test_next_keeps_a_local_path(client, make_user):
    user = make_user()
    response = login_form(client, user.email, PASSWORD, next_="/console/authorized")
    assert response.headers["Location"] == "/console/authorized"


def test_logout_needs_a_post_with_csrf_and_ends_the_session(client, make_user):
    user = make_user()
    login_form(client, user.email, PASSWORD)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    with client.session_transaction() as sess:
        assert sess["user_id"] == user.id
    page = client.get("/console/").get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": hidden(page, "csrf_token")})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    with client.session_transaction() as sess:
        assert "user_id" not in sess
    assert client.get("/console/").status_code == 302


def test_failed_sign_ins_are_limited_per_account(app, client, make_user):
    app.config.update(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_ACCOUNT="3 per 15 minutes")
    victim, other = make_user(), make_user()
    for _ in range(3):
        assert login_form(client, victim.email, "guess").status_code == 401
    limited = login_form(client, victim.email, PASSWORD)
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed sign-ins" in limited.get_data(as_text=True)
    # Another account from the same address is not locked out.
    assert login_form(client, other.email, PASSWORD).status_code == 302


def test_failed_sign_ins_are_limited_per_address(app, client, make_user):
    app.config.update(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_ADDRESS="3 per 15 minutes")
    user = make_user()
    here = {"environ_base": {"REMOTE_ADDR": "10.0.0.1"}}
    elsewhere = {"environ_base": {"REMOTE_ADDR": "10.0.0.2"}}
    for n in range(3):
        assert login_form(client, f"guess{n}@example.com", "x", **here).status_code == 401
    assert login_form(client, user.email, PASSWORD, **here).status_code == 429
    # Another address is not locked out.
    assert login_form(client, user.email, PASSWORD, **elsewhere).status_code == 302


def test_limits_are_off_when_disabled(app, client, make_user):
    app.config.update(RATELIMIT_ENABLED=False, RATELIMIT_LOGIN_ACCOUNT="1 per 15 minutes")
    user = make_user()
    for _ in range(3):
        assert login_form(client, user.email, "guess").status_code == 401
    assert login_form(client, user.email, PASSWORD).status_code == 302


def test_a_form_without_its_csrf_token_is_refused(client, make_user):
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


# Headers and escaping --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/device", "/console/", "/oauth/authorize?client_id=1"])
def test_pages_refuse_frames(client, make_user, path):
    login_form(client, make_user().email, PASSWORD)
    response = client.get(path)
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "<script>" not in response.get_data(as_text=True)
    assert "style=" not in response.get_data(as_text=True)


def test_app_names_and_descriptions_are_escaped(client, make_user, make_app):
    user = make_user()
    created, _ = make_app(
        user, "web", name='<script>alert("n")</script>', description="<img src=x onerror=1>"
    )
    browser = Browser(client=client)
    browser.login(user.email, PASSWORD)
    status, _, html = browser.open_consent(authorize_url(created.client_id))
    assert status == 200
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=1&gt;" in html


# Consent ---------------------------------------------------------------------------------


def test_consent_shows_the_app_its_owner_and_permissions_in_words(client, make_user, make_app):
    user = make_user()
    created, _ = make_app(
        user, "web", description="Summarises chats.", permissions=["Bot.read", "Workflow.run"]
    )
    browser = Browser(client=client)
    browser.login(user.email, PASSWORD)
    status, _, html = browser.open_consent(authorize_url(created.client_id))
    assert status == 200
    for text in (
        created.name,
        "Summarises chats.",
        "Web back-end app",
        "account",  # the owner tenant, "<name>'s account"
        "Read the agents (bots) in a workspace and their settings",
        "Run workflows and read their results",
        'name="decision" value="approve"',
        'name="decision" value="deny"',
    ):
        assert text in html


def test_deny_sends_access_denied_with_state(client, make_user, make_app):
    user = make_user()
    created, _ = make_app(user, "web")
    browser = Browser(client=client)
    browser.login(user.email, PASSWORD)
    location = browser.authorize(authorize_url(created.client_id, state="s-1"), decision="deny")
    assert location.startswith(REDIRECT_URI + "?")
    params = query(location)
    assert params["error"] == "access_denied" and params["state"] == "s-1"
    assert "code" not in params


def test_errors_not_safe_to_redirect_are_shown_as_a_page(client, make_user, make_app):
    user = make_user()
    created, _ = make_app(user, "web")
    browser = Browser(client=client)
    browser.login(user.email, PASSWORD)
    for url, title in (
        (authorize_url("1000000000000000001"), "This app is not recognised"),
        (authorize_url(created.client_id, redirect_uri="https://evil.example/cb"), "cannot be"),
    ):
        status, headers, html = browser.get(url)
        assert status in (400, 401) and "Location" not in headers
        assert headers["Content-Type"].startswith("text/html")
        assert title in html


def test_workspace_chooser_marks_where_the_app_is_not_installed(app, client, make_user, make_app):
    owner, member = make_user(), make_user()
    team = make_team(app, owner, name="Acme")
    add_member(app, team, member, "member")
    created, _ = make_app(owner, "web")
    browser = Browser(client=client)
    browser.login(member.email, PASSWORD)
    status, _, html = browser.open_consent(authorize_url(created.client_id))
    assert status == 200
    assert html.count('name="workspace_id"') == 2 and "Acme" in html
    assert "an admin must install it" in html


def test_member_requests_installation_and_an_admin_approves(app, client, make_user, make_app):
    owner, member = make_user(), make_user()
    team = make_team(app, owner, name="Acme")
    add_member(app, team, member, "member")
    created, _ = make_app(owner, "web")
    with app.app_context():
        team_workspace = str(
            next(p.workspace.id for p in _places(member.id) if p.tenant.id == team)
        )
    person = Browser(client=client)
    person.login(member.email, PASSWORD)
    status, _, html = person.open_consent(authorize_url(created.client_id))
    status, _, html = person.decide(html, "approve", workspace_id=team_workspace)
    assert status == 403 and "Request installation" in html
    form = {
        "csrf_token": hidden(html, "csrf_token"),
        "authorize_key": hidden(html, "authorize_key"),
        "workspace_id": hidden(html, "workspace_id"),
    }
    status, headers, _ = person.post("/oauth/consent/request-install", form)
    assert status == 302
    status, _, html = person.get(headers["Location"])
    assert status == 200 and "Request sent" in html
    with app.app_context():
        row = db.session.query(Installation).filter_by(tenant_id=team).one()
        assert row.status == "pending" and row.requested_by == member.id
        clients.install(db.session.get(User, owner.id), team, created.client_id, "obo")
        db.session.commit()
    location = person.authorize(authorize_url(created.client_id), workspace_id=team_workspace)
    assert "code" in query(location)


def _places(user_id: int):
    from server.oauth.consent import places_for

    return places_for(user_id)


# Device verification ---------------------------------------------------------------------


def _device_start(client, client_id: str) -> dict:
    response = client.post("/oauth/device_authorization", data={"client_id": client_id})
    assert response.status_code == 200
    return response.json


def test_device_page_prefills_and_names_the_app(client, make_user, make_app):
    user = make_user()
    created, _ = make_app(user, "device", permissions=["Bot.read"])
    started = _device_start(client, created.client_id)
    browser = Browser(client=client)
    browser.login(user.email, PASSWORD)
    status, _, html = browser.get(f"/device?user_code={started['user_code']}")
    assert status == 200 and f'value="{started["user_code"]}"' in html
    status, _, html = browser.post(
        "/device", {"csrf_token": hidden(html, "csrf_token"), "user_code": started["user_code"]}
    )
    assert status == 200 and created.name in html and started["user_code"] in html
    status, html = browser.approve_device(started["user_code"])
    assert status == 200 and "Device connected" in html
    status, html = browser.approve_device(started["user_code"])
    assert status == 410 and "already used" in html


def test_device_wrong_codes_answer_429_with_retry_after(app, client, make_user):
    app.config.update(RATELIMIT_ENABLED=True, RATELIMIT_DEVICE_CODE="2 per 10 minutes")
    browser = Browser(client=client)
    browser.login(make_user().email, PASSWORD)
    assert browser.approve_device("BBBB-BBBB")[0] == 400
    assert browser.approve_device("BBBB-BBBB")[0] == 400
    page = client.get("/device").get_data(as_text=True)
    response = client.post(
        "/device", data={"csrf_token": hidden(page, "csrf_token"), "user_code": "CCCC-CCCC"}
    )
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0


# The demo's callback page -----------------------------------------------------------------


def test_demo_callback_shows_what_the_app_received(base_config, _schema):
    from server import create_app

    demo = create_app({**base_config, "DEMO_MODE": True}).test_client()
    html = demo.get("/callback?code=code_abc&state=s1").get_data(as_text=True)
    assert "The app received an authorization code" in html
    assert "code_abc" in html and "http://localhost/callback" in html
    denied = demo.get("/callback?error=access_denied&state=s1").get_data(as_text=True)
    assert "access_denied" in denied


def test_no_demo_callback_outside_the_demo(client):
    assert client.get("/callback?code=x").status_code == 404
