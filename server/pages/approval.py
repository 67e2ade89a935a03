"""The consent page (both dialects' authorize endpoints lead here) and installation requests.

What approval means lives in server/oauth/consent.py; this module shows it and collects the
person's answer. Deny sends error=access_denied (with state) to the app's redirect URI.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import abort, g, redirect, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from grants.errors import AccessRefused
from server import clients
from server.errors import DomainError
from server.extensions import db, transaction
from server.models import App, Installation, Tenant
from server.oauth import authorize, consent, device
from server.oauth.core import load_authorize_request, oauth_server
from server.oauth.server import request_from_flask
from server.pages import bp, login_redirect
from server.pages.forms import ConsentForm
from server.pages.words import CLIENT_TYPES, label, permission_words
from server.web import error_response


def _pending(key: str) -> tuple[dict[str, Any], Any, Any] | Response:
    """The stored authorize request, freshly validated: (stored, core request, grant)."""
    stored = load_authorize_request(key)
    if stored is None:
        return error_response(
            400,
            "invalid_request",
            _(
                "This authorization request has expired or was already answered. "
                "Start again from the app."
            ),
            where="html",
        )
    core_request = request_from_flask(stored["data"])
    try:
        grant = authorize.validate(core_request)
    except OAuth2Error as error:
        return authorize.refusal(core_request, error)
    return stored, core_request, grant


def installation_states(client_id: str, places: list[consent.Place]) -> dict[int, str]:
    """For each team/enterprise tenant among `places`: installed, pending or absent."""
    tenant_ids = {p.tenant.id for p in places if p.needs_installation}
    if not tenant_ids:
        return {}
    rows = db.session.execute(
        select(Installation.tenant_id, Installation.status).where(
            Installation.client_id == client_id, Installation.tenant_id.in_(tenant_ids)
        )
    ).all()
    found = {tenant_id: status for tenant_id, status in rows}
    return {tenant_id: found.get(tenant_id, "absent") for tenant_id in tenant_ids}


def render_consent(
    client: Any, scope: str, places: list[consent.Place], form: ConsentForm, **extra: Any
) -> str:
    """The consent form for an authorize request or a device code."""
    app = db.session.get(App, client.client_id)
    owner = db.session.get(Tenant, client.tenant_id) if client.tenant_id is not None else None
    return render_template(
        "consent.html",
        form=form,
        client=client,
        description=app.description if app else "",
        owner=owner,
        client_type_label=label(CLIENT_TYPES, client.client_type),
        permissions=permission_words(scope),
        places=places,
        installations=installation_states(client.client_id, places),
        **extra,
    )


def _where(redirect_uri: str | None) -> str:
    """Where the person goes after deciding, as they would recognise it: the host, or for an
    app's own scheme the scheme."""
    parts = urlsplit(redirect_uri or "")
    return parts.netloc or (parts.scheme + ":" if parts.scheme else "")


def render_installation_needed(
    client: Any, needed: consent.InstallationNeeded, form: ConsentForm
) -> tuple[str, int]:
    owner = db.session.get(Tenant, client.tenant_id) if client.tenant_id is not None else None
    html = render_template(
        "request_install.html",
        client=client,
        owner=owner,
        client_type_label=label(CLIENT_TYPES, client.client_type),
        place=needed.place,
        pending=needed.pending,
        form=form,
    )
    return html, 403


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
            403,
            "access_denied",
            _("You are not a member of the workspace this app asks for."),
            "html",
        )
    form = ConsentForm(authorize_key=key, workspace_id=str(places[0].workspace.id))
    if request.method == "GET":
        # A self-registered app's name says nothing; where it sends the person back does.
        redirect_host = urlsplit(grant.redirect_uri or "").hostname or ""
        return render_consent(
            client,
            core_request.scope,
            places,
            form,
            redirect_to=_where(grant.redirect_uri),
            redirect_host=redirect_host,
        )
    if not form.validate_on_submit() or form.decision.data not in ("approve", "deny"):
        abort(400)
    if form.decision.data == "deny":
        description = GIVE_UP.get(request.form.get("reason", ""))
        return _finish(key, core_request, grant, user_id=None, description=description)
    place = next((p for p in places if str(p.workspace.id) == form.workspace_id.data), None)
    if place is None:
        abort(400)
    try:
        core_request.issue_context = consent.approve(
            g.user, client, place, core_request.scope, oauth_server().storage
        )
    except consent.InstallationNeeded as needed:
        db.session.rollback()
        retry = ConsentForm(authorize_key=key, workspace_id=str(needed.place.workspace.id))
        return render_installation_needed(client, needed, retry)
    except AccessRefused as error:
        db.session.rollback()
        error.redirect_uri = grant.redirect_uri
        return authorize.refusal(core_request, error)
    return _finish(key, core_request, grant, user_id=g.user.id)


# Why a person went back to the app without approving, told to the app as error_description
# with access_denied (RFC 6749 4.1.2.1), so that it can say what happens next.
GIVE_UP = {
    "install_requested": "The app is not installed in the chosen team yet. An installation "
    "request is waiting for an admin; authorize again once it is approved.",
    "install_needed": "The app is not installed in the chosen team, and only an admin "
    "can install it.",
}


def _finish(
    key: str, core_request: Any, grant: Any, user_id: int | None, description: str | None = None
) -> Response:
    # Consumed here, once: a double submit cannot mint two codes.
    if load_authorize_request(key, consume=True) is None:
        db.session.rollback()
        return error_response(
            400, "invalid_request", _("This authorization request was already answered."), "html"
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
    if description and user_id is None:
        parts = urlsplit(location)
        kept = [(k, v) for k, v in parse_qsl(parts.query) if k != "error_description"]
        query = urlencode([*kept, ("error_description", description)])
        location = urlunsplit(parts._replace(query=query))
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
    try:
        with transaction():
            clients.request_installation(g.user, place.tenant.id, client.client_id)
    except DomainError as exc:
        return error_response(exc.status, exc.code, exc.message, "html")
    return render_template(
        "request_sent.html",
        client=client,
        place=place,
        form=form,
        authorize_key=form.authorize_key.data,
    )
