"""A small MCP server whose tools this authorization server protects.

It serves its RFC 9728 protected resource metadata (naming our issuer), answers a request
without a valid token with 401 and the `WWW-Authenticate` challenge, and checks every bearer
token by introspection with its resource-server credentials: the token must be active and
issued for this server's own resource URI (RFC 8707 audience).

    flask --app wsgi resource-servers create "MCP sample" --resource http://127.0.0.1:8001/mcp
    MCP_RS_ID=rs_... MCP_RS_SECRET=rss_... python examples/mcp_server/server.py

Settings (environment): MCP_ISSUER (default http://127.0.0.1:5000), MCP_HOST, MCP_PORT
(default 127.0.0.1:8001), MCP_SCOPE (the permission its tools need; default Connector.botChat).
"""

from __future__ import annotations

import os

import httpx2
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer


class IntrospectionVerifier:
    """Asks the authorization server (RFC 7662) about each token, as this resource server."""

    def __init__(self, issuer: str, server_id: str, secret: str, resource: str) -> None:
        self.endpoint = issuer.rstrip("/") + "/oauth/introspect"
        self.credentials = (server_id, secret)
        self.resource = resource

    async def verify_token(self, token: str) -> AccessToken | None:
        async with httpx2.AsyncClient(timeout=10) as http:
            answer = await http.post(
                self.endpoint, data={"token": token}, auth=httpx2.BasicAuth(*self.credentials)
            )
        if answer.status_code != 200:
            return None
        claims = answer.json()
        audience = claims.get("aud")
        audience = [audience] if isinstance(audience, str) else audience or []
        # The authorization server shows us only tokens for our own URIs; check all the same.
        if not claims.get("active") or self.resource not in audience:
            return None
        return AccessToken(
            token=token,
            client_id=claims["client_id"],
            scopes=claims.get("scope", "").split(),
            expires_at=claims.get("exp"),
            resource=self.resource,
            subject=claims.get("sub"),
        )


def build(issuer: str, host: str, port: int, server_id: str, secret: str, scope: str) -> MCPServer:
    resource = f"http://{host}:{port}/mcp"
    server = MCPServer(
        "sample",
        token_verifier=IntrospectionVerifier(issuer, server_id, secret, resource),
        auth=AuthSettings(
            issuer_url=issuer,
            resource_server_url=resource,
            required_scopes=[scope],
            validate_token_resource=True,
        ),
    )

    @server.tool()
    def whoami() -> str:
        """Say which user and app the token acts for."""
        token = get_access_token()
        return f"user {token.subject} through app {token.client_id}" if token else "nobody"

    return server


def main() -> None:
    host = os.environ.get("MCP_HOST", "127.0.0.1")
    port = int(os.environ.get("MCP_PORT", "8001"))
    server = build(
        os.environ.get("MCP_ISSUER", "http://127.0.0.1:5000"),
        host,
        port,
        os.environ["MCP_RS_ID"],
        os.environ["MCP_RS_SECRET"],
        os.environ.get("MCP_SCOPE", "Connector.botChat"),
    )
    server.run(transport="streamable-http", host=host, port=port)


if __name__ == "__main__":
    main()
