"""Sign-in and sign-out: one generic error, a fresh session, limits per account and address."""

from __future__ import annotations

import math
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from server import ratelimit
from server.accounts import authenticate, normalize_email
from server.limits import MAX_EMAIL_LENGTH
from server.pages import bp, safe_next
from server.pages.forms import LoginForm


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _too_many(form: LoginForm, wait: int) -> tuple[str, int, dict[str, str]]:
    minutes = max(1, math.ceil(wait / 60))
    error = _(
        "Too many failed sign-ins. Try again in %(minutes)d minutes.",
        minutes=minutes,
    )
    html = render_template("login.html", form=form, error=error)
    return html, 429, {"Retry-After": str(wait)}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm(next=request.args.get("next", ""))
    if request.method == "GET":
        # Shown even when signed in: signing in again switches accounts.
        return render_template("login.html", form=form, error=None)

    email = normalize_email(form.email.data or "")[:MAX_EMAIL_LENGTH]
    address = _client_address()
    wait = max(
        ratelimit.retry_after("RATELIMIT_LOGIN_ACCOUNT", email) or 0,
        ratelimit.retry_after("RATELIMIT_LOGIN_ADDRESS", address) or 0,
    )
    if wait:
        return _too_many(form, wait)
    user = None
    if form.validate_on_submit():
        user = authenticate(form.email.data or "", form.password.data or "")
    if user is None:
        # Counted whether or not the account exists, so a 429 reveals nothing either.
        ratelimit.hit("RATELIMIT_LOGIN_ACCOUNT", email)
        ratelimit.hit("RATELIMIT_LOGIN_ADDRESS", address)
        error = _("Incorrect email or password.")
        return render_template("login.html", form=form, error=error), 401
    # A fresh session on sign-in: nothing from before survives (no fixation).
    session.clear()
    session["user_id"] = user.id
    session.permanent = True
    return redirect(safe_next(form.next.data))


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    flash(_("You have signed out."), "notice")
    return redirect(url_for("pages.login"))
