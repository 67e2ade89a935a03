"""The management API face: JSON under /api/v1, with its OpenAPI document."""

from __future__ import annotations

from flask import Flask

from server import web
from server.api import auth, errors, openapi, views
from server.api.routing import bp
from server.extensions import csrf

__all__ = ["init_app", "openapi", "views"]

# The API checks CSRF itself, and only for session callers (see auth.authenticate).
csrf.exempt(bp)
bp.before_request(auth.authenticate)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    web.register_face(app, errors.FACE)
