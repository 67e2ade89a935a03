"""The pages a person sees: sign-in, consent, device verification."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from grants.errors import AccessRefused
from server.accounts import authenticate, current_user
from server.extensions import db
from server.oauth import authorize, consent, device
from server.oauth.core import load_authorize_request, oauth_server
from server.oauth.server import request_from_flask
from server.web import error_response

bp = Blueprint("pages", __name__)

CLIENT_TYPE_LABELS = {
    "web": "Web back-end app",
    "pkce": "Mobile, desktop or single-page app",
    "device": "TV, device or command-line app",
    "service": "Service app",
}
DEVICE_GUESS_LIMIT = 10
DEVICE_GUESS_WINDOW = 600


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class ConsentForm(FlaskForm):
    authorize_key = HiddenField()
    user_code = HiddenField()
    workspace_id = HiddenField()
    decision = HiddenField()


class DeviceForm(FlaskForm):
    user_code = StringField("Code shown on your device", validators=[Length(max=32)])


def safe_next(target: str | None) -> str:
    """Only local paths: never an open redirect through the sign-in page."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("pages.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("pages.home")
    return target


def login_redirect() -> Response:
    return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))


@bp.before_request
def load_user() -> None:
    g.user = current_user()


@bp.get("/")
def home() -> str:
    return render_template("home.html")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm(next=request.args.get("next", ""))
    error = None
    if form.validate_on_submit():
        user = authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            # A fresh session on sign-in: nothing from before survives (no fixation).
            session.clear()
            session["user_id"] = user.id
            session.permanent = True
            return redirect(safe_next(form.next.data))
        error = "Incorrect email or password."
    elif request.method == "POST":
        error = "Incorrect email or password."
    status = 401 if error else 200
    return render_template("login.html", form=form, error=error), status


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("pages.login"))


# Consent -------------------------------------------------------------------------------


def _pending(key: str) -> tuple[dict[str, Any], Any, Any] | Response:
    """The stored authorize request, freshly validated: (stored, core request, grant)."""
    stored = load_authorize_request(key)
    if stored is None:
        return error_response(
            400,
            "invalid_request",
            "This authorization request has expired or was already answered. "
            "Start again from the app.",
            where="html",
        )
    core_request = request_from_flask(stored["data"])
    try:
        grant = authorize.validate(core_request)
    except OAuth2Error as error:
        return authorize.refusal(core_request, error)
    return stored, core_request, grant


def _permission_words(scope: str) -> list[tuple[str, str]]:
    try:
        from server.permissions import CATALOGUE
    except ImportError:  # pragma: no cover
        CATALOGUE = {}
    return [(name, CATALOGUE.get(name, name)) for name in scope.split()]


def _render_consent(client: Any, scope: str, places: list[consent.Place], form: ConsentForm) -> str:
    from server.models import Tenant

    owner = db.session.get(Tenant, client.tenant_id)
    return render_template(
        "consent.html",
        form=form,
        client=client,
        owner=owner,
        client_type_label=CLIENT_TYPE_LABELS[client.client_type],
        permissions=_permission_words(scope),
        places=places,
    )


@bp.route("/oauth/consent", methods=["GET", "POST"])
def consent_page() -> Any:
    key = request.values.get("authorize_key", "")
    if g.user is None:
        return login_redirect() if request.method == "GET" else abort(401)
    pending = _pending(key)
    if isinstance(pending, Response):
        return pending
    stored, core_request, grant = pending
    client = core_request.client
    places = consent.places_for(g.user.id, stored["workspace_id"])
    if not places:
        return error_response(
            403, "access_denied", "You are not a member of the workspace this app asks for.", "html"
        )
    form = ConsentForm(authorize_key=key, workspace_id=str(places[0].workspace.id))
    if request.method == "GET" or not form.validate_on_submit():
        if request.method == "POST":
            abort(400)
        return _render_consent(client, core_request.scope, places, form)
    if form.decision.data not in ("approve", "deny"):
        abort(400)
    if form.decision.data == "deny":
        return _finish(key, core_request, grant, user_id=None)
    place = next((p for p in places if str(p.workspace.id) == form.workspace_id.data), None)
    if place is None:
        abort(400)
    try:
        core_request.issue_context = consent.approve(
            g.user, client, place, core_request.scope, oauth_server().storage
        )
    except consent.InstallationNeeded as needed:
        db.session.rollback()
        return render_template(
            "request_install.html",
            client=client,
            place=needed.place,
            pending=needed.pending,
            form=ConsentForm(authorize_key=key, workspace_id=str(needed.place.workspace.id)),
        ), 403
    except AccessRefused as error:
        db.session.rollback()
        error.redirect_uri = grant.redirect_uri
        return authorize.refusal(core_request, error)
    return _finish(key, core_request, grant, user_id=g.user.id)


