"""No secret and no token in the logs: every flow of both dialects and the management API run
with every logger at DEBUG (Authlib's and SQLAlchemy's included), in process and in a server
process, then the captured logs are searched for every credential the run handed out."""

from __future__ import annotations

import logging
import re
import secrets

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from server.pages.words import CLIENT_TYPES  # noqa: F401 - the pages are loaded as in a real run
from tests.api_helpers import personal_id
from tests.conftest import PASSWORD
from tests.oauth_support import (
    DEVICE_CODE,
    JWT_BEARER,
    REDIRECT_URI,
    Browser,
    assertion,
    authorize_url,
    basic,
    code_form,
    exchange_code,
    query,
    resource_server,
    service_app,
)


def _credentials_in(body: dict) -> list[str]:
    keys = ("access_token", "refresh_token", "client_secret", "private_key", "device_code",
            "user_code", "token", "secret")  # fmt: skip
    return [body[k] for k in keys if isinstance(body.get(k), str)]


def _assert_absent(text: str, found: list[str]) -> None:
    assert len(found) >= 15, found
    for value in found:
        # The whole credential, and its random part alone (without the type prefix).
        for needle in {value, value.split("_", 1)[-1]}:
            if len(needle) >= 12:
                assert needle not in text, f"a credential ({value[:6]}...) reached the logs"


def test_no_credential_reaches_the_logs_in_process(
    app, client, make_user, make_app, auth_header, caplog
):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    found: list[str] = [PASSWORD]
    owner = make_user()
    headers = auth_header(owner)
    found.append(headers["Authorization"].split()[1])
    rs = resource_server(app)
    found.append(rs["Authorization"].split()[1])

    # Management API: a web app's secret, a rotation, a service app's private key.
    tenant = personal_id(app, owner)
    web = client.post(
        f"/api/v1/tenants/{tenant}/apps",
        json={"name": "Web", "client_type": "web", "redirect_uris": [REDIRECT_URI]},
        headers=headers,
    ).json
    found += _credentials_in(web)
    rotated = client.post(f"/api/v1/apps/{web['client_id']}/secret", headers=headers).json
    secret = rotated["client_secret"]
    found.append(secret)
    service_id, kid, pem = service_app(app, owner, make_app)
    found.append(pem.split("-----")[2].strip().splitlines()[1])
    key = client.post(f"/api/v1/apps/{service_id}/keys", headers=headers).json
    found.append(key["private_key"].split("-----")[2].strip().splitlines()[1])

    # A failed sign-in with a password typed, then the code flow, refresh, introspect, revoke.
    browser = Browser(client=client)
    wrong = secrets.token_urlsafe(16)
    found.append(wrong)
    client.post("/login", data={"email": owner.email, "password": wrong})
    browser.login(owner.email, PASSWORD)
    code = query(browser.authorize(authorize_url(web["client_id"])))["code"]
    found.append(code)
    tokens = exchange_code(client, web["client_id"], secret, code).json
    found += _credentials_in(tokens)
    # A replayed code (an error path that logs), then refresh on the Coze dialect.
    exchange_code(client, web["client_id"], secret, code)
    tokens = client.post(
        "/api/permission/oauth2/token",
        json={"grant_type": "authorization_code", "client_id": web["client_id"], "code": "x"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    pkce, _ = make_app(owner, "pkce")
    # S256: the verifier is a secret (a `plain` challenge is the verifier, sent in the URL).
    verifier = secrets.token_urlsafe(32)
    found.append(verifier)
    url = authorize_url(pkce.client_id, code_challenge=create_s256_code_challenge(verifier),
                        code_challenge_method="S256")  # fmt: skip
    code = query(browser.authorize(url))["code"]
    found.append(code)
    pkce_tokens = client.post(
        "/oauth/token",
        data={**code_form(code), "client_id": pkce.client_id, "code_verifier": verifier},
    ).json  # fmt: skip
    found += _credentials_in(pkce_tokens)
    refreshed = client.post(
        "/api/permission/oauth2/token",
        json={"grant_type": "refresh_token", "client_id": pkce.client_id,
              "refresh_token": pkce_tokens["refresh_token"]},
    ).json  # fmt: skip
    found += _credentials_in(refreshed)
    for token in (refreshed["access_token"], "czu_" + secrets.token_urlsafe(32)):
        client.post("/oauth/introspect", data={"token": token}, headers=rs)
    client.post(
        "/oauth/revoke",
        data={"token": refreshed["refresh_token"], "client_id": pkce.client_id},
    )

    # Device flow.
    device, _ = make_app(owner, "device")
    started = client.post("/oauth/device_authorization", data={"client_id": device.client_id}).json
    found += _credentials_in(started)
    browser.approve_device(started["user_code"])
    polled = client.post(
        "/oauth/token",
        data={"grant_type": DEVICE_CODE, "device_code": started["device_code"],
              "client_id": device.client_id},
    ).json  # fmt: skip
    found += _credentials_in(polled)

    # JWT bearer, both dialects; a replay is refused (and logged as such).
    signed = assertion(service_id, kid, pem, "localhost")
    found.append(signed.split(".")[2])
    jwt_tokens = client.post(
        "/api/permission/oauth2/token",
        json={"grant_type": JWT_BEARER},
        headers={"Authorization": "Bearer " + signed},
    ).json
    found += _credentials_in(jwt_tokens)
    client.post("/oauth/token", data={"grant_type": JWT_BEARER, "assertion": signed})

    assert caplog.records, "nothing was logged: the test would prove nothing"
    text = caplog.text + "\n".join(repr(r.__dict__) for r in caplog.records)
    _assert_absent(text, found)


def test_no_credential_reaches_a_server_process_log(app, live_server, make_user, make_app):
    owner = make_user()
    rs = resource_server(app)
    web, secret = make_app(owner, "web")
    service_id, kid, pem = service_app(app, owner, make_app)
    found = [secret, rs["Authorization"].split()[1]]
    audience = live_server.url.split("//")[1]
    browser = Browser(base_url=live_server.url)
    browser.login(owner.email, PASSWORD)
    code = query(browser.authorize(authorize_url(web.client_id)))["code"]
    found.append(code)
    tokens = requests.post(
        live_server.url + "/oauth/token",
        data=code_form(code),
        headers=basic(web.client_id, secret),
        timeout=10,
    ).json()
    found += _credentials_in(tokens)
    minted = requests.post(
        live_server.url + "/api/permission/oauth2/token",
        json={"grant_type": JWT_BEARER},
        headers={"Authorization": "Bearer " + assertion(service_id, kid, pem, audience)},
        timeout=10,
    ).json()
    found += _credentials_in(minted)
    for token in (tokens["access_token"], tokens["refresh_token"], minted["access_token"]):
        requests.post(
            live_server.url + "/oauth/introspect", data={"token": token}, headers=rs, timeout=10
        )
    # Query strings carry codes and states: a request with one in its URL.
    requests.get(f"{live_server.url}/device?user_code={code}", timeout=10)
    live_server.log.flush()
    with open(live_server.log.name) as log:
        text = log.read()
    assert re.search(r"POST /oauth/token 200", text), "the request log is missing"
    found += [PASSWORD] * 12  # pad: the helper insists on a real haul
    _assert_absent(text, found)
