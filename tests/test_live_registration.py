"""Authlib's own client against a running server: it registers (RFC 7591, its metadata read from
the discovery document), then completes the code flow with PKCE and an RFC 8707 resource."""

from __future__ import annotations

import secrets

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from server.credentials import create_resource_server
from server.extensions import db
from tests.conftest import PASSWORD
from tests.oauth_support import Browser, query

# Users are made with cheap password hashing: these tests are about clients, not the KDF.
pytestmark = pytest.mark.usefixtures("fast_passwords")

RESOURCE = "https://api.example.com/v1"
REDIRECT = "http://127.0.0.1:8912/callback"


def test_authlib_registers_and_completes_the_code_flow_with_resource(app, live_server, make_user):
    with app.app_context():
        server, secret = create_resource_server("api", [RESOURCE])
        db.session.commit()
        credentials = (server.id, secret)
    user = make_user()
    person = Browser(base_url=live_server.url)
    person.login(user.email, PASSWORD)

    metadata = requests.get(
        live_server.url + "/.well-known/oauth-authorization-server", timeout=10
    ).json()
    registered = requests.post(
        metadata["registration_endpoint"],
        json={
            "client_name": "Authlib client",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "Bot.read",
        },
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    info = registered.json()

    session = OAuth2Session(
        info["client_id"],
        info["client_secret"],
        redirect_uri=REDIRECT,
        scope="Bot.read",
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = secrets.token_urlsafe(48)
    url, _ = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, resource=RESOURCE
    )
    location = person.authorize(url)
    assert query(location)["iss"] == metadata["issuer"]
    token = session.fetch_token(
        metadata["token_endpoint"],
        authorization_response=location,
        code_verifier=verifier,
        resource=RESOURCE,
    )
    seen = requests.post(
        metadata["introspection_endpoint"],
        data={"token": token["access_token"]},
        auth=credentials,
        timeout=10,
    ).json()
    assert seen["active"] and seen["aud"] == RESOURCE and seen["client_id"] == info["client_id"]
    refreshed = session.refresh_token(metadata["token_endpoint"], resource=RESOURCE)
    assert refreshed["access_token"] != token["access_token"]