def _finish(key: str, core_request: Any, grant: Any, user_id: int | None) -> Response:
    # Consumed here, once: a double submit cannot mint two codes.
    if load_authorize_request(key, consume=True) is None:
        db.session.rollback()
        return error_response(
            400, "invalid_request", "This authorization request was already answered.", "html"
        )
    result = oauth_server().create_authorization_response(core_request, user_id, grant)
    db.session.commit()
    location = dict(result.headers).get("Location")
    if result.status != 302 or not location:
        return error_response(
            result.status,
            result.body.get("error", "invalid_request"),
            result.body.get("error_description", "The request failed."),
            "html",
        )
    return redirect(location, code=302)


@bp.post("/oauth/consent/request-install")
def request_install() -> Any:
    """A member asks the tenant's admins to install the app (a pending installation)."""
    if g.user is None:
        abort(401)
    form = ConsentForm()
    if not form.validate_on_submit():
        abort(400)
    if form.authorize_key.data:
        pending = _pending(form.authorize_key.data)
        if isinstance(pending, Response):
            return pending
        stored, core_request, _grant = pending
        client, fixed_workspace = core_request.client, stored["workspace_id"]
    else:
        row = device.find(form.user_code.data or "")
        if row is None or not device.is_open(row):
            return render_template("device_done.html", outcome="closed"), 410
        client = oauth_server().storage.client(row.client_id)
        fixed_workspace = row.workspace_id
    places = consent.places_for(g.user.id, fixed_workspace)
    place = next((p for p in places if str(p.workspace.id) == form.workspace_id.data), None)
    if client is None or place is None or not place.needs_installation:
        abort(400)
    from server import clients

    clients.request_installation(g.user, place.tenant.id, client.client_id)
    db.session.commit()
    return render_template("request_sent.html", client=client, place=place)


# Device verification --------------------------------------------------------------------


@bp.route("/device", methods=["GET", "POST"])
def device_page() -> Any:
    if g.user is None:
        return login_redirect() if request.method == "GET" else abort(401)
    if request.method == "GET":
        form = DeviceForm(user_code=request.args.get("user_code", ""))
        return render_template("device.html", form=form, error=None)
    form = ConsentForm()
    if not form.validate_on_submit():
        abort(400)
    user_code = form.user_code.data or ""
    store = current_app.extensions["store"]
    guesses_key = f"device:guesses:{request.remote_addr}"
    limited = current_app.config["RATELIMIT_ENABLED"]
    if limited and int(store.get(guesses_key) or 0) >= DEVICE_GUESS_LIMIT:
        response = error_response(
            429, "too_many_requests", "Too many wrong codes. Wait a few minutes.", "html"
        )
        response.headers["Retry-After"] = str(DEVICE_GUESS_WINDOW)
        return response
    row = device.find(user_code)
    if row is None:
        if limited:
            store.incr(guesses_key, DEVICE_GUESS_WINDOW)
        return render_template(
            "device.html",
            form=DeviceForm(user_code=user_code),
            error="That code is not valid. Check the code on your device and try again.",
        ), 400
    if not device.is_open(row):
        return render_template("device_done.html", outcome="closed"), 410
    client = oauth_server().storage.client(row.client_id)
    if client is None:
        return render_template("device_done.html", outcome="closed"), 410
    places = consent.places_for(g.user.id, row.workspace_id)
    if not places:
        return error_response(
            403,
            "access_denied",
            "You are not a member of the workspace this device asks for.",
            "html",
        )
    if not form.decision.data:
        form = ConsentForm(user_code=user_code, workspace_id=str(places[0].workspace.id))
        return _render_consent(client, row.scope, places, form)
    if form.decision.data not in ("approve", "deny"):
        abort(400)
    context = None
    if form.decision.data == "approve":
        place = next((p for p in places if str(p.workspace.id) == form.workspace_id.data), None)
        if place is None:
            abort(400)
        try:
            context = consent.approve(g.user, client, place, row.scope, oauth_server().storage)
        except consent.InstallationNeeded as needed:
            db.session.rollback()
            return render_template(
                "request_install.html",
                client=client,
                place=needed.place,
                pending=needed.pending,
                form=ConsentForm(user_code=user_code, workspace_id=str(needed.place.workspace.id)),
            ), 403
        except AccessRefused as error:
            db.session.rollback()
            return error_response(403, "access_denied", error.description, "html")
    if not device.decide(row, context):
        db.session.rollback()
        return render_template("device_done.html", outcome="closed"), 410
    db.session.commit()
    return render_template(
        "device_done.html", outcome="approved" if context else "denied", client=client
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
