"""Subscription signing secrets, kept encrypted under a key derived from SECRET_KEY: unlike
client secrets they cannot be hashed, because every delivery is signed with the secret itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet
from flask import current_app

PREFIX = "whsec_"


def _fernet() -> Fernet:
    derived = hmac.new(
        current_app.config["SECRET_KEY"].encode(), b"event subscription secrets", hashlib.sha256
    ).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str:
    return _fernet().decrypt(sealed.encode()).decode()
