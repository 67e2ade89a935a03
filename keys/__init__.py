"""Key material: service-app RSA key pairs, PEM validation and RFC 7638 thumbprints (`kid`)."""

from keys.rsa import KeyError_, generate_key_pair, load_public_key, public_key_pem, thumbprint

__all__ = ["KeyError_", "generate_key_pair", "load_public_key", "public_key_pem", "thumbprint"]
