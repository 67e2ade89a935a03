"""Credentials that cannot even be decoded are refused before Authlib reads them: its HTTP
Basic parser raises on bytes that are not UTF-8, which would otherwise surface as a 500."""

from __future__ import annotations

import base64
import binascii

from flask import Response, request

from server.web import error_response


def basic_is_malformed(header: str) -> bool:
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        base64.b64decode(token.strip()).decode("utf-8")
    except (binascii.Error, ValueError):
        return True
    return False


def refuse_malformed_credentials() -> Response | None:
    """401 invalid_client, in the dialect's shape, for an undecodable Basic header."""
    header = request.headers.get("Authorization", "")
    if not basic_is_malformed(header):
        return None
    response = error_response(401, "invalid_client", "Malformed HTTP Basic credentials.")
    response.headers["WWW-Authenticate"] = 'Basic error="invalid_client"'
    return response
