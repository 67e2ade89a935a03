"""An SSRF guard for URLs the server itself calls: resolve the host first, refuse what is not
public (private, loopback, link-local, multicast, reserved, unspecified addresses)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from server.errors import Msg


class UnsafeURL(ValueError):
    """A URL the server must not call; the message (a Msg, so that pages translate it) says
    why, fit for an API error."""

    def __init__(self, reason: Msg) -> None:
        super().__init__(str(reason))
        self.reason = reason


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def check_url(url: str, *, allow_private: bool = False) -> list[str]:
    """The addresses `url`'s host resolves to, if it is https and every one is public.

    `allow_private` (tests and local demos) also admits http and loopback hosts. Every
    resolved address must pass, so a name that resolves to a mix is refused.
    """
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise UnsafeURL(Msg("the URL must use https"))
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise UnsafeURL(Msg("the URL must name a host, with no credentials and no fragment"))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL(Msg("the URL's port is not valid")) from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeURL(Msg("the URL's host does not resolve")) from None
    addresses = sorted({str(info[4][0]).split("%")[0] for info in infos})
    for text in addresses:
        address = ipaddress.ip_address(text)
        if not (_public(address) or (allow_private and _loopback(address))):
            raise UnsafeURL(Msg("the URL's host is not a public address"))
    return addresses
