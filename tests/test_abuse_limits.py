"""Abuse limits: sign-in failures per account and per address, wrong device codes per address,
token calls per client, introspection calls per resource server, body and assertion size.

Each limit answers 429 with Retry-After in its face's shape and never locks out another account,
address, client or resource server. The counters live in Redis: two app instances on one private
redis-server count together, as two server processes would.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from limits import parse

from grants.device_code import USER_CODE_ALPHABET, USER_CODE_LENGTH, normalize_user_code
from server import create_app
from server.oauth.throttle import MAX_ASSERTION_BYTES
from server.ratelimit import DEFAULT_LIMITS
from tests.conftest import PASSWORD
from tests.oauth_support import (
    JWT_BEARER,
    Browser,
    assertion,
    basic,
    hidden,
    resource_server,
    service_app,
)
from tests.test_redis_outage import PrivateRedis

AUDIENCE = "localhost"
COZE_TOKEN = "/api/permission/oauth2/token"


def dispose(instance) -> None:
    """Close an extra app's database connections now, not whenever it is collected."""
    from server.extensions import db

    with instance.app_context():
        db.session.remove()
        db.engine.dispose()


def limited(app, **limits: str) -> None:
    app.config.update(RATELIMIT_ENABLED=True, **limits)


def assert_429(response, shape: str) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)[:300]
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    if shape == "html":
        assert response.mimetype == "text/html"
        return
    body = response.get_json()
    assert body["error"] == "temporarily_unavailable"
    if shape == "coze":
        assert body["error_code"] == "temporarily_unavailable" and body["error_message"]


def failed_login(client, email: str, addr: str = "127.0.0.1"):
    env = {"environ_base": {"REMOTE_ADDR": addr}}
    page = client.get("/login", **env).get_data(as_text=True)
    data = {"email": email, "password": "not-it", "csrf_token": hidden(page, "csrf_token")}
    return client.post("/login", data=data, **env)


def code_exchange(client, client_id: str, secret: str, coze: bool = False):
    if coze:
        return client.post(
            COZE_TOKEN,
            json={"grant_type": "authorization_code", "client_id": client_id, "code": "x"},
            headers={"Authorization": f"Bearer {secret}"},
        )
    return client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": "http://x"},
        headers=basic(client_id, secret),
    )


# Per account and per address: sign-in ------------------------------------------------------


def test_sign_in_failures_are_limited_per_account_and_never_lock_out_another(
    app, client, make_user
):
    limited(app, RATELIMIT_LOGIN_ACCOUNT="3 per 15 minutes")
    victim, other = make_user(), make_user()
    for n in range(3):
        # From three addresses: the per-account count does not care where guesses come from.
        assert failed_login(client, victim.email, f"192.0.2.{n + 1}").status_code == 401
    assert_429(failed_login(client, victim.email, "192.0.2.9"), "html")
    browser = Browser(client=client)
    browser.login(other.email, PASSWORD)


def test_sign_in_failures_are_limited_per_address_and_never_lock_out_another(
    app, client, make_user
):
    limited(app, RATELIMIT_LOGIN_ADDRESS="3 per 15 minutes")
    user = make_user()
    for n in range(3):
        assert failed_login(client, f"nobody{n}@example.com", "192.0.2.1").status_code == 401
    assert_429(failed_login(client, user.email, "192.0.2.1"), "html")
    assert failed_login(client, user.email, "192.0.2.2").status_code == 401


# Device user codes ---------------------------------------------------------------------------


def wrong_device_code(client, code: str, addr: str):
    env = {"environ_base": {"REMOTE_ADDR": addr}}
    page = client.get("/device", **env).get_data(as_text=True)
    return client.post(
        "/device", data={"csrf_token": hidden(page, "csrf_token"), "user_code": code}, **env
    )


def test_device_code_guesses_are_limited_per_address(app, client, make_user):
    limited(app, RATELIMIT_DEVICE_CODE="3 per 10 minutes")
    Browser(client=client).login(make_user().email, PASSWORD)
    for _ in range(3):
        assert wrong_device_code(client, "BBBB-BBBB", "192.0.2.1").status_code == 400
    assert_429(wrong_device_code(client, "CCCC-CCCC", "192.0.2.1"), "html")
    assert wrong_device_code(client, "CCCC-CCCC", "192.0.2.2").status_code == 400


