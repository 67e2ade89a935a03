"""Checks for the plain values people type: names, descriptions, emails and redirect URIs."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from grants.vocabulary import ClientType
from server.errors import DomainError, Msg
from server.limits import (
    MAX_DESCRIPTION_LENGTH,
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_REDIRECT_URI_LENGTH,
    MAX_REDIRECT_URIS,
)

# Control characters break logs and PostgreSQL refuses NUL; newlines only where text is free.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# RFC 3986 scheme; a private-use scheme (RFC 8252 7.1) must hold a dot (reverse domain name).
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
_URI_CHARS = re.compile(r"^[\x21-\x7e]+$")
# What pages call a field in its errors (the API names it as sent).
_LABELS = {"name": Msg("Name"), "description": Msg("Description"), "email": Msg("Email")}


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON escapes
        return False
    return True


def text(
    value: object, field: str, *, max_length: int, min_length: int = 1, multiline: bool = False
) -> str:
    """A trimmed string of a bounded length without control characters, else a 422."""
    if not isinstance(value, str):
        raise DomainError(422, "invalid_value", Msg("%(field)s must be a string", field=field))
    value = value.strip()
    label = _LABELS.get(field, field)
    if not min_length <= len(value) <= max_length:
        sizes = {"min": min_length, "max": max_length}
        raise DomainError(
            422,
            "invalid_value",
            Msg("%(field)s must have %(min)d to %(max)d characters", field=field, **sizes),
            field=field,
            text=Msg("%(field)s must have %(min)d to %(max)d characters", field=label, **sizes),
        )
    bad = _CONTROL_MULTILINE if multiline else _CONTROL
    if bad.search(value) or not _encodable(value):
        raise DomainError(
            422,
            "invalid_value",
            Msg("%(field)s contains characters that are not allowed", field=field),
            field=field,
            text=Msg("%(field)s contains characters that are not allowed", field=label),
        )
    return value


def name(value: object) -> str:
    """A name (of a tenant, workspace, app, connector or token): one line, not empty."""
    return text(value, "name", max_length=MAX_NAME_LENGTH)


def description(value: object) -> str:
    """A description: free text, possibly empty, over several lines."""
    return text(
        value, "description", max_length=MAX_DESCRIPTION_LENGTH, min_length=0, multiline=True
    )


def email(value: object) -> str:
    """An email address as typed (server/accounts.py normalises it)."""
    return text(value, "email", max_length=MAX_EMAIL_LENGTH)


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: where http is acceptable (RFC 8252 7.3)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_uri_problem(uri: str, client_type: str) -> str | None:
    """Why `uri` cannot be registered for an app of this type, or None when it can."""
    problem = _uri_problem(uri, client_type)
    return str(problem) if problem else None


def _uri_problem(uri: str, client_type: str) -> Msg | None:
    if len(uri) > MAX_REDIRECT_URI_LENGTH:
        return Msg("is longer than %(max)d characters", max=MAX_REDIRECT_URI_LENGTH)
    if not _URI_CHARS.match(uri):
        return Msg("must be printable ASCII without spaces")
    if "#" in uri:
        return Msg("must not contain a fragment")
    try:
        parts = urlsplit(uri)
        port = parts.port  # raises on a malformed port
    except ValueError:
        return Msg("is not a valid URI")
    scheme = parts.scheme.lower()
    if not scheme or not _SCHEME.match(scheme):
        return Msg("must be an absolute URI")
    if scheme in ("http", "https"):
        host = parts.hostname or ""
        if not host or not parts.netloc:
            return Msg("must name a host")
        if "@" in parts.netloc:
            return Msg("must not carry user information")
        if port == 0:
            return Msg("is not a valid URI")
        if scheme == "http" and not is_loopback_host(host):
            return Msg("must use https (http is allowed only for localhost, 127.0.0.0/8 and [::1])")
        return None
    native = ClientType(client_type).is_native
    if native and "." in scheme:
        if not (parts.path or parts.netloc):
            return Msg("must have a path after the scheme")
        return None
    if native:
        return Msg("must use https, http on a loopback host, or a private-use scheme with a dot")
    return Msg("must use https (or http on a loopback host)")


def redirect_uris(uris: object, client_type: str) -> list[str]:
    """The redirect URIs for an app of this type, deduplicated in order; anything wrong is 422.

    Web and PKCE apps need at least one; device and service apps take none.
    """
    if uris is None:
        uris = []
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        raise DomainError(
            422,
            "invalid_value",
            Msg("redirect_uris must be a list of strings"),
            field="redirect_uris",
        )
    if not ClientType(client_type).uses_redirect_uris:
        if uris:
            raise DomainError(
                422,
                "invalid_redirect_uri",
                f"{client_type} apps take no redirect_uris",
                field="redirect_uris",
                text=Msg("Device and service apps take no redirect URIs."),
            )
        return []
    if not uris:
        raise DomainError(
            422,
            "invalid_redirect_uri",
            f"{client_type} apps need at least one redirect URI",
            field="redirect_uris",
            text=Msg("Web and PKCE apps need at least one redirect URI."),
        )
    if len(uris) > MAX_REDIRECT_URIS:
        raise DomainError(
            422,
            "invalid_redirect_uri",
            Msg("at most %(max)d redirect URIs are allowed", max=MAX_REDIRECT_URIS),
            field="redirect_uris",
        )
    for index, uri in enumerate(uris):
        problem = _uri_problem(uri, client_type)
        if problem:
            raise DomainError(
                422,
                "invalid_redirect_uri",
                f"redirect_uris[{index}] {problem}",
                field="redirect_uris",
                text=Msg("Redirect URI %(uri)s %(problem)s", uri=uri, problem=problem),
            )
    return list(dict.fromkeys(uris))
