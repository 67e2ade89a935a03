"""Key ids are RFC 7638 thumbprints; uploaded keys are RSA public keys of 2048 bits or more."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import RSAKey

from keys import KeyError_, generate_key_pair, load_public_key, public_key_pem, thumbprint

# RFC 7638 §3.1: this key's SHA-256 thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
RFC7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
    "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
    "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4v"
    "MQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
}


def test_thumbprint_is_rfc7638():
    assert (
        thumbprint(RSAKey.import_key(RFC7638_KEY)) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    )


def test_generated_pair_is_pkcs8_and_its_public_half_round_trips():
    private_pem, public = generate_key_pair()
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert not public.is_private and public.raw_value.key_size == 2048
    assert thumbprint(RSAKey.import_key(private_pem)) == thumbprint(public)
    assert thumbprint(load_public_key(public_key_pem(public))) == thumbprint(public)


def _pem(key) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        (_pem(ec.generate_private_key(ec.SECP256R1()).public_key()), "must be an RSA key"),
        (_pem(rsa.generate_private_key(65537, 1024).public_key()), "at least 2048 bits"),
        ("-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----", "not a valid PEM"),
        ("-----BEGIN PUBLIC KEY-----\n\u00e9\n-----END PUBLIC KEY-----", "not a valid PEM"),
        ("not a key", "not a valid PEM"),
        ("", "must be a PEM-encoded RSA public key"),
        (generate_key_pair()[0], "never the private key"),
        ("-----BEGIN PUBLIC KEY-----\n" + "A" * 20_000, "too long"),
    ],
)
def test_unusable_keys_are_refused_with_a_clear_message(pem, message):
    with pytest.raises(KeyError_, match=message):
        load_public_key(pem)
