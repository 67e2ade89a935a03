"""User passwords: a salted, memory-hard KDF (scrypt), the only slow hash in the server."""

from werkzeug.security import check_password_hash, generate_password_hash

# Checked against this when the account does not exist, so a failed login costs the same.
_DUMMY_HASH = generate_password_hash("not a real password", method="scrypt")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def check_password(stored_hash: str | None, password: str) -> bool:
    if stored_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(stored_hash, password)