def test_guessing_a_device_code_within_its_lifetime_is_hopeless(app, client, make_user, make_app):
    """RFC 8628 §5.1: the arithmetic, from the settings in force."""
    space = len(USER_CODE_ALPHABET) ** USER_CODE_LENGTH  # 20**8 = 25,600,000,000
    assert space == 25_600_000_000
    limit = parse(DEFAULT_LIMITS["RATELIMIT_DEVICE_CODE"])  # 10 per 10 minutes
    window = limit.get_expiry()
    lifetime = app.config["DEVICE_CODE_TTL"]  # 300 s
    guesses_per_lifetime = limit.amount * math.ceil(lifetime / window)
    # Even with a thousand codes pending at once and a thousand addresses guessing for the
    # whole of a code's lifetime, the chance of hitting any one of them stays below 1 in 2500.
    pending, addresses = 1000, 1000
    chance = guesses_per_lifetime * addresses * pending / space
    assert guesses_per_lifetime == 10 and chance < 4e-4
    # And the codes really are drawn from that space: 8 consonants, dash in the middle.
    owner = make_user()
    device, _ = make_app(owner, "device")
    for _ in range(20):
        started = client.post("/oauth/device_authorization", data={"client_id": device.client_id})
        code = started.json["user_code"]
        assert len(code) == USER_CODE_LENGTH + 1 and normalize_user_code(code) is not None


# Token endpoint per client -------------------------------------------------------------------


@pytest.mark.parametrize("coze", [False, True], ids=["rfc", "coze"])
def test_token_calls_are_limited_per_client(app, client, make_user, make_app, coze):
    limited(app, RATELIMIT_TOKEN_CLIENT="3 per minute")
    owner = make_user()
    (one, one_secret), (two, two_secret) = make_app(owner, "web"), make_app(owner, "web")
    for _ in range(3):
        assert code_exchange(client, one.client_id, one_secret, coze).status_code == 400
    assert_429(code_exchange(client, one.client_id, one_secret, coze), "coze" if coze else "rfc")
    # Another client, from the same address, is not locked out.
    assert code_exchange(client, two.client_id, two_secret, coze).status_code == 400


@pytest.mark.parametrize("coze", [False, True], ids=["rfc", "coze"])
def test_jwt_grant_calls_are_limited_per_issuer(app, client, make_user, make_app, coze):
    limited(app, RATELIMIT_TOKEN_CLIENT="2 per minute")
    owner = make_user()
    apps = [service_app(app, owner, make_app) for _ in range(2)]

    def mint(client_id: str, kid: str, pem: str):
        signed = assertion(client_id, kid, pem, AUDIENCE)
        if coze:
            return client.post(
                COZE_TOKEN,
                json={"grant_type": JWT_BEARER},
                headers={"Authorization": "Bearer " + signed},
            )
        return client.post("/oauth/token", data={"grant_type": JWT_BEARER, "assertion": signed})

    for _ in range(2):
        assert mint(*apps[0]).status_code == 200
    assert_429(mint(*apps[0]), "coze" if coze else "rfc")
    assert mint(*apps[1]).status_code == 200


def test_token_calls_without_a_client_id_are_limited_per_address(app, client):
    limited(app, RATELIMIT_TOKEN_CLIENT="2 per minute")
    here = {"environ_base": {"REMOTE_ADDR": "192.0.2.1"}}
    for _ in range(2):
        assert client.post("/oauth/token", data={"grant_type": "x"}, **here).status_code == 400
    assert_429(client.post("/oauth/token", data={"grant_type": "x"}, **here), "rfc")
    elsewhere = {"environ_base": {"REMOTE_ADDR": "192.0.2.2"}}
    assert client.post("/oauth/token", data={"grant_type": "x"}, **elsewhere).status_code == 400


# Introspection per resource server -----------------------------------------------------------


def test_introspection_is_limited_per_resource_server(app, client):
    limited(app, RATELIMIT_INTROSPECTION="3 per minute")
    first, second = resource_server(app), resource_server(app)
    for _ in range(3):
        response = client.post("/oauth/introspect", data={"token": "x"}, headers=first)
        assert response.status_code == 200 and response.json == {"active": False}
    assert_429(client.post("/oauth/introspect", data={"token": "x"}, headers=first), "rfc")
    assert client.post("/oauth/introspect", data={"token": "x"}, headers=second).status_code == 200


def test_default_limits_leave_room_for_real_load():
    """Generous defaults: a busy client or platform API never meets them in normal use."""
    assert parse(DEFAULT_LIMITS["RATELIMIT_TOKEN_CLIENT"]).amount >= 600
    assert parse(DEFAULT_LIMITS["RATELIMIT_INTROSPECTION"]).amount >= 6000


