"""The official MCP Python SDK's client, unmodified, end to end: discovery through the sample
MCP server's protected resource metadata, dynamic registration, authorization with PKCE and
`resource` through the real pages, a tool call, refresh; then disable, enable, revoke and delete
take effect at the very next tool call, through introspection."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime

import pytest
import requests

from grants.secrets import digest
from server.credentials import create_resource_server
from server.extensions import db
from server.models import App, ResourceServer, ResourceUri
from tests.cimd_support import Answer, DocumentServer
from tests.conftest import PASSWORD
from tests.live import LiveServer, free_port
from tests.mcp_support import (
    SCOPE,
    MemoryStorage,
    Person,
    SampleServer,
    call_tool,
    introspect,
    provider,
)

# Users are made with cheap password hashing: these tests are about clients, not the KDF.
pytestmark = pytest.mark.usefixtures("fast_passwords")

SAMPLE_CREDENTIALS = ("rs_mcp_sample", "rss_" + secrets.token_urlsafe(32))


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    """An https server for Client ID Metadata Documents, with a self-signed certificate."""
    server = DocumentServer(tls_dir=tmp_path_factory.mktemp("tls"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def live_server(base_config, _schema, documents, tmp_path_factory):
    """This module's own server process: it trusts the document server's certificate and may
    fetch metadata documents from loopback (OAUTH_CIMD_ALLOW_PRIVATE_HOSTS, tests only)."""
    server = LiveServer(
        base_config,
        tmp_path_factory.mktemp("live") / "server.log",
        env={"SSL_CERT_FILE": str(documents.ca_file), "OAUTH_CIMD_ALLOW_PRIVATE_HOSTS": "true"},
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sample_process(live_server, tmp_path_factory):
    """The sample MCP server, started once for this module (its start is the slow part)."""
    running = SampleServer(
        live_server.url, *SAMPLE_CREDENTIALS, free_port(), tmp_path_factory.mktemp("mcp") / "log"
    )
    yield running
    running.stop()


@pytest.fixture
def sample(app, sample_process):
    """The sample server and its resource-server credentials, registered for its own resource
    URI in this test's (emptied) database."""
    with app.app_context():
        db.session.add(
            ResourceServer(
                id=SAMPLE_CREDENTIALS[0],
                name="MCP sample",
                secret_hash=digest(SAMPLE_CREDENTIALS[1]),
                created_at=datetime.now(UTC),
                resources=[sample_process.url],
            )
        )
        db.session.add(
            ResourceUri(uri=sample_process.url, resource_server_id=SAMPLE_CREDENTIALS[0])
        )
        db.session.commit()
    return sample_process, SAMPLE_CREDENTIALS


def _expire(auth) -> None:
    """Make the client see its access token as expired, so its next request refreshes."""
    auth.context.token_expiry_time = time.time() - 1


