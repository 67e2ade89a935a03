"""The official MCP Python SDK's client (unmodified) against a live server and the sample MCP
server of examples/mcp_server: a person who signs in and approves through the real pages over
HTTP, a token store the test can look into, and the sample server as a process."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx2
import requests
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from tests.live import ROOT, LiveProcess, free_port
from tests.oauth_support import Browser, query

SCOPE = "Connector.botChat"


class MemoryStorage:
    """The SDK's TokenStorage protocol, kept in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class Person:
    """Plays the browser the MCP client opens: signs in, approves, hands back the redirect.

    `approve` False makes the client's authorization attempt fail without a consent (the
    person walks away), so a test sees whether the old tokens alone still work."""

    def __init__(self, base_url: str, email: str, password: str) -> None:
        self.browser = Browser(base_url)
        self.browser.login(email, password)
        self.approve = True
        self.consents = 0
        self._location: str | None = None

    async def redirect(self, authorization_url: str) -> None:
        self._location = None
        if not self.approve:
            raise RuntimeError("the person did not approve")
        self._location = await anyio.to_thread.run_sync(self.browser.authorize, authorization_url)
        self.consents += 1

    async def callback(self) -> AuthorizationCodeResult:
        answer = query(self._location or "")
        if "code" not in answer:
            raise RuntimeError(f"authorization refused: {answer}")
        return AuthorizationCodeResult(
            code=answer["code"], state=answer.get("state"), iss=answer.get("iss")
        )


def provider(
    mcp_url: str,
    person: Person,
    storage: MemoryStorage,
    metadata_url: str | None = None,
    redirect_port: int | None = None,
) -> OAuthClientProvider:
    redirect_port = redirect_port or free_port()
    metadata = OAuthClientMetadata(
        client_name="SDK test agent",
        redirect_uris=[f"http://localhost:{redirect_port}/callback"],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=metadata,
        storage=storage,
        redirect_handler=person.redirect,
        callback_handler=person.callback,
        client_metadata_url=metadata_url,
    )


def call_tool(mcp_url: str, auth: OAuthClientProvider) -> str:
    """One session: initialize, call the sample's tool, return its text."""

    async def run() -> str:
        async with (
            httpx2.AsyncClient(auth=auth, timeout=30) as http,
            streamable_http_client(mcp_url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            result = await session.call_tool("whoami", {})
            return result.content[0].text

    return run_async(run)


def run_async(run: Any) -> Any:
    """anyio.run in a thread of its own: the browser tests' Playwright keeps an event loop
    running in the main thread for the whole session, and a thread has none."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, run).result()


class SampleServer(LiveProcess):
    """examples/mcp_server/server.py as a process on a free loopback port."""

    def __init__(self, issuer: str, server_id: str, secret: str, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}/mcp"
        env = dict(os.environ)
        env.update(
            MCP_ISSUER=issuer,
            MCP_PORT=str(port),
            MCP_RS_ID=server_id,
            MCP_RS_SECRET=secret,
            MCP_SCOPE=SCOPE,
        )
        command = [sys.executable, str(ROOT / "examples" / "mcp_server" / "server.py")]
        ready = f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"
        super().__init__(command, ready, log, env)


def introspect(issuer: str, credentials: tuple[str, str], token: str) -> dict[str, Any]:
    return requests.post(
        issuer + "/oauth/introspect", data={"token": token}, auth=credentials, timeout=10
    ).json()
