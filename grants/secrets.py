"""Making and checking long random credentials: tokens, codes, client secrets, access keys.

They carry 256 bits of randomness, so a fast digest is enough to store them: a lookup stays one
indexed read. (User passwords are another matter: see server/passwords.py.)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# Short prefixes make a leaked credential recognisable (and greppable in scanners).
ACCESS_TOKEN_USER = "czu_"  # OBO: acts for a user
ACCESS_TOKEN_SERVICE = "czs_"  # AppAuth: acts as the app
REFRESH_TOKEN = "czr_"
AUTHORIZATION_CODE = "code_"
DEVICE_CODE = "czd_"
CLIENT_SECRET = "cs_"
PERSONAL_ACCESS_TOKEN = "pat_"
SERVICE_ACCESS_TOKEN = "sat_"  # a tenant's service access token
RESOURCE_SERVER_SECRET = "rss_"
REGISTRATION_TOKEN = "rat_"  # RFC 7592 registration access token


def new_secret(prefix: str) -> str:
    """A prefixed credential with 256 bits of randomness (43 base64url characters)."""
    return prefix + secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """The stored form of a credential: hex SHA-256."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def matches(value: str, stored_digest: str | None) -> bool:
    """Constant-time comparison of a presented credential with its stored digest."""
    if not stored_digest or not isinstance(value, str):
        return False
    return hmac.compare_digest(digest(value), stored_digest)
