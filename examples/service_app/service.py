"""A service app getting AppAuth tokens with its RSA key, no user involved: once in the Coze
dialect with cozepy's JWTOAuthApp, once in the RFC dialect with Authlib's JWT bearer grant
(RFC 7523).

    python -m examples.service_app.service
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import JWTBearerGrant
from cozepy import JWTOAuthApp
from joserfc.jwk import RSAKey

from examples.demo import setting

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def coze_token(server: str, client_id: str, kid: str, pem: str) -> str:
    """Coze dialect: cozepy signs the assertion and sends it as a Bearer credential."""
    oauth = JWTOAuthApp(client_id, pem, kid, base_url=server)
    return oauth.get_access_token(ttl=900).access_token


def rfc_token(server: str, client_id: str, kid: str, pem: str) -> str:
    """RFC dialect: Authlib signs the assertion (iss = sub = client_id, aud = token endpoint)."""
    token_endpoint = server + "/oauth/token"
    assertion = JWTBearerGrant.sign(
        RSAKey.import_key(pem),
        issuer=client_id,
        audience=token_endpoint,
        subject=client_id,
        header={"alg": "RS256", "kid": kid},
    )
    session = OAuth2Session(client_id, token_endpoint_auth_method="none")
    token = session.fetch_token(
        token_endpoint,
        grant_type=JWT_BEARER,
        assertion=assertion.decode() if isinstance(assertion, bytes) else assertion,
    )
    return token["access_token"]


def main() -> None:
    server = setting("OAUTH_SERVER", "url", default="http://127.0.0.1:5000")
    client_id = setting("CLIENT_ID", "apps", "service", "client_id")
    kid = setting("KEY_ID", "apps", "service", "kid")
    pem = Path(setting("PRIVATE_KEY_PATH", "apps", "service", "private_key_path")).read_text()
    for dialect, get in (("Coze", coze_token), ("RFC", rfc_token)):
        token = get(server, client_id, kid, pem)
        host = urlsplit(server).netloc
        print(f"{dialect} dialect: an AppAuth token ({len(token)} characters) from {host}")


if __name__ == "__main__":
    main()
