"""Settings: one defaults mapping, overridden by the environment, then by a test mapping.

The only place that reads the app's settings from the environment; every module reads
`app.config`. The server process's own settings (serve.py, gunicorn.conf.py) are read here too,
by server_from_environment.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from server.dbpool import IdlePingPool
from server.events import DEFAULTS as EVENTS_DEFAULTS
from server.limits import MAX_BODY_BYTES, MAX_JWT_DURATION
from server.ratelimit import DEFAULT_LIMITS
from server.startup import ConfigError, check_issuer, check_secret_key, flag

DEFAULTS: dict[str, Any] = {
    "OAUTH_ISSUER": "http://127.0.0.1:5000",
    "OAUTH_JWT_AUDIENCE": None,  # list of accepted `aud`; None: the issuer's host[:port]
    "REDIS_URL": None,  # None: in-process stores (one process only)
    "RATELIMIT_ENABLED": True,
    **DEFAULT_LIMITS,  # server/ratelimit.py: what each limit counts, and how many per window
    # Trusted reverse proxies that overwrite X-Forwarded-For (server/proxy.py); 0: none.
    "PROXY_FIX_X_FOR": 0,
    "DEMO_MODE": False,
    # Request bodies beyond this are refused with 413 before anything parses them.
    "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
    "JSON_SORT_KEYS": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
    # A ping only after a connection sat idle, not one round trip per request (server/dbpool.py).
    # A sync worker uses one connection at a time; threaded workers one per thread.
    "SQLALCHEMY_ENGINE_OPTIONS": {"poolclass": IdlePingPool, "pool_size": 5, "max_overflow": 10},
    # Lifetimes in seconds.
    "ACCESS_TOKEN_TTL": 15 * 60,
    "REFRESH_TOKEN_TTL": 30 * 24 * 3600,
    "AUTHORIZATION_CODE_TTL": 10 * 60,
    "AUTHORIZE_KEY_TTL": 10 * 60,
    "DEVICE_CODE_TTL": 300,
    "DEVICE_POLL_INTERVAL": 5,
    "JWT_DEFAULT_DURATION": 900,
    "JWT_MAX_DURATION": MAX_JWT_DURATION,
    "JWT_MAX_ASSERTION_LIFETIME": 86400,
    "JWT_MAX_CLOCK_SKEW": 60,
    "PKCE_REQUIRE_S256": False,
    "PAT_DEFAULT_DAYS": 30,
    # Quotas and limits from the platform's rules.
    "APP_QUOTA_PERSONAL": 10,
    "APP_QUOTA_TEAM": 100,
    "MAX_KEYS_PER_APP": 3,
    "SAT_QUOTA": 100,  # live service access tokens per tenant
    # Operations (server/ops.py, server/logformat.py).
    "METRICS_ENABLED": False,
    "METRICS_TOKEN": None,  # when set, /metrics wants `Authorization: Bearer <it>`
    "LOG_FORMAT": "text",  # or "json"
    # Present while the server stops (server/serving.py creates it on SIGTERM): readiness 503.
    "STOPPING_FILE": None,
    # Where the server's workers keep their metrics (server/serving.py); None: one process.
    "PROMETHEUS_MULTIPROC_DIR": None,
    # Agent clients (RFC 7591 registration, Client ID Metadata Documents): see the README.
    "OAUTH_REGISTRATION": "open",  # or "off"
    "OAUTH_REGISTRATION_UNUSED_DAYS": 1,  # a registration without consent by then is purged
    "OAUTH_CIMD": "on",  # or "off"
    "OAUTH_CIMD_ALLOW_PRIVATE_HOSTS": False,  # tests and local development only
    "OAUTH_CIMD_CONNECT_TIMEOUT": 2,  # seconds
    "OAUTH_CIMD_READ_TIMEOUT": 3,  # seconds, for the whole body
    "OAUTH_CIMD_MAX_BYTES": 5 * 1024,  # a document is a few hundred bytes
    **EVENTS_DEFAULTS,  # server/events/__init__.py: delivery of lifecycle events
}
_CHOICES = {"OAUTH_REGISTRATION": ("open", "off"), "OAUTH_CIMD": ("on", "off")}


def database_url(raw: str) -> str:
    """Accept the usual PostgreSQL spellings and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


