"""Configuration checked at start: a bad setting stops the process with one line naming it.

Every check raises ConfigError(variable, problem). The factory turns it into one line on
stderr and exit status 4 (gunicorn's "app failed to load", which stops the master instead of
respawning workers forever), before the first request; tests (TESTING) get the exception.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any, NoReturn
from urllib.parse import urlsplit

import redis
import sqlalchemy.exc
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

# gunicorn.arbiter.Arbiter.APP_LOAD_ERROR
EXIT_STATUS = 4
MIN_SECRET_KEY_LENGTH = 32
CHECK_TIMEOUT = 3  # seconds, for reaching the database and Redis
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class ConfigError(Exception):
    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


def refuse(error: ConfigError) -> NoReturn:
    sys.stderr.write(f"configuration error: {error}\n")
    sys.stderr.flush()
    raise SystemExit(EXIT_STATUS)


def flag(variable: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(variable, f"expected true or false, got {raw!r}")


def check_secret_key(config: dict[str, Any]) -> None:
    key = config.get("SECRET_KEY") or ""
    if config.get("TESTING") or config.get("DEMO_MODE"):
        return
    if not key:
        raise ConfigError(
            "SECRET_KEY",
            "not set; set a long random value (python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'), or DEMO_MODE=1 for the embedded demo",
        )
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 10:
        raise ConfigError(
            "SECRET_KEY",
            f"too weak: use at least {MIN_SECRET_KEY_LENGTH} random characters",
        )


def _private_host(host: str) -> bool:
    """Loopback, a private address, or a name no public DNS serves (no dot, or .localhost)."""
    if host == "localhost" or host.endswith(".localhost") or "." not in host and ":" not in host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def check_issuer(config: dict[str, Any]) -> None:
    issuer = config["OAUTH_ISSUER"]
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("OAUTH_ISSUER", f"not an http(s) URL: {issuer!r}")
    if parts.scheme == "http" and not config.get("TESTING") and not _private_host(parts.hostname):
        raise ConfigError(
            "OAUTH_ISSUER",
            f"{issuer} is plain http on a public host; use https (terminate TLS at the proxy)",
        )


def check_reachable(config: dict[str, Any]) -> None:
    """The database answers `SELECT 1` and, when set, Redis answers PING, each within seconds.

    A throwaway connection, never one from the app's pool (which gunicorn workers would
    otherwise inherit from a master that ran this check)."""
    url = config["SQLALCHEMY_DATABASE_URI"]
    try:
        engine = create_engine(url, poolclass=NullPool, connect_args=connect_timeout(url))
    except (sqlalchemy.exc.ArgumentError, ImportError, ValueError) as error:
        raise ConfigError("DATABASE_URL", f"not a usable database URL ({error})") from None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except sqlalchemy.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        raise ConfigError("DATABASE_URL", f"the database does not answer ({reason})") from None
    finally:
        engine.dispose()
    if config.get("REDIS_URL"):
        try:
            client = redis.Redis.from_url(
                config["REDIS_URL"],
                socket_timeout=CHECK_TIMEOUT,
                socket_connect_timeout=CHECK_TIMEOUT,
            )
            client.ping()
            client.close()
        except (redis.RedisError, ValueError) as error:
            raise ConfigError("REDIS_URL", f"Redis does not answer ({error})") from None


def connect_timeout(url: str, seconds: int = CHECK_TIMEOUT) -> dict[str, Any]:
    """Driver arguments that bound how long opening a connection may take."""
    if url.startswith("postgresql"):
        return {"connect_timeout": seconds}
    if url.startswith("sqlite"):
        return {"timeout": seconds}
    return {}
