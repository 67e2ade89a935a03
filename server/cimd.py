"""Client ID Metadata Documents: an https `client_id` names a JSON document describing the
client, which this module fetches (guarded against SSRF), validates, caches and turns into an
app (registration `metadata_document`, no owning tenant).

The guard: the host is resolved first and every address checked (loopback, private, link-local,
multicast, reserved and unspecified addresses refused; `OAUTH_CIMD_ALLOW_PRIVATE_HOSTS` admits
loopback and private ones, for tests and local development, never link-local or multicast);
the connection goes to the checked address itself, so a second resolution cannot swap it; a
redirect is followed only to a target that passes the same checks, at most twice; the body is
capped in size and the fetch bounded in time. The cache obeys `Cache-Control` and is shared
through the store, and concurrent requests for one document wait for a single fetch.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Error
from flask import current_app
from joserfc.errors import JoseError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from grants.secrets import digest
from grants.vocabulary import AuthMethod
from server.extensions import db
from server.models import App

MAX_URL_LENGTH = 512
MAX_REDIRECTS = 2
DEFAULT_TTL = 300  # seconds, when the document names no lifetime
MAX_TTL = 24 * 3600
FAILURE_TTL = 10  # a failed fetch is not retried by every concurrent request
_TTL_HEADER = "max-age="


class DocumentRefused(InvalidClientError):
    """The metadata document is unreachable or invalid: an error page at the authorization
    endpoint, `invalid_client` at the token endpoint, never a 5xx."""

    def __init__(self, description: str) -> None:
        super().__init__(description=f"Client metadata document: {description}", status_code=401)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (tests replace this to stand in for DNS)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise DocumentRefused("its host does not resolve") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def is_metadata_url(client_id: Any) -> bool:
    """Whether a client_id names a metadata document (rather than a registered app)."""
    return isinstance(client_id, str) and client_id.startswith(("https://", "http://"))


def app_client_id(url: str) -> str:
    """The app standing for the document at `url`, created or brought up to date; its id."""
    if current_app.config["OAUTH_CIMD"] != "on":
        raise DocumentRefused("metadata documents are not accepted here")
    found = document(url)
    app = db.session.scalar(select(App).where(App.metadata_url == url))
    fields = _app_fields(found)
    if app is not None:
        if any(getattr(app, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(app, name, value)
            db.session.commit()
        return app.client_id
    from server import clients  # the app functions import this module's callers

    try:
        created = clients.register_metadata_document(url, found, fields)
        db.session.commit()
    except IntegrityError:  # another request created it a moment ago
        db.session.rollback()
        created = db.session.scalar(select(App).where(App.metadata_url == url))
        if created is None:
            raise DocumentRefused("could not be recorded; try again") from None
    return created.client_id


def _app_fields(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": document.get("client_name") or "Unnamed client",
        "redirect_uris": list(dict.fromkeys(document["redirect_uris"])),
        "permissions": list(dict.fromkeys((document.get("scope") or "").split())),
        "client_metadata": document,
    }


# The document: cached, fetched once for concurrent requests ------------------------------


def document(url: str) -> dict[str, Any]:
    """The checked document at `url`: from the cache, or fetched once however many requests
    ask for it at the same time."""
    store = current_app.extensions["store"]
    key = "cimd:" + digest(url)
    deadline = time.monotonic() + _limits()["connect"] + _limits()["read"] + 2
    while True:
        found = store.get(key)
        if found is not None:
            return _cached(found)
        if store.add(key + ":fetching", "1", int(deadline - time.monotonic()) + 1):
            break
        if time.monotonic() > deadline:
            raise DocumentRefused("fetching it took too long")
        time.sleep(0.05)  # another request is fetching it
    try:
        fetched, ttl = _fetch_valid(url)
    except DocumentRefused as refused:
        store.put(key, json.dumps({"error": refused.description}), FAILURE_TTL)
        raise
    finally:
        store.delete(key + ":fetching")
    # Even a document that may not be kept is handed to the requests waiting for it.
    store.put(key, json.dumps({"document": fetched}), ttl or 1)
    return fetched


def _cached(raw: str) -> dict[str, Any]:
    entry = json.loads(raw)
    if "error" in entry:
        # Refused a moment ago: the same answer until FAILURE_TTL has passed.
        raise InvalidClientError(description=entry["error"], status_code=401)
    return entry["document"]


def _ttl(cache_control: str | None) -> int:
    """Seconds the document may be kept, as its Cache-Control allows (bounded)."""
    if cache_control is None:
        return DEFAULT_TTL
    directives = [d.strip().lower() for d in cache_control.split(",")]
    if any(d in ("no-store", "no-cache", "private") for d in directives):
        return 0
    for directive in directives:
        if directive.startswith(_TTL_HEADER):
            try:
                return max(0, min(int(directive[len(_TTL_HEADER) :]), MAX_TTL))
            except ValueError:
                return 0
    return DEFAULT_TTL


def _fetch_valid(url: str) -> tuple[dict[str, Any], int]:
    body, cache_control = _fetch(url)
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise DocumentRefused("is not JSON") from None
    return validate(url, document), _ttl(cache_control)


def validate(url: str, document: Any) -> dict[str, Any]:
    """The document as an app may be made of it: the registration rules of RFC 7591 (the
    same checks as /oauth/register), its client_id equal to its URL, and a public client."""
    from server.oauth.registration import Metadata

    if not isinstance(document, dict):
        raise DocumentRefused("is not a JSON object")
    if document.get("client_id") != url:
        raise DocumentRefused("its client_id is not its own URL")
    if not isinstance(document.get("client_name"), str):
        raise DocumentRefused("has no client_name")
    if any(name in document for name in ("client_secret", "client_secret_expires_at")):
        raise DocumentRefused("must not carry a client secret")
    claims = Metadata({"token_endpoint_auth_method": AuthMethod.NONE.value, **document}, {}, {}, {})
    try:
        claims.validate()
    except (OAuth2Error, JoseError) as error:
        raise DocumentRefused(error.description or "is not valid") from None
    if claims["token_endpoint_auth_method"] != AuthMethod.NONE:
        raise DocumentRefused("must be a public client (token_endpoint_auth_method none)")
    return {"client_id": url, **claims.get_registered_claims()}


# The network, guarded ----------------------------------------------------------------------


def _limits() -> dict[str, Any]:
    config = current_app.config
    return {
        "connect": float(config["OAUTH_CIMD_CONNECT_TIMEOUT"]),
        "read": float(config["OAUTH_CIMD_READ_TIMEOUT"]),
        "bytes": int(config["OAUTH_CIMD_MAX_BYTES"]),
        "private": bool(config["OAUTH_CIMD_ALLOW_PRIVATE_HOSTS"]),
    }


def _address_refused(address: str, allow_private: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return True  # never: cloud metadata endpoints live at link-local addresses
    if ip.is_loopback or ip.is_private or not ip.is_global:
        return not allow_private
    return False


def _checked_target(url: str, limits: dict[str, Any]) -> tuple[Any, str]:
    """The URL's parts and the one address to connect to, or DocumentRefused."""
    if len(url) > MAX_URL_LENGTH or "#" in url:
        raise DocumentRefused("its URL is too long or has a fragment")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DocumentRefused("its URL is malformed") from None
    if parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc:
        raise DocumentRefused("its URL must be https with a host")
    if parts.scheme == "http" and not limits["private"]:
        raise DocumentRefused("its URL must be https")
    addresses = resolve(parts.hostname, port)
    if not addresses:
        raise DocumentRefused("its host does not resolve")
    for address in addresses:
        if _address_refused(address, limits["private"]):
            raise DocumentRefused("its host is a private, loopback or link-local address")
        if parts.scheme == "http" and not _address_refused(address, False):
            raise DocumentRefused("only a loopback or private host may be reached over http")
    return parts, addresses[0]


