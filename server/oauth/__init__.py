"""The OAuth face: one Authlib server and its two dialects, RFC and Coze."""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

from flask import Flask

from server.extensions import csrf

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def init_app(app: Flask) -> None:
    from server import web
    from server.oauth import coze, coze_errors, introspection, rfc, rfc_errors
    from server.oauth.server import OAuthServer

    issuer = urlsplit(app.config["OAUTH_ISSUER"])
    if issuer.scheme == "http" and issuer.hostname not in LOOPBACK_HOSTS:
        # Authlib refuses plain HTTP outside loopback; a deployer chose it, so say it loudly.
        logging.getLogger(__name__).warning(
            "OAUTH_ISSUER is plain HTTP on a non-loopback host; use https in production"
        )
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    server = OAuthServer()
    server.init_app(app)
    app.extensions["oauth_server"] = server
    for blueprint in (rfc.bp, coze.bp):
        csrf.exempt(blueprint)
        app.register_blueprint(blueprint)
    for face in (rfc_errors.FACE, coze_errors.FACE):
        web.register_face(app, face)
    introspection.install(app)
