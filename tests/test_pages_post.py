"""No page answers a POST with a page of its own: every POST route outside the APIs and the
OAuth endpoints answers with a redirect (post/redirect/get) or an error status (a validation
error, a refusal). The one exception is named: the device page's code step, whose answer is the
consent form for that code and which changes nothing. The console's routes are walked with
their own bodies in test_console_once.py."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from server.extensions import db
from server.models import AuditEntry, Authorization, AuthorizationCode, DeviceCode, Installation
from tests.api_helpers import add_member, make_team
from tests.conftest import PASSWORD
from tests.oauth_support import Browser, hidden
from tests.test_install_requests import authorize_url

pytestmark = pytest.mark.usefixtures("fast_passwords")

# Answers that are not a page of the action's result: a redirect, a form shown again with its
# errors, or a refusal.
NOT_A_RESULT_PAGE = {302, 303, 400, 401, 403, 404, 410, 422, 429}
# The device page's first POST carries the code and answers with the form for that code.
CODE_STEP = "/device"


def _page_post_rules(app) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and rule.endpoint.startswith("pages.")
    )


def test_the_walk_knows_every_page_post(app):
    assert _page_post_rules(app) == [
        "/device",
        "/login",
        "/logout",
        "/oauth/consent",
        "/oauth/consent/request-install",
    ]


def test_every_page_post_answers_with_a_redirect_or_an_error(app, make_user, make_app):
    owner, member = make_user(), make_user()
    team = make_team(app, owner, name="Walk")
    add_member(app, team, member, "member")
    web, _ = make_app(make_user(), "web", name="Walked")
    device, _ = make_app(make_user(), "device", name="Walked TV")
    answers: dict[str, set[int]] = {}

    def record(path: str, status: int) -> None:
        answers.setdefault(path, set()).add(status)
        if path != CODE_STEP:
            assert status in NOT_A_RESULT_PAGE, (path, status)

    for person in (owner, member):
        browser = Browser(client=app.test_client())
        status, _, page = browser.get("/login")
        # Sign-in: wrong, then right.
        form = {"csrf_token": hidden(page, "csrf_token"), "email": person.email}
        record("/login", browser.post("/login", {**form, "password": "wrong"})[0])
        record("/login", browser.post("/login", {**form, "password": PASSWORD})[0])

        # Consent: every decision, bad values, and the installation request after it.
        for body in (
            {"decision": "approve"},
            {"decision": "deny"},
            {"decision": "maybe"},
            {"decision": "approve", "workspace_id": "999999"},
        ):
            status, _, html = browser.open_consent(authorize_url(web.client_id))
            assert status == 200
            workspace = body.pop("workspace_id", None)
            form = {
                "csrf_token": hidden(html, "csrf_token"),
                "authorize_key": hidden(html, "authorize_key"),
                "workspace_id": workspace or _team_workspace(html),
                **body,
            }
            status, _, answer = browser.post("/oauth/consent", form)
            record("/oauth/consent", status)
            if "Request installation" in answer:
                status, headers, _ = browser.post(
                    "/oauth/consent/request-install",
                    {
                        "csrf_token": hidden(answer, "csrf_token"),
                        "authorize_key": hidden(answer, "authorize_key"),
                        "workspace_id": hidden(answer, "workspace_id"),
                    },
                )
                record("/oauth/consent/request-install", status)
                assert status == 302
                assert browser.get(headers["Location"])[0] == 200
        record("/oauth/consent/request-install", browser.post(
            "/oauth/consent/request-install",
            {"csrf_token": hidden(html, "csrf_token"), "workspace_id": "1"},
        )[0])  # fmt: skip

        # The device page: a wrong code, the code step, each decision.
        for decision in ("approve", "deny"):
            started = app.test_client().post(
                "/oauth/device_authorization", data={"client_id": device.client_id}
            )
            code = started.json["user_code"]
            status, _, page = browser.get("/device")
            token = hidden(page, "csrf_token")
            record("/device", browser.post("/device", {"csrf_token": token, "user_code": "X"})[0])
            status, _, html = browser.post("/device", {"csrf_token": token, "user_code": code})
            assert status == 200 and "Walked TV" in html  # the code step
            answers.setdefault(CODE_STEP, set()).add(status)
            # Posted as the form is (decide() would follow the redirect to the done page).
            form = {
                "csrf_token": hidden(html, "csrf_token"),
                "user_code": hidden(html, "user_code"),
                "workspace_id": _team_workspace(html),
                "decision": decision,
            }
            record("/device", browser.post("/device", form)[0])
            # Once decided, the same form again changes nothing.
            record("/device", browser.post("/device", form)[0])

        status, _, page = browser.get("/device")
        record("/logout", browser.post("/logout", {"csrf_token": hidden(page, "csrf_token")})[0])

    assert 302 in answers["/oauth/consent"] and 400 in answers["/oauth/consent"]
    assert 302 in answers["/device"] and 302 in answers["/login"]
    assert set(answers) == set(_page_post_rules(app))


def _team_workspace(html: str) -> str:
    """The team's workspace on a consent form (the last radio), else its only workspace."""
    radios = re.findall(r'name="workspace_id" value="(\d+)"', html)
    return radios[-1] if radios else (hidden(html, "workspace_id") or "")