# Sizes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("coze", [False, True], ids=["rfc", "coze"])
def test_oversized_assertions_are_refused_before_parsing(
    app, client, make_user, make_app, monkeypatch, coze
):
    owner = make_user()
    client_id, kid, pem = service_app(app, owner, make_app)
    big = assertion(client_id, kid, pem, AUDIENCE, padding="A" * MAX_ASSERTION_BYTES)
    assert len(big) > MAX_ASSERTION_BYTES
    parsed = []
    from authlib.oauth2.rfc7523 import JWTBearerGrant

    original = JWTBearerGrant.process_assertion_claims
    monkeypatch.setattr(
        JWTBearerGrant,
        "process_assertion_claims",
        lambda self, *a, **k: parsed.append(1) or original(self, *a, **k),
    )
    if coze:
        response = client.post(
            COZE_TOKEN, json={"grant_type": JWT_BEARER}, headers={"Authorization": "Bearer " + big}
        )
        assert response.json["error_code"] == "invalid_request"
    else:
        response = client.post("/oauth/token", data={"grant_type": JWT_BEARER, "assertion": big})
        assert response.json["error"] == "invalid_request"
    assert response.status_code == 400 and not parsed
    # The same app's normal-sized assertion still works.
    fine = assertion(client_id, kid, pem, AUDIENCE)
    assert client.post("/oauth/token", data={"grant_type": JWT_BEARER, "assertion": fine}).json[
        "access_token"
    ]


@pytest.mark.parametrize(
    "path, shape",
    [
        ("/oauth/token", "rfc"),
        (COZE_TOKEN, "coze"),
        ("/oauth/introspect", "rfc"),
        ("/login", "html"),
    ],
)
def test_bodies_over_64_kib_answer_413(client, path, shape):
    response = client.post(
        path,
        data=b"x=" + b"A" * (64 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    if shape != "html":
        body = response.get_json()
        assert body["error"] == "invalid_request"
        assert shape == "rfc" or body["error_code"] == "invalid_request"


# Behind a proxy ------------------------------------------------------------------------------


def test_forwarded_addresses_count_only_when_a_proxy_is_trusted(base_config, _schema, app):
    for hops, expect_separate in ((0, False), (1, True)):
        instance = create_app(
            {**base_config, "RATELIMIT_ENABLED": True, "PROXY_FIX_X_FOR": hops,
             "RATELIMIT_TOKEN_CLIENT": "1 per minute", "REDIS_URL": None}
        )  # fmt: skip
        c = instance.test_client()

        def call(forwarded: str, c=c):
            return c.post(
                "/oauth/token", data={"grant_type": "x"}, headers={"X-Forwarded-For": forwarded}
            )

        assert call("198.51.100.1").status_code == 400
        # Without a trusted proxy the header is the client's word and changes nothing.
        assert call("198.51.100.2").status_code == (400 if expect_separate else 429)
        dispose(instance)


# Through Redis: two instances count together -------------------------------------------------


@pytest.fixture
def two_instances(base_config, _schema, app):
    private = PrivateRedis()
    private.start()
    config = {**base_config, "REDIS_URL": private.url, "RATELIMIT_ENABLED": True}
    apps = [create_app(dict(config)) for _ in range(2)]
    yield apps
    for instance in apps:
        dispose(instance)
    private.kill()


def test_limits_are_shared_by_every_process_through_redis(app, two_instances, make_user, make_app):
    a, b = two_instances
    limits: dict[str, Any] = {
        "RATELIMIT_TOKEN_CLIENT": "2 per minute",
        "RATELIMIT_INTROSPECTION": "2 per minute",
        "RATELIMIT_LOGIN_ACCOUNT": "2 per 15 minutes",
    }
    for instance in (a, b):
        instance.config.update(limits)
    ca, cb = a.test_client(), b.test_client()
    owner = make_user()
    (web, secret), (other, other_secret) = make_app(owner, "web"), make_app(owner, "web")
    rs = resource_server(app)

    assert code_exchange(ca, web.client_id, secret).status_code == 400
    assert code_exchange(cb, web.client_id, secret).status_code == 400
    assert_429(code_exchange(ca, web.client_id, secret), "rfc")
    assert_429(code_exchange(cb, web.client_id, secret, coze=True), "coze")
    assert code_exchange(cb, other.client_id, other_secret).status_code == 400

    assert ca.post("/oauth/introspect", data={"token": "x"}, headers=rs).status_code == 200
    assert cb.post("/oauth/introspect", data={"token": "x"}, headers=rs).status_code == 200
    assert_429(ca.post("/oauth/introspect", data={"token": "x"}, headers=rs), "rfc")

    assert failed_login(ca, owner.email).status_code == 401
    assert failed_login(cb, owner.email).status_code == 401
    assert_429(failed_login(ca, owner.email), "html")