def test_the_mcp_sdk_registers_authorizes_and_loses_access_when_told(
    app, runner, live_server, sample, make_user, auth_header
):
    mcp, credentials = sample
    user = make_user()
    person = Person(live_server.url, user.email, PASSWORD)
    storage = MemoryStorage()
    auth = provider(mcp.url, person, storage)

    # Discovery, registration, consent, code exchange with PKCE and resource; a tool call.
    assert call_tool(mcp.url, auth) == f"user {user.id} through app {storage.client_info.client_id}"
    client_id = storage.client_info.client_id
    assert storage.client_info.client_secret is None  # a public client
    first = storage.tokens
    assert first.scope == SCOPE
    seen = introspect(live_server.url, credentials, first.access_token)
    assert seen["active"] and seen["aud"] == mcp.url and seen["client_id"] == client_id

    # Refresh: a new pair, and the tool still answers.
    _expire(auth)
    assert call_tool(mcp.url, auth).startswith("user ")
    assert storage.tokens.access_token != first.access_token
    assert person.consents == 1

    person.approve = False  # from here on, a 401 must not be papered over by a new consent
    runner.invoke(args=["apps", "disable", client_id])
    with pytest.raises(Exception):  # noqa: B017 - the SDK raises its own flow errors
        call_tool(mcp.url, auth)
    assert introspect(live_server.url, credentials, storage.tokens.access_token) == {
        "active": False
    }

    runner.invoke(args=["apps", "enable", client_id])
    assert call_tool(mcp.url, auth).startswith("user ")

    # Revoke in authorized apps: gone for good, even after a new consent.
    revoked = requests.delete(
        f"{live_server.url}/api/v1/me/authorized-apps/{client_id}",
        headers=auth_header(user),
        timeout=10,
    )
    assert revoked.status_code == 204
    old = storage.tokens
    with pytest.raises(Exception):  # noqa: B017
        call_tool(mcp.url, auth)
    person.approve = True
    assert call_tool(mcp.url, auth).startswith("user ")
    assert person.consents == 2
    assert introspect(live_server.url, credentials, old.access_token) == {"active": False}
    assert introspect(live_server.url, credentials, old.refresh_token) == {"active": False}

    # Delete: gone for good; registering again gives a new client_id.
    person.approve = False
    deleted = runner.invoke(args=["apps", "delete", client_id])
    assert deleted.exit_code == 0, deleted.output
    with pytest.raises(Exception):  # noqa: B017
        call_tool(mcp.url, auth)
    assert introspect(live_server.url, credentials, storage.tokens.access_token) == {
        "active": False
    }
    person.approve = True
    fresh = MemoryStorage()
    assert call_tool(mcp.url, provider(mcp.url, person, fresh)).startswith("user ")
    assert fresh.client_info.client_id != client_id


def test_a_token_for_the_sample_server_is_inactive_for_another_resource_server(
    app, live_server, sample, make_user
):
    mcp, credentials = sample
    user = make_user()
    person = Person(live_server.url, user.email, PASSWORD)
    storage = MemoryStorage()
    call_tool(mcp.url, provider(mcp.url, person, storage))
    with app.app_context():
        other, secret = create_resource_server("another API", ["https://api.example.com/"])
        db.session.commit()
        other_credentials = (other.id, secret)
    token = storage.tokens.access_token
    assert introspect(live_server.url, other_credentials, token) == {"active": False}
    assert introspect(live_server.url, credentials, token)["active"] is True


def test_the_mcp_sdk_through_a_client_id_metadata_document(
    app, runner, live_server, sample, make_user, documents
):
    mcp, credentials = sample
    user = make_user()
    person = Person(live_server.url, user.email, PASSWORD)
    redirect_port = free_port()
    url = documents.url("/agent/client.json")
    documents.answers["/agent/client.json"] = Answer(
        json.dumps(
            {
                "client_id": url,
                "client_name": "Document Agent",
                "redirect_uris": [f"http://localhost:{redirect_port}/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "scope": SCOPE,
            }
        ).encode(),
        headers={"Cache-Control": "max-age=300"},
    )
    storage = MemoryStorage()
    auth = provider(mcp.url, person, storage, metadata_url=url, redirect_port=redirect_port)
    answer = call_tool(mcp.url, auth)
    assert storage.client_info.client_id == url  # no registration call: the URL is the id
    with app.app_context():
        row = db.session.query(App).filter_by(metadata_url=url).one()
        assert row.registration == "metadata_document"
    assert answer == f"user {user.id} through app {row.client_id}"
    _expire(auth)
    assert call_tool(mcp.url, auth).startswith("user ")
    person.approve = False
    runner.invoke(args=["apps", "disable", row.client_id])
    with pytest.raises(Exception):  # noqa: B017 - the SDK raises its own flow errors
        call_tool(mcp.url, auth)
    assert introspect(live_server.url, credentials, storage.tokens.access_token) == {
        "active": False
    }
    assert documents.hits["/agent/client.json"] == 1
