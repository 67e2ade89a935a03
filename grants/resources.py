"""Resource indicators (RFC 8707): which resources a request may name, and a token's audience."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import OAuth2Error

MAX_RESOURCES = 10
MAX_RESOURCE_LENGTH = 512
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")


class InvalidTarget(OAuth2Error):
    """RFC 8707 §2: the resource is unknown, malformed, or more than the grant allows."""

    error = "invalid_target"
    status_code = 400


def well_formed(uri: object) -> bool:
    """An absolute URI without a fragment (RFC 8707 §2), of a length we store."""
    if not isinstance(uri, str) or len(uri) > MAX_RESOURCE_LENGTH or not _PRINTABLE.match(uri):
        return False
    if "#" in uri:
        return False
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return bool(parts.scheme) and bool(parts.netloc)


def audience(
    requested: Iterable[str],
    granted: list[str] | None,
    known: Callable[[list[str]], set[str]],
) -> list[str]:
    """The resources a token is for: those `requested`, which must lie within the grant's
    (`granted`, when there is a grant: a code, a refresh token, a device approval) or else be
    registered resource URIs; all of the grant's when none is requested. Raises InvalidTarget."""
    requested = list(requested)
    if not requested:
        return list(granted or [])
    if len(requested) > MAX_RESOURCES:
        raise InvalidTarget(description=f"At most {MAX_RESOURCES} resources are allowed.")
    if not all(well_formed(uri) for uri in requested):
        raise InvalidTarget(description="A resource must be an absolute URI without a fragment.")
    wanted = list(dict.fromkeys(requested))
    if granted is not None:
        if not set(wanted) <= set(granted):
            raise InvalidTarget(description="The resource was not part of the grant.")
        return wanted
    if not set(wanted) <= known(wanted):
        raise InvalidTarget(description="The resource is not registered on this server.")
    return wanted