def from_environment(env: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if env.get("DATABASE_URL"):
        settings["SQLALCHEMY_DATABASE_URI"] = database_url(env["DATABASE_URL"])
    for name in (
        "REDIS_URL",
        "SECRET_KEY",
        "OAUTH_ISSUER",
        "METRICS_TOKEN",
        "STOPPING_FILE",
        "PROMETHEUS_MULTIPROC_DIR",
        "PROXY_FIX_X_FOR",  # checked in server/proxy.py
        *DEFAULT_LIMITS,  # checked in server/ratelimit.py
    ):
        if env.get(name):
            settings[name] = env[name]
    if env.get("LOG_FORMAT"):
        settings["LOG_FORMAT"] = env["LOG_FORMAT"].strip().lower()
    if env.get("OAUTH_JWT_AUDIENCE"):
        settings["OAUTH_JWT_AUDIENCE"] = [
            a.strip() for a in env["OAUTH_JWT_AUDIENCE"].split(",") if a.strip()
        ]
    for name in (
        "RATELIMIT_ENABLED",
        "DEMO_MODE",
        "METRICS_ENABLED",
        "OAUTH_CIMD_ALLOW_PRIVATE_HOSTS",
    ):
        if env.get(name):
            settings[name] = flag(name, env[name])
    for name in _CHOICES:
        if env.get(name):
            settings[name] = env[name].strip().lower()
    if env.get("OAUTH_REGISTRATION_UNUSED_DAYS"):
        settings["OAUTH_REGISTRATION_UNUSED_DAYS"] = env["OAUTH_REGISTRATION_UNUSED_DAYS"]
    for name, default in EVENTS_DEFAULTS.items():
        raw = env.get(name)
        if raw is None:
            continue
        if isinstance(default, bool):
            settings[name] = flag(name, raw)
        elif raw.strip().isdigit():
            settings[name] = int(raw)
        else:
            raise ConfigError(name, f"expected a whole number of seconds or items, got {raw!r}")
    return settings


# The server process's own numbers (server/serving.py), each with its default; None: from the
# cores, as each server counts them.
SERVER_NUMBERS: dict[str, float | None] = {
    "PORT": 8000,
    "WEB_CONCURRENCY": None,  # worker processes
    "SERVER_THREADS": 4,  # Granian's blocking threads per worker
    "GUNICORN_THREADS": 4,  # gunicorn's threads per worker
    "GRACEFUL_TIMEOUT": 20,  # seconds for requests in flight, after the drain
    "SHUTDOWN_DRAIN_SECONDS": 5,  # seconds of readiness 503 after SIGTERM, still serving
}


def server_from_environment(env: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    """The settings of the server process (serve.py, gunicorn.conf.py): its numbers, where it
    listens, and those of the app's that it prepares for (metrics, log format, proxy trust)."""
    settings: dict[str, Any] = {**DEFAULTS, **from_environment(env)}
    settings["HOST"] = env.get("HOST", "").strip() or "127.0.0.1"
    settings["FORWARDED_ALLOW_IPS"] = env.get("FORWARDED_ALLOW_IPS", "").strip() or "127.0.0.1,::1"
    for name, default in SERVER_NUMBERS.items():
        raw = env.get(name, "").strip()
        try:
            value = float(raw) if raw else default
        except ValueError:
            value = -1.0
        if value is not None and not 0 <= value < 1e9:  # also refuses nan and inf
            raise ConfigError(name, f"expected a number of 0 or more, got {raw!r}")
        settings[name] = value
    return settings


def finish(config: dict[str, Any], instance_path: str) -> None:
    """Fill what depends on other settings, and refuse to run without a real secret key."""
    config["OAUTH_ISSUER"] = config["OAUTH_ISSUER"].rstrip("/")
    check_issuer(config)
    for name, choices in _CHOICES.items():
        if config[name] not in choices:
            raise ConfigError(name, f"must be one of {', '.join(choices)}")
    try:
        config["OAUTH_REGISTRATION_UNUSED_DAYS"] = int(config["OAUTH_REGISTRATION_UNUSED_DAYS"])
    except ValueError:
        raise ConfigError("OAUTH_REGISTRATION_UNUSED_DAYS", "must be a whole number") from None
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(Path(instance_path) / "oauth.db")
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # SQLite serialises writers; waiting beats failing under a few concurrent requests.
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    elif config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # A database that stopped answering fails a request in seconds, not minutes.
        options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
        options["connect_args"] = {"connect_timeout": 5, **options.get("connect_args", {})}
        config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if not config.get("OAUTH_JWT_AUDIENCE"):
        config["OAUTH_JWT_AUDIENCE"] = [urlsplit(config["OAUTH_ISSUER"]).netloc]
    config["SESSION_COOKIE_SECURE"] = config["OAUTH_ISSUER"].startswith("https://")
    check_secret_key(config)
    if not config.get("SECRET_KEY"):
        if config.get("TESTING"):
            config["SECRET_KEY"] = secrets.token_urlsafe(32)
        else:  # the demo
            config["SECRET_KEY"] = _instance_secret_key(Path(instance_path))
    folder = config["PROMETHEUS_MULTIPROC_DIR"]
    if config["METRICS_ENABLED"] and folder and not os.access(folder, os.W_OK):
        raise ConfigError("PROMETHEUS_MULTIPROC_DIR", f"{folder} is not a writable folder")
    if config["LOG_FORMAT"] not in ("text", "json"):
        raise ConfigError("LOG_FORMAT", f"expected text or json, got {config['LOG_FORMAT']!r}")


def _instance_secret_key(instance: Path) -> str:
    """The embedded demo keeps one generated key in its instance folder."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()
