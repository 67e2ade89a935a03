"""The pages a person sees: sign-in, consent, device verification, and the error page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from server import web
from server.accounts import current_user

bp = Blueprint("pages", __name__)


def safe_next(target: str | None) -> str:
    """Only local paths: never an open redirect through the sign-in page."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("pages.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return url_for("pages.home")
    return target


def login_redirect() -> Response:
    return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))


@bp.before_request
def load_user() -> None:
    g.user = current_user()


@bp.get("/")
def home() -> Response:
    return redirect(url_for("console.overview" if g.user else "pages.login"))


def _csrf_failed(exc: CSRFError) -> Response:
    # Only pages have CSRF-protected forms (the API checks its own and answers in JSON).
    if web.current_face() is not errors.FACE:
        return web.error_response(400, "csrf_failed", exc.description)
    return errors.error(
        400, "csrf_failed", _("The form was open too long or was sent from elsewhere.")
    )


def init_app(app: Flask) -> None:
    words.init_app(app)
    app.register_blueprint(bp)
    if app.config.get("DEMO_MODE"):
        app.register_blueprint(demo.bp)
    app.register_error_handler(CSRFError, _csrf_failed)
    web.register_face(app, errors.FACE, default=True)


# The views, registered on `bp` when imported (after `bp` and the helpers above exist).
from server.pages import approval, demo, errors, signin, verification, words  # noqa: E402, F401, I001