def test_a_reloaded_request_or_device_answer_asks_nothing_twice(app, make_user, make_app):
    owner, member = make_user(), make_user()
    team = make_team(app, owner, name="Twice")
    add_member(app, team, member, "member")
    web, _ = make_app(make_user(), "web", name="Asked twice")
    device, _ = make_app(owner, "device", name="Decided twice")
    browser = Browser(client=app.test_client())
    browser.login(member.email, PASSWORD)
    status, _, html = browser.open_consent(authorize_url(web.client_id))
    status, _, html = browser.decide(html, workspace_id=_team_workspace(html))
    assert status == 403
    form = {
        "csrf_token": hidden(html, "csrf_token"),
        "authorize_key": hidden(html, "authorize_key"),
        "workspace_id": hidden(html, "workspace_id"),
    }
    status, headers, _ = browser.post("/oauth/consent/request-install", form)
    assert status == 302
    for _reload in range(2):
        status, _, sent = browser.get(headers["Location"])
        assert status == 200 and "Request sent" in sent and "Asked twice" in sent
    # The same form posted again (the back button and submit) adds no second request.
    assert browser.post("/oauth/consent/request-install", form)[0] == 302
    with app.app_context():
        assert db.session.query(Installation).filter_by(tenant_id=team).count() == 1
        asked = db.session.query(AuditEntry).filter_by(action="installation.request").count()
        assert asked == 1

    # The device page's answer is a page of its own (a GET): reloading it decides nothing.
    code = (
        app.test_client()
        .post("/oauth/device_authorization", data={"client_id": device.client_id})
        .json["user_code"]
    )
    status, html = browser.approve_device(code, workspace_id=None)
    assert status == 200 and "Device connected" in html and "Decided twice" in html
    for _reload in range(2):
        status, _, done = browser.get("/device/done")
        assert status == 200 and "Device connected" in done
    with app.app_context():
        assert db.session.query(DeviceCode).filter_by(status="approved").count() == 1


def test_an_approval_answered_meanwhile_writes_nothing(app, make_user, make_app, monkeypatch):
    """An admin's approval installs the app and records the consent before it answers; when
    the request is answered meanwhile (another tab, between the page's check and its answer),
    the approval is refused and neither the installation nor the consent is kept."""
    from server.oauth import consent

    admin = make_user()
    team = make_team(app, admin, name="Late")
    web, _ = make_app(make_user(), "web", name="Answered web")
    device, _ = make_app(make_user(), "device", name="Answered TV")
    browser = Browser(client=app.test_client())
    browser.login(admin.email, PASSWORD)
    approve = consent.approve
    meanwhile: list = []

    def approve_then_the_other_tab_answers(*args, **kwargs):
        context = approve(*args, **kwargs)
        meanwhile.pop()()
        return context

    monkeypatch.setattr(consent, "approve", approve_then_the_other_tab_answers)

    status, _, html = browser.open_consent(authorize_url(web.client_id))
    assert status == 200
    key = hidden(html, "authorize_key")
    meanwhile.append(lambda: app.extensions["store"].take("authorize:" + key))
    status, _, page = browser.decide(html, "approve", workspace_id=_team_workspace(html))
    assert status == 400 and "already answered" in page

    code = (
        app.test_client()
        .post("/oauth/device_authorization", data={"client_id": device.client_id})
        .json["user_code"]
    )
    status, _, page = browser.get("/device")
    status, _, html = browser.post(
        "/device", {"csrf_token": hidden(page, "csrf_token"), "user_code": code}
    )
    assert status == 200
    # The other tab's denial, in this request's own transaction (so undone with it).
    meanwhile.append(lambda: db.session.execute(update(DeviceCode).values(status="denied")))
    status, _, page = browser.decide(html, "approve", _team_workspace(html), url="/device")
    assert status == 410

    with app.app_context():
        assert db.session.query(Installation).filter_by(tenant_id=team).count() == 0
        assert db.session.query(Authorization).filter_by(user_id=admin.id).count() == 0
        assert db.session.query(AuthorizationCode).count() == 0
        assert db.session.query(DeviceCode).one().status == "pending"


def test_the_device_answer_page_needs_a_decision(app, make_user):
    browser = Browser(client=app.test_client())
    assert browser.get("/device/done")[0] == 302  # sign in first
    browser.login(make_user().email, PASSWORD)
    status, headers, _ = browser.get("/device/done")
    assert status == 302 and headers["Location"].endswith("/device")


def test_a_request_from_the_device_page_leaves_the_code_out_of_the_address(
    app, make_user, make_app
):
    owner, member = make_user(), make_user()
    team = make_team(app, owner, name="Codes")
    add_member(app, team, member, "member")
    device, _ = make_app(make_user(), "device", name="Asked by a TV")
    code = (
        app.test_client()
        .post("/oauth/device_authorization", data={"client_id": device.client_id})
        .json["user_code"]
    )
    browser = Browser(client=app.test_client())
    browser.login(member.email, PASSWORD)
    status, _, page = browser.get("/device")
    status, _, step = browser.post(
        "/device", {"csrf_token": hidden(page, "csrf_token"), "user_code": code}
    )
    status, _, html = browser.decide(step, workspace_id=_team_workspace(step), url="/device")
    assert status == 403 and "Request installation" in html
    status, headers, _ = browser.post(
        "/oauth/consent/request-install",
        {
            "csrf_token": hidden(html, "csrf_token"),
            "user_code": hidden(html, "user_code"),
            "workspace_id": hidden(html, "workspace_id"),
        },
    )
    assert status == 302
    assert code.replace("-", "") not in headers["Location"].replace("-", "")
    status, _, sent = browser.get(headers["Location"])
    assert status == 200 and "Request sent" in sent and "Asked by a TV" in sent
    # The page names only a request that exists, in one of the person's own workspaces.
    for bad in (
        headers["Location"].replace(device.client_id, "1000000000000000001"),
        headers["Location"].replace("workspace_id=", "workspace_id=9"),
        "/oauth/consent/request-install",
        "/oauth/consent/request-install?client_id=%00&workspace_id=x",
        "/oauth/consent/request-install?client_id=１２３&workspace_id=%00",
    ):
        assert browser.get(bad)[0] == 404, bad
