"""The dialect-independent steps: run a grant or endpoint, commit its effects, keep authorize
requests under an authorize_key until the person decides."""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import current_app

from server.extensions import db
from server.oauth.execute import commit_if_open
from server.oauth.server import CoreResult, DialectRequest, OAuthServer


def oauth_server() -> OAuthServer:
    """This app's Authlib server (one per app, so tests can build many apps)."""
    return current_app.extensions["oauth_server"]


_KEY_ALPHABET = string.ascii_letters + string.digits
AUTHORIZE_KEY_LENGTH = 32


def _committed(result: CoreResult) -> CoreResult:
    # Errors commit too: a refused code reuse or refresh reuse revokes a family on purpose.
    commit_if_open()
    return result


def token_response(request: DialectRequest) -> CoreResult:
    try:
        return _committed(oauth_server().create_token_response(request))
    except Exception:
        db.session.rollback()
        raise


def endpoint_response(name: str, request: DialectRequest) -> CoreResult:
    try:
        return _committed(oauth_server().create_endpoint_response(name, request))
    except Exception:
        db.session.rollback()
        raise


def error_result(error: OAuth2Error) -> CoreResult:
    return oauth_server().handle_error_response(None, error)


def save_authorize_request(data: dict[str, Any], workspace_id: int | None, dialect: str) -> str:
    """Keep a validated authorize request for the consent page; returns its authorize_key."""
    key = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(AUTHORIZE_KEY_LENGTH))
    value = json.dumps({"data": data, "workspace_id": workspace_id, "dialect": dialect})
    current_app.extensions["store"].put(
        "authorize:" + key, value, current_app.config["AUTHORIZE_KEY_TTL"]
    )
    return key


def load_authorize_request(key: str, *, consume: bool = False) -> dict[str, Any] | None:
    if not isinstance(key, str) or len(key) != AUTHORIZE_KEY_LENGTH or not key.isalnum():
        return None
    store = current_app.extensions["store"]
    raw = store.take("authorize:" + key) if consume else store.get("authorize:" + key)
    return json.loads(raw) if raw else None
