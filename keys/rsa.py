"""RSA keys for service apps: generate a pair, validate an uploaded public key, compute its kid."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

MIN_RSA_BITS = 2048
MAX_PEM_LENGTH = 16_384


class KeyError_(ValueError):  # noqa: N801 - the builtin KeyError means something else
    """An uploaded key that cannot be used; the message is safe to show."""


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 SHA-256 JWK thumbprint, base64url without padding (43 characters)."""
    numbers = public_key.public_numbers()
    jwk = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode("ascii")
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def public_key_pem(public_key: rsa.RSAPublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def generate_key_pair() -> tuple[str, rsa.RSAPublicKey]:
    """A fresh RSA-2048 pair: the PKCS#8 private key PEM (shown once) and the public key."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return private_pem, private_key.public_key()


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """Parse an uploaded public key: PEM, RSA, at least 2048 bits; anything else is KeyError_."""
    if not isinstance(pem, str) or not pem.strip():
        raise KeyError_("public_key must be a PEM-encoded RSA public key")
    if len(pem) > MAX_PEM_LENGTH:
        raise KeyError_("public_key is too long")
    if "PRIVATE KEY" in pem:
        raise KeyError_("upload the public key, never the private key")
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError, TypeError) as exc:
        raise KeyError_("public_key is not a valid PEM public key") from exc
    except Exception as exc:  # cryptography raises assorted errors for exotic input
        raise KeyError_("public_key is not a valid PEM public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyError_("public_key must be an RSA key")
    if key.key_size < MIN_RSA_BITS:
        raise KeyError_(f"RSA keys must have at least {MIN_RSA_BITS} bits")
    return key
