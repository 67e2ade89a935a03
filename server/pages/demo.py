"""The embedded demo's stand-in for an app at its redirect URI (DEMO_MODE only): it shows what
the app received and how the app would exchange it, so every flow can be finished by hand."""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, request

from server.accounts import current_user

bp = Blueprint("demo", __name__)


@bp.before_request
def load_user() -> None:
    g.user = current_user()


@bp.get("/callback")
def callback() -> str:
    return render_template(
        "demo_callback.html",
        code=request.args.get("code", ""),
        state=request.args.get("state", ""),
        error=request.args.get("error", ""),
        error_description=request.args.get("error_description", ""),
        redirect_uri=request.base_url,
        issuer=current_app.config["OAUTH_ISSUER"],
    )