class _HTTPToAddress(http.client.HTTPConnection):
    """Connects to the address already checked, whatever the host name resolves to now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _HTTPSToAddress(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _fetch(url: str) -> tuple[bytes, str | None]:
    limits = _limits()
    for _ in range(MAX_REDIRECTS + 1):
        parts, address = _checked_target(url, limits)
        kind = _HTTPSToAddress if parts.scheme == "https" else _HTTPToAddress
        port = parts.port or (443 if parts.scheme == "https" else 80)
        connection = kind(parts.hostname, port, address, limits["connect"])
        try:
            connection.connect()
            connection.sock.settimeout(limits["read"])
            path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
            connection.request("GET", path, headers={"Accept": "application/json"})
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise DocumentRefused("redirects nowhere")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise DocumentRefused(f"answered HTTP {response.status}")
            return _read(response, limits), response.getheader("Cache-Control")
        except (OSError, http.client.HTTPException) as error:
            timed_out = isinstance(error, TimeoutError | socket.timeout)
            raise DocumentRefused("timed out" if timed_out else "could not be fetched") from None
        finally:
            connection.close()
    raise DocumentRefused("redirects too many times")


def _read(response: http.client.HTTPResponse, limits: dict[str, Any]) -> bytes:
    """The body, refused beyond the size cap or past the read deadline (a trickle too)."""
    length = response.getheader("Content-Length")
    if length and length.isdigit() and int(length) > limits["bytes"]:
        raise DocumentRefused(f"is larger than {limits['bytes']} bytes")
    deadline = time.monotonic() + limits["read"]
    body = b""
    while len(body) <= limits["bytes"]:
        if time.monotonic() > deadline:
            raise DocumentRefused("timed out")
        chunk = response.read1(1024)
        if not chunk:
            return body
        body += chunk
    raise DocumentRefused(f"is larger than {limits['bytes']} bytes")
