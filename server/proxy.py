"""Opt-in trust of a reverse proxy's X-Forwarded-For, so that per-address limits see clients.

Off by default: without a proxy that overwrites the header, any client could name any address
and so escape every per-address limit. `PROXY_FIX_X_FOR=N` trusts the last N proxies.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from server.startup import ConfigError


def init_app(app: Flask) -> None:
    raw = app.config["PROXY_FIX_X_FOR"]
    try:
        hops = int(raw or 0)
    except (TypeError, ValueError):
        raise ConfigError("PROXY_FIX_X_FOR", "expected a whole number of trusted proxies") from None
    if hops < 0:
        raise ConfigError("PROXY_FIX_X_FOR", "must not be negative")
    app.config["PROXY_FIX_X_FOR"] = hops
    if hops:
        # X-Forwarded-Proto from the same proxies: request.is_secure behind TLS ending there,
        # whichever WSGI server runs the app.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
