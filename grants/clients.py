"""An app as Authlib sees it: which grants, auth methods and redirect URIs it may use.

What an app may do follows from its client_type alone, decided here and nowhere else (and, for
loopback redirect URIs, from whether it registered itself).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin

from grants.access import AppView
from grants.secrets import digest, matches

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"

GRANT_TYPES = {
    "web": {"authorization_code", "refresh_token"},
    "pkce": {"authorization_code", "refresh_token"},
    "device": {DEVICE_CODE, "refresh_token"},
    "service": {JWT_BEARER},
}
# Web apps authenticate with their secret; public apps (pkce, device) send none.
AUTH_METHODS = {
    "web": {"client_secret_basic", "client_secret_post"},
    "pkce": {"none"},
    "device": {"none"},
    "service": set(),
}


# Compared against when an app has no (previous) secret: the digest of no presentable value.
_NO_SECRET = digest("\x00")


@dataclass(frozen=True, slots=True)
class Client(ClientMixin):
    client_id: str
    client_type: str
    status: str
    name: str
    tenant_id: int | None  # None for a self-registered app: no tenant owns it
    redirect_uris: tuple[str, ...]
    permissions: tuple[str, ...]
    client_secret_hash: str | None
    app_kind: str = "normal"
    connector_binding: int | None = None
    # A rotated-away secret that still authenticates until `previous_secret_until` (UNIX time).
    previous_secret_hash: str | None = None
    previous_secret_until: int | None = None
    registration: str = "managed"  # or "dynamic" (RFC 7591), "metadata_document" (CIMD)

    @property
    def self_registered(self) -> bool:
        return self.registration != "managed"

    @property
    def view(self) -> AppView:
        return AppView(
            self.client_id, self.client_type, self.status, self.app_kind, self.connector_binding
        )

    @property
    def is_public(self) -> bool:
        return self.client_type in ("pkce", "device")

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Several URIs may be registered; RFC 6749 §3.1.2.3 then requires the parameter.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The app's permissions, or the requested subset of them; None if more is asked."""
        if not scope:
            return " ".join(self.permissions)
        requested = scope.split()
        if not set(requested) <= set(self.permissions):
            return None
        return " ".join(dict.fromkeys(requested))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match (RFC 9700 §4.1.3): no prefix, case or normalisation games; but a
        # native or self-registered app's loopback URI matches on any port (RFC 8252 §7.3).
        if redirect_uri in self.redirect_uris:
            return True
        if self.client_type != "pkce" and not self.self_registered:
            return False
        portless = _loopback_without_port(redirect_uri)
        return portless is not None and portless in map(_loopback_without_port, self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        # Both digests are always compared, so the time taken says nothing about which matched.
        current = matches(client_secret, self.client_secret_hash or _NO_SECRET)
        previous = matches(client_secret, self.previous_secret_hash or _NO_SECRET)
        in_grace = (
            self.previous_secret_hash is not None
            and (self.previous_secret_until or 0) > time.time()
        )
        return bool(self.client_secret_hash) and (current or (previous and in_grace))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS[self.client_type]

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.client_type in ("web", "pkce")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES[self.client_type]


def _loopback_without_port(uri: str) -> tuple[str, str, str] | None:
    """An http loopback URI as (host, path, query), its port left out; else None."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme != "http" or "@" in parts.netloc or "#" in uri:
        return None
    if host not in ("localhost", "127.0.0.1", "::1"):
        return None
    return (host, parts.path, parts.query)
