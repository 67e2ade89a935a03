"""An app as Authlib sees it: which grants, auth methods and redirect URIs it may use.

What an app may do follows from its client_type alone (its capabilities are the ClientType's, in
grants/vocabulary.py; its grants and auth methods are here), and, for loopback redirect URIs,
from whether it registered itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin

from grants.access import AppView
from grants.secrets import digest, matches
from grants.vocabulary import AppKind, AuthMethod, ClientType, GrantType, Registration

DEVICE_CODE = GrantType.DEVICE_CODE
JWT_BEARER = GrantType.JWT_BEARER

GRANT_TYPES: dict[str, set[str]] = {
    ClientType.WEB: {GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN},
    ClientType.PKCE: {GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN},
    ClientType.DEVICE: {GrantType.DEVICE_CODE, GrantType.REFRESH_TOKEN},
    ClientType.SERVICE: {GrantType.JWT_BEARER},
}
# Web apps authenticate with their secret; public apps (pkce, device) send none.
AUTH_METHODS: dict[str, set[str]] = {
    ClientType.WEB: {AuthMethod.CLIENT_SECRET_BASIC, AuthMethod.CLIENT_SECRET_POST},
    ClientType.PKCE: {AuthMethod.NONE},
    ClientType.DEVICE: {AuthMethod.NONE},
    ClientType.SERVICE: set(),
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
    app_kind: str = AppKind.NORMAL
    connector_binding: int | None = None
    # A rotated-away secret that still authenticates until `previous_secret_until` (UNIX time).
    previous_secret_hash: str | None = None
    previous_secret_until: int | None = None
    registration: str = Registration.MANAGED  # or dynamic (RFC 7591), metadata_document (CIMD)

    @property
    def self_registered(self) -> bool:
        return self.registration != Registration.MANAGED

    @property
    def view(self) -> AppView:
        return AppView(
            self.client_id, self.client_type, self.status, self.app_kind, self.connector_binding
        )

    @property
    def type(self) -> ClientType:
        return ClientType(self.client_type)

    @property
    def is_public(self) -> bool:
        return self.type.is_public

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
        if not self.type.is_native and not self.self_registered:
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
        return response_type == "code" and self.type.uses_redirect_uris

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
