"""Device authorization (RFC 8628) in both dialects: codes, polling answers and single use."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from grants.device_code import USER_CODE_ALPHABET, normalize_user_code
from grants.secrets import digest
from server.extensions import db
from server.models import DeviceCode
from tests.oauth_support import DEVICE_CODE, hidden, resource_server


@pytest.fixture
def device_app(person, make_app):
    created, _ = make_app(person.user, "device", permissions=["Workflow.run"])
    return created


def start(client, client_id, dialect="rfc"):
    if dialect == "rfc":
        response = client.post("/oauth/device_authorization", data={"client_id": client_id})
    else:
        response = client.post("/api/permission/oauth2/device/code", json={"client_id": client_id})
    assert response.status_code == 200, response.json
    return response.json


def poll(client, client_id, device_code, dialect="rfc"):
    body = {"grant_type": DEVICE_CODE, "device_code": device_code, "client_id": client_id}
    if dialect == "rfc":
        return client.post("/oauth/token", data=body)
    return client.post("/api/permission/oauth2/token", json=body)


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_device_flow(client, app, person, device_app, dialect):
    started = start(client, device_app.client_id, dialect)
    assert re.fullmatch(
        rf"[{USER_CODE_ALPHABET}]{{4}}-[{USER_CODE_ALPHABET}]{{4}}", started["user_code"]
    )
    assert started["expires_in"] == 300 and started["interval"] == 5
    assert started["verification_uri"] == "http://localhost/device"
    assert started["verification_uri_complete"].endswith("?user_code=" + started["user_code"])
    assert len(started["device_code"]) >= 43

    pending = poll(client, device_app.client_id, started["device_code"], dialect)
    assert pending.status_code == 400 and pending.json["error"] == "authorization_pending"
    if dialect == "coze":
        assert pending.json["error_code"] == "authorization_pending"

    # The person types the code in lower case, without the hyphen.
    status, html = person.approve_device(started["user_code"].replace("-", "").lower())
    assert status == 200 and "Device connected" in html

    # The device waited its interval before polling again.
    app.extensions["store"].delete("device:polled:" + digest(started["device_code"]))
    response = poll(client, device_app.client_id, started["device_code"], dialect)
    assert response.status_code == 200, response.json
    assert response.json["refresh_token"].startswith("czr_")
    info = client.post(
        "/oauth/introspect",
        data={"token": response.json["access_token"]},
        headers=resource_server(app),
    ).json
    assert info["active"] and info["app_type"] == "device" and info["scope"] == "Workflow.run"
    assert info["sub"] == str(person.user.id)

    again = poll(client, device_app.client_id, started["device_code"], dialect)
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"


def test_a_clashing_user_code_is_drawn_again(client, app, person, device_app, monkeypatch):
    drawn = iter(["BCDF-GHJK", "BCDF-GHJK", "LMNP-QRST"])
    monkeypatch.setattr("grants.device_code.create_string_user_code", lambda: next(drawn))
    first = start(client, device_app.client_id)
    second = start(client, device_app.client_id, "coze")
    assert (first["user_code"], second["user_code"]) == ("BCDF-GHJK", "LMNP-QRST")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DeviceCode)) == 2

    # Each user code decides its own device code only.
    status, html = person.approve_device(second["user_code"])
    assert status == 200 and "Device connected" in html
    assert poll(client, device_app.client_id, second["device_code"]).status_code == 200
    pending = poll(client, device_app.client_id, first["device_code"])
    assert pending.status_code == 400 and pending.json["error"] == "authorization_pending"


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_no_free_user_code_is_a_clear_503(client, app, device_app, monkeypatch, dialect):
    monkeypatch.setattr("grants.device_code.create_string_user_code", lambda: "BCDF-GHJK")
    start(client, device_app.client_id)
    if dialect == "rfc":
        response = client.post(
            "/oauth/device_authorization", data={"client_id": device_app.client_id}
        )
    else:
        response = client.post(
            "/api/permission/oauth2/device/code", json={"client_id": device_app.client_id}
        )
    assert response.status_code == 503
    assert response.json["error"] == "temporarily_unavailable"
    if dialect == "coze":
        assert response.json["error_code"] == "temporarily_unavailable"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DeviceCode)) == 1


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_polling_too_fast_slows_down(client, app, device_app, dialect):
    started = start(client, device_app.client_id, dialect)
    assert (
        poll(client, device_app.client_id, started["device_code"], dialect).json["error"]
        == "authorization_pending"
    )
    too_fast = poll(client, device_app.client_id, started["device_code"], dialect)
    assert too_fast.status_code == 400 and too_fast.json["error"] == "slow_down"
    store = app.extensions["store"]
    assert store.get("device:polled:" + digest(started["device_code"]) + ":interval") == "10"
    assert (
        poll(client, device_app.client_id, started["device_code"], dialect).json["error"]
        == "slow_down"
    )
    assert store.get("device:polled:" + digest(started["device_code"]) + ":interval") == "15"


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_polling_after_denial(client, person, device_app, dialect):
    started = start(client, device_app.client_id, dialect)
    status, html = person.approve_device(started["user_code"], decision="deny")
    assert status == 200 and "denied" in html
    response = poll(client, device_app.client_id, started["device_code"], dialect)
    assert response.status_code == 400 and response.json["error"] == "access_denied"


@pytest.mark.parametrize("dialect", ["rfc", "coze"])
def test_polling_after_expiry(client, app, person, device_app, dialect):
    started = start(client, device_app.client_id, dialect)
    with app.app_context():
        db.session.execute(update(DeviceCode).values(expires_at=1))
        db.session.commit()
    response = poll(client, device_app.client_id, started["device_code"], dialect)
    assert response.status_code == 400 and response.json["error"] == "expired_token"
    status, html = person.approve_device(started["user_code"])
    assert status == 410 and "no longer be used" in html


def test_wrong_user_code_is_refused_and_rate_limited(app, client, person, device_app):
    app.config["RATELIMIT_ENABLED"] = True
    start(client, device_app.client_id)
    for _ in range(10):
        status, html = person.approve_device("BBBB-BBBB")
        assert status == 400 and "not valid" in html
    status, _ = person.approve_device("BBBB-BBBB")
    assert status == 429


def test_wrong_user_codes_asking_for_an_installation_count_toward_the_same_limit(
    app, client, person, device_app
):
    """The installation request from a device's consent form takes a user code too: it cannot
    be used to try codes past the device page's limit, and counts toward it."""
    app.config["RATELIMIT_ENABLED"] = True
    code = start(client, device_app.client_id)["user_code"]
    _, _, page = person.get("/device")
    form = {"csrf_token": hidden(page, "csrf_token"), "workspace_id": "1"}
    for _ in range(5):
        status, _, html = person.post(
            "/oauth/consent/request-install", {**form, "user_code": "BBBB-BBBB"}
        )
        assert status == 400 and "not valid" in html
    for _ in range(5):
        status, html = person.approve_device("CCCC-CCCC")
        assert status == 400 and "not valid" in html
    # Limited now, on either page, even for a code that is right.
    status, headers, _ = person.post("/oauth/consent/request-install", {**form, "user_code": code})
    assert status == 429 and int(headers["Retry-After"]) > 0
    assert person.approve_device(code)[0] == 429


