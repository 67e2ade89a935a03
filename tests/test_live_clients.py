"""Every flow driven by real, unmodified clients against a real server process: the official
cozepy SDK in the Coze dialect and Authlib's OAuth2Session in the RFC dialect."""

from __future__ import annotations

import secrets
import threading
import time

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import JWTBearerGrant
from cozepy import (
    DeviceOAuthApp,
    JWTAuth,
    JWTOAuthApp,
    PKCEOAuthApp,
    Scope,
    WebOAuthApp,
)
from cozepy.exception import CozeAPIError, CozePKCEAuthError
from joserfc.jwk import RSAKey

from server import clients
from server.extensions import db
from server.models import User
from tests.oauth_support import (
    DEVICE_CODE,
    JWT_BEARER,
    REDIRECT_URI,
    Browser,
    query,
    service_app,
)


@pytest.fixture
def person_browser(live_server):
    """`person` (tests/conftest.py) signs in over HTTP to the live server."""
    return Browser(base_url=live_server.url)


# cozepy, Coze dialect ------------------------------------------------------------------


def test_cozepy_web_app_with_refresh(live_server, person, make_app, introspect):
    created, secret = make_app(person.user, "web")
    oauth = WebOAuthApp(created.client_id, secret, base_url=live_server.url)
    url = oauth.get_oauth_url(REDIRECT_URI, state="st")
    params = query(person.authorize(url))
    assert params["state"] == "st"
    token = oauth.get_access_token(REDIRECT_URI, params["code"])
    assert token.expires_in > time.time() + 800 and token.refresh_token
    assert introspect(token.access_token)["sub"] == str(person.user.id)
    refreshed = oauth.refresh_access_token(token.refresh_token)
    assert refreshed.access_token != token.access_token
    assert introspect(refreshed.access_token)["active"]
    assert not introspect(token.refresh_token)["active"]
    with pytest.raises(CozeAPIError) as caught:
        oauth.refresh_access_token(token.refresh_token)
    assert "invalid_grant" in str(caught.value) or caught.value.msg


@pytest.mark.parametrize("method", ["plain", "S256"])
def test_cozepy_pkce_app(live_server, person, make_app, introspect, method):
    created, _ = make_app(person.user, "pkce")
    oauth = PKCEOAuthApp(created.client_id, base_url=live_server.url)
    verifier = secrets.token_urlsafe(24)
    url = oauth.get_oauth_url(REDIRECT_URI, verifier, code_challenge_method=method, state="p")
    code = query(person.authorize(url))["code"]
    token = oauth.get_access_token(REDIRECT_URI, code, verifier)
    assert introspect(token.access_token)["app_type"] == "pkce"
    refreshed = oauth.refresh_access_token(token.refresh_token)
    assert introspect(refreshed.access_token)["active"]


def test_cozepy_device_app_polls_until_approved(live_server, person, make_app, introspect):
    created, _ = make_app(person.user, "device")
    oauth = DeviceOAuthApp(created.client_id, base_url=live_server.url)
    code = oauth.get_device_code()
    assert code.verification_url.endswith("?user_code=" + code.user_code)
    outcome: dict = {}

    def person_approves() -> None:
        time.sleep(1)
        outcome["status"] = person.approve_device(code.user_code)[0]

    helper = threading.Thread(target=person_approves)
    helper.start()
    token = oauth.get_access_token(code.device_code, poll=True)
    helper.join()
    assert outcome["status"] == 200
    assert introspect(token.access_token)["app_type"] == "device"
    assert introspect(oauth.refresh_access_token(token.refresh_token).access_token)["active"]


def test_cozepy_device_denied(live_server, person, make_app):
    created, _ = make_app(person.user, "device")
    oauth = DeviceOAuthApp(created.client_id, base_url=live_server.url)
    code = oauth.get_device_code()
    assert person.approve_device(code.user_code, decision="deny")[0] == 200
    with pytest.raises(CozePKCEAuthError) as caught:
        oauth.get_access_token(code.device_code, poll=True)
    assert caught.value.error == "access_denied"


def test_cozepy_jwt_app_and_jwt_auth(app, live_server, make_user, make_app, introspect):
    owner = make_user()
    client_id, kid, pem = service_app(app, owner, make_app)
    oauth = JWTOAuthApp(client_id, pem, kid, base_url=live_server.url)
    token = oauth.get_access_token(ttl=86399, session_name="visitor-7")
    assert token.expires_in >= int(time.time()) + 86390 and not token.refresh_token
    info = introspect(token.access_token)
    assert info["session_name"] == "visitor-7" and info["auth_type"] == "appauth"
    assert info["exp"] - info["iat"] == 86399

    auth = JWTAuth(client_id, pem, kid, ttl=900, base_url=live_server.url)
    first = auth.token
    assert auth.token == first  # reused while not expired: expires_in is absolute
    assert introspect(first)["active"]


