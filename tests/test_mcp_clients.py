"""The official MCP Python SDK's client, unmodified, end to end: discovery through the sample
MCP server's protected resource metadata, dynamic registration, authorization with PKCE and
`resource` through the real pages, a tool call, refresh; then disable, enable, revoke and delete
take effect at the very next tool call, through introspection."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

import pytest
import requests

from grants.secrets import digest
from server.credentials import create_resource_server
from server.extensions import db
from server.models import ResourceServer, ResourceUri
from tests.conftest import PASSWORD
from tests.live import free_port
from tests.mcp_support import (
    SCOPE,
    MemoryStorage,
    Person,
    SampleServer,
    call_tool,
    introspect,
    provider,
)

SAMPLE_CREDENTIALS = ("rs_mcp_sample", "rss_" + secrets.token_urlsafe(32))


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