def test_only_device_apps_use_device_authorization(client, person, make_app):
    created, _ = make_app(person.user, "pkce")
    response = client.post("/oauth/device_authorization", data={"client_id": created.client_id})
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_user_code_normaliser():
    assert normalize_user_code("wdjb-mjht".upper().replace("A", "B")) == "WDJBMJHT"
    assert normalize_user_code(" wdjb mjht ") == "WDJBMJHT"
    assert normalize_user_code("WDJB-MJH") is None
    assert normalize_user_code("WDJB-MJHA") is None  # vowels are not in the alphabet
    assert normalize_user_code("x" * 100) is None


def test_poll_pace_is_one_step_of_the_store(app):
    """The pace of polls in the store the app runs on (Redis when REDIS_URL is set): a poll
    after the interval passes, one within it grows the interval by the step for good."""
    store = app.extensions["store"]
    key = "device:polled:pace-test"
    assert store.pace(key, 1, 5, 60) is None
    assert store.pace(key, 1, 5, 60) == 6
    assert store.pace(key, 1, 5, 60) == 11
    assert store.get(key + ":interval") == "11"
    store.delete(key)  # as if the device waited out its interval
    assert store.pace(key, 1, 5, 60) is None
    assert store.pace(key, 1, 5, 60) == 16  # the grown interval is kept
    store.delete(key)
    store.delete(key + ":interval")