def test_cozepy_jwt_cross_account(app, live_server, make_user, make_app, introspect):
    owner, other = make_user(), make_user()
    client_id, kid, pem = service_app(app, owner, make_app)
    with app.app_context():
        from server.accounts import personal_tenant

        tenant_id = personal_tenant(other.id).id
        clients.install(db.session.get(User, other.id), tenant_id, client_id, "appauth")
        db.session.commit()
    oauth = JWTOAuthApp(client_id, pem, kid, base_url=live_server.url)
    # cozepy 0.20 has no account_id parameter; it still makes the assertion, sent as Coze does.
    jwt = oauth._gen_jwt(kid, pem, 3600)
    response = requests.post(
        f"{live_server.url}/api/permission/oauth2/account/{tenant_id}/token",
        json={"grant_type": JWT_BEARER, "duration_seconds": 900},
        headers={"Authorization": f"Bearer {jwt}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert introspect(response.json()["access_token"])["tenant_id"] == str(tenant_id)


def test_cozepy_disabled_app_gets_access_deny(app, live_server, make_user, make_app):
    owner = make_user()
    client_id, kid, pem = service_app(app, owner, make_app)
    with app.app_context():
        clients.set_status(db.session.get(User, owner.id), client_id, "disabled")
        db.session.commit()
    with pytest.raises(CozeAPIError) as caught:
        JWTOAuthApp(client_id, pem, kid, base_url=live_server.url).get_access_token()
    assert "deactivated" in caught.value.msg and caught.value.logid


def test_cozepy_channel_app_with_bot_chat_scope(app, live_server, make_user, make_app, introspect):
    from server import connectors
    from tests.api_helpers import make_team

    owner = make_user()
    team = make_team(app, owner)
    client_id, kid, pem = service_app(
        app, owner, make_app, tenant_id=team, app_kind="channel", permissions=["Connector.botChat"]
    )
    oauth = JWTOAuthApp(client_id, pem, kid, base_url=live_server.url)
    with pytest.raises(CozeAPIError) as caught:
        oauth.get_access_token(scope=Scope.build_bot_chat(["7351"]))
    assert caught.value.msg == "connector app should bind connector id"
    with app.app_context():
        actor = db.session.get(User, owner.id)
        connector_id = connectors.create_connector(actor, team, name="Shop").id
        clients.update_app(actor, client_id, connector_id=connector_id)
        db.session.commit()
    token = oauth.get_access_token(scope=Scope.build_bot_chat(["7351", "7352"]))
    info = introspect(token.access_token)
    assert (info["app_kind"], info["connector_id"]) == ("channel", str(connector_id))
    assert info["bot_id_list"] == ["7351", "7352"] and info["scope"] == "Connector.botChat"
    unconstrained = introspect(oauth.get_access_token(scope=Scope.build_bot_chat([])).access_token)
    assert unconstrained["active"] and "bot_id_list" not in unconstrained


# Authlib's client, RFC dialect -----------------------------------------------------------


def test_authlib_code_flow_with_pkce_and_refresh(live_server, person, make_app, introspect):
    created, secret = make_app(person.user, "web")
    session = OAuth2Session(
        created.client_id,
        secret,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = secrets.token_urlsafe(48)
    url, state = session.create_authorization_url(
        live_server.url + "/oauth/authorize", code_verifier=verifier
    )
    location = person.authorize(url)
    assert query(location)["iss"] == live_server.url
    token = session.fetch_token(
        live_server.url + "/oauth/token", authorization_response=location, code_verifier=verifier
    )
    assert token["expires_in"] == 900 and introspect(token["access_token"])["active"]
    refreshed = session.refresh_token(live_server.url + "/oauth/token")
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert introspect(refreshed["access_token"])["active"]
    session.revoke_token(live_server.url + "/oauth/revoke", refreshed["refresh_token"])
    assert not introspect(refreshed["access_token"])["active"]


def test_authlib_public_pkce_client(live_server, person, make_app, introspect):
    created, _ = make_app(person.user, "pkce")
    session = OAuth2Session(
        created.client_id,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = secrets.token_urlsafe(48)
    url, _ = session.create_authorization_url(
        live_server.url + "/oauth/authorize", code_verifier=verifier
    )
    token = session.fetch_token(
        live_server.url + "/oauth/token",
        authorization_response=person.authorize(url),
        code_verifier=verifier,
    )
    refreshed = session.refresh_token(live_server.url + "/oauth/token")
    assert introspect(refreshed["access_token"])["app_type"] == "pkce"
    assert not introspect(token["refresh_token"])["active"]


def test_authlib_device_grant(live_server, person, make_app, introspect):
    created, _ = make_app(person.user, "device")
    session = OAuth2Session(created.client_id, token_endpoint_auth_method="none")
    started = session.post(
        live_server.url + "/oauth/device_authorization",
        data={"client_id": created.client_id},
        withhold_token=True,
    ).json()
    assert person.approve_device(started["user_code"])[0] == 200
    token = session.fetch_token(
        live_server.url + "/oauth/token",
        grant_type=DEVICE_CODE,
        device_code=started["device_code"],
    )
    assert introspect(token["access_token"])["app_type"] == "device"


def test_authlib_jwt_bearer_grant(app, live_server, make_user, make_app, introspect):
    owner = make_user()
    client_id, kid, pem = service_app(app, owner, make_app)
    signed = JWTBearerGrant.sign(
        RSAKey.import_key(pem),
        issuer=client_id,
        audience=live_server.url + "/oauth/token",
        subject=client_id,
        header={"alg": "RS256", "kid": kid},
    )
    session = OAuth2Session(client_id, token_endpoint_auth_method="none")
    token = session.fetch_token(
        live_server.url + "/oauth/token",
        grant_type=JWT_BEARER,
        assertion=signed.decode() if isinstance(signed, bytes) else signed,
    )
    assert token["expires_in"] == 900 and "refresh_token" not in token
    assert introspect(token["access_token"])["auth_type"] == "appauth"
