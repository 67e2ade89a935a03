"""RSA keys for service apps: generate a pair, validate an uploaded public key, compute its kid.

joserfc does the key work (generation, PEM import and export, RFC 7638 thumbprints); this
module adds the rules of the platform: RSA only, at least 2048 bits, a public key only.
"""

from __future__ import annotations

import warnings

from joserfc.errors import InvalidKeyTypeError
from joserfc.jwk import RSAKey

MIN_RSA_BITS = 2048
MAX_PEM_LENGTH = 16_384


class KeyError_(ValueError):  # noqa: N801 - the builtin KeyError means something else
    """An uploaded key that cannot be used; the message is safe to show."""


def thumbprint(key: RSAKey) -> str:
    """RFC 7638 SHA-256 JWK thumbprint, base64url without padding (43 characters)."""
    return key.thumbprint()


def public_key_pem(key: RSAKey) -> str:
    return key.as_pem(private=False).decode("ascii")


def generate_key_pair() -> tuple[str, RSAKey]:
    """A fresh RSA-2048 pair: the PKCS#8 private key PEM (shown once) and the public key."""
    private_key = RSAKey.generate_key(MIN_RSA_BITS, private=True)
    private_pem = private_key.as_pem(private=True).decode("ascii")
    return private_pem, RSAKey.import_key(public_key_pem(private_key))


def load_public_key(pem: str) -> RSAKey:
    """Parse an uploaded public key: PEM, RSA, at least 2048 bits; anything else is KeyError_."""
    if not isinstance(pem, str) or not pem.strip():
        raise KeyError_("public_key must be a PEM-encoded RSA public key")
    if len(pem) > MAX_PEM_LENGTH:
        raise KeyError_("public_key is too long")
    if "PRIVATE KEY" in pem:
        raise KeyError_("upload the public key, never the private key")
    if "-----BEGIN" not in pem:
        raise KeyError_("public_key is not a valid PEM public key")
    try:
        with warnings.catch_warnings():  # a small key is refused below, with a clear message
            warnings.simplefilter("ignore")
            key = RSAKey.import_key(pem.strip().encode("ascii"))
    except InvalidKeyTypeError as exc:
        raise KeyError_("public_key must be an RSA key") from exc
    except Exception as exc:  # key parsing raises assorted errors for exotic input
        raise KeyError_("public_key is not a valid PEM public key") from exc
    if key.is_private:
        raise KeyError_("upload the public key, never the private key")
    if key.raw_value.key_size < MIN_RSA_BITS:
        raise KeyError_(f"RSA keys must have at least {MIN_RSA_BITS} bits")
    return key
