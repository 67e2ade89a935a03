"""Client ID Metadata Documents: an https client_id is fetched, checked and becomes an app; the
fetch is guarded against SSRF (tested with a stand-in resolver, never real outside addresses),
bounded in size and time, cached as its headers allow and done once for concurrent requests."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlencode

import pytest

from server import cimd
from server.extensions import db
from server.models import App
from tests.cimd_support import Answer, DocumentServer
from tests.conftest import PASSWORD
from tests.oauth_support import Browser, query, resource_server
from tests.test_registration import pkce

# Users are made with cheap password hashing: these tests are about clients, not the KDF.
pytestmark = pytest.mark.usefixtures("fast_passwords")

CALLBACK = "http://127.0.0.1:4321/callback"


@pytest.fixture
def documents(app):
    server = DocumentServer()
    app.config.update(OAUTH_CIMD_ALLOW_PRIVATE_HOSTS=True, OAUTH_CIMD_READ_TIMEOUT=1)
    yield server
    server.stop()


def publish(server: DocumentServer, path: str = "/agent.json", headers=None, **fields) -> str:
    url = server.url(path)
    document = {
        "client_id": url,
        "client_name": "Doc Agent",
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **fields,
    }
    document = {k: v for k, v in document.items() if v is not None}
    server.answers[path] = Answer(json.dumps(document).encode(), headers=headers)
    return url


def authorize_url(client_id: str, challenge: str, redirect_uri: str = CALLBACK) -> str:
    return "/oauth/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )


@pytest.fixture
def browser(client, make_user):
    user = make_user()
    person = Browser(client=client)
    person.login(user.email, PASSWORD)
    return person


def test_a_metadata_document_client_completes_the_code_flow(app, client, browser, documents):
    url = publish(documents)
    verifier, challenge = pkce()
    status, _, html = browser.open_consent(authorize_url(url, challenge))
    assert status == 200
    assert "Doc Agent" in html and "registered itself" in html and "127.0.0.1" in html
    status, headers, _ = browser.decide(html)
    answer = query(headers["Location"])
    issued = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": CALLBACK,
            "client_id": url,
            "code_verifier": verifier,
        },
    )
    assert issued.status_code == 200, issued.json
    refreshed = client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": issued.json["refresh_token"],
            "client_id": url,
        },
    )
    assert refreshed.status_code == 200, refreshed.json
    with app.app_context():
        row = db.session.query(App).filter_by(metadata_url=url).one()
        assert row.registration == "metadata_document" and row.tenant_id is None
    seen = client.post(
        "/oauth/introspect",
        data={"token": refreshed.json["access_token"]},
        headers=resource_server(app),
    ).json
    assert seen["active"] and seen["client_id"] == row.client_id
    # Cached: the document was fetched once for all of that.
    assert documents.hits["/agent.json"] == 1


def test_the_redirect_uri_must_be_one_of_the_documents(browser, documents):
    url = publish(documents)
    _, challenge = pkce()
    status, headers, _ = browser.get(authorize_url(url, challenge, "http://127.0.0.1:4321/other"))
    assert status == 400 and "Location" not in headers


@pytest.mark.parametrize(
    "fields",
    [
        {"client_id": "https://elsewhere.example.com/agent.json"},
        {"client_name": None},
        {"redirect_uris": ["https://app.example.com/cb#frag"]},
        {"redirect_uris": []},
        {"token_endpoint_auth_method": "client_secret_basic"},
        {"client_secret": "s3cret"},
        {"grant_types": ["client_credentials"]},
        {"scope": "Not.aPermission"},
    ],
)
def test_an_invalid_document_ends_at_an_error_page_or_invalid_client(
    client, browser, documents, fields
):
    url = publish(documents, **fields)
    _, challenge = pkce()
    status, headers, html = browser.get(authorize_url(url, challenge))
    assert status in (400, 401) and "Location" not in headers
    assert "metadata document" in html
    token = client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": "code_x", "client_id": url},
    )
    assert token.status_code == 401 and token.json["error"] == "invalid_client"


@pytest.mark.parametrize(
    "answer",
    [
        Answer(b"{}", status=500),
        Answer(b"not json"),
        Answer(b"[]"),
        Answer(b" " * 6000),  # over the size cap, announced
        Answer(b" " * 6000, headers={"Content-Length": ""}),  # over the size cap, unannounced
    ],
)
def test_a_bad_answer_is_refused_never_a_5xx(client, documents, answer):
    documents.answers["/bad.json"] = answer
    url = documents.url("/bad.json")
    token = client.post(
        "/oauth/token", data={"grant_type": "authorization_code", "code": "c", "client_id": url}
    )
    assert token.status_code == 401 and token.json["error"] == "invalid_client"


def test_a_slow_document_is_refused_within_its_limit(client, documents):
    url = publish(documents)
    documents.answers["/agent.json"].delay = 3
    started = time.monotonic()
    token = client.post(
        "/oauth/token", data={"grant_type": "authorization_code", "code": "c", "client_id": url}
    )
    assert token.status_code == 401 and "timed out" in token.json["error_description"]
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1"])
def test_a_host_resolving_to_a_private_address_is_refused(app, client, monkeypatch, address):
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return [address]

    monkeypatch.setattr(cimd, "resolve", resolver)
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": "c",
            "client_id": "https://agent.example.com/client.json",
        },
    )
    assert token.status_code == 401
    assert "private, loopback or link-local" in token.json["error_description"]
    assert asked == ["agent.example.com"]


def test_redirects_to_forbidden_addresses_are_refused(app, client, documents, monkeypatch):
    real = cimd.resolve

    def resolver(host: str, port: int) -> list[str]:
        return ["169.254.169.254"] if host == "metadata.internal" else real(host, port)

    monkeypatch.setattr(cimd, "resolve", resolver)
    for path, target in (
        ("/to-metadata.json", "http://metadata.internal/latest/meta-data"),
        ("/to-multicast.json", "http://[ff02::1]/x"),
    ):
        documents.answers[path] = Answer(b"", status=302, headers={"Location": target})
        token = client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": "c",
                "client_id": documents.url(path),
            },
        )
        assert token.status_code == 401
        assert "private, loopback or link-local" in token.json["error_description"]


def test_http_and_loopback_need_the_private_hosts_setting(app, client, documents):
    url = publish(documents)
    app.config["OAUTH_CIMD_ALLOW_PRIVATE_HOSTS"] = False
    token = client.post(
        "/oauth/token", data={"grant_type": "authorization_code", "code": "c", "client_id": url}
    )
    assert token.status_code == 401 and documents.hits.get("/agent.json") is None


def test_cache_control_is_obeyed(app, documents):
    kept = publish(documents, "/kept.json", headers={"Cache-Control": "max-age=60"})
    fresh = publish(documents, "/fresh.json", headers={"Cache-Control": "no-store"})
    with app.test_request_context():
        for _ in range(2):
            cimd.document(kept)
    assert documents.hits["/kept.json"] == 1
    for _ in range(2):
        with app.test_request_context():
            cimd.document(fresh)
        time.sleep(1.1)  # what a no-store document leaves behind lasts one second, for waiters
    assert documents.hits["/fresh.json"] == 2


def test_concurrent_requests_share_one_fetch(app, documents):
    url = publish(documents)
    documents.answers["/agent.json"].delay = 0.5
    results: list[str] = []

    def ask() -> None:
        with app.test_request_context():
            results.append(cimd.document(url)["client_name"])

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["Doc Agent"] * 5
    assert documents.hits["/agent.json"] == 1


def test_cimd_off_is_obeyed(app, client, documents):
    url = publish(documents)
    app.config["OAUTH_CIMD"] = "off"
    token = client.post(
        "/oauth/token", data={"grant_type": "authorization_code", "code": "c", "client_id": url}
    )
    assert token.status_code == 401
    found = client.get("/.well-known/oauth-authorization-server").json
    assert found["client_id_metadata_document_supported"] is False
