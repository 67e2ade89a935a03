"""The consent page (both dialects' authorize endpoints lead here) and installation requests.

What approval means lives in server/oauth/consent.py; this module shows it and collects the
person's answer. Deny sends error=access_denied (with state) to the app's redirect URI.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants.errors import AccessRefused
from server import clients
from server.errors import DomainError
from server.extensions import db, transaction
from server.models import App, DeviceCode, Tenant
from server.oauth import authorize, consent
from server.oauth.core import load_authorize_request, oauth_server
from server.oauth.server import request_from_flask
from server.pages import bp, login_redirect
from server.pages.errors import error as page_error
from server.pages.forms import ConsentForm
from server.pages.user_codes import open_request
from server.pages.words import CLIENT_TYPES, label, permission_words


def _pending(key: str) -> tuple[dict[str, Any], Any, Any] | Response:
    """The stored authorize request, freshly validated: (stored, core request, grant)."""
    stored = load_authorize_request(key)
    if stored is None:
        return page_error(
            400,
            "invalid_request",
            _(
                "This authorization request has expired or was already answered. "
                "Start again from the app."
            ),
        )
    core_request = request_from_flask(stored["data"])
    try:
        grant = authorize.validate(core_request)
    except OAuth2Error as error:
        return authorize.refusal(core_request, error)
    return stored, core_request, grant


def render_consent(
    client: Any, scope: str, places: list[consent.Place], form: ConsentForm, **extra: Any
) -> str:
    """The consent form for an authorize request or a device code."""
    app = db.session.get(App, client.client_id)
    owner = db.session.get(Tenant, client.tenant_id) if client.tenant_id is not None else None
    notes = consent.place_notes(client.client_id, g.user.id, places, oauth_server().storage)
    return render_template(
        "consent.html",
        form=form,
        client=client,
        description=app.description if app else "",
        owner=owner,
        client_type_label=label(CLIENT_TYPES, client.client_type),
        permissions=permission_words(scope),
        places=places,
        notes=notes,
        team_installs=_team_installs(places, notes),
        # Approving installs the app for a whole team wherever the person may choose: the
        # approve button itself says so (one workspace offered, or every one offered installs).
        approve_installs=all(notes.get(p.tenant.id) == "installs" for p in places),
        **extra,
    )


def _team_installs(places: list[consent.Place], notes: dict[int, str]) -> list[Any]:
    """The tenants where approving would install the app for everyone (the person is an admin
    there and it is not installed), each once."""
    tenants: dict[int, Any] = {}
    for place in places:
        if notes.get(place.tenant.id) == "installs":
            tenants.setdefault(place.tenant.id, place.tenant)
    return list(tenants.values())


def _note(client_id: str, place: consent.Place) -> str:
    """What the access rule says of `place` for this person (consent.place_notes), or ""."""
    notes = consent.place_notes(client_id, g.user.id, [place], oauth_server().storage)
    return notes.get(place.tenant.id, "")


def _where(redirect_uri: str | None) -> str:
    """Where the person goes after deciding, as they would recognise it: the host, or for an
    app's own scheme the scheme."""
    parts = urlsplit(redirect_uri or "")
    return parts.netloc or (parts.scheme + ":" if parts.scheme else "")


class Answered(Exception):
    """The request was answered already (a second submit, another tab) or has closed: the
    decision is refused and, raised inside its transaction, writes nothing."""


def render_installation_needed(
    client: Any, needed: consent.InstallationNeeded, **asked: str
) -> tuple[str, int]:
    """The page that offers to ask for an installation where approving needs one; `asked` is
    the request's own field (authorize_key or user_code), for the form to carry on."""
    owner = db.session.get(Tenant, client.tenant_id) if client.tenant_id is not None else None
    html = render_template(
        "request_install.html",
        client=client,
        owner=owner,
        client_type_label=label(CLIENT_TYPES, client.client_type),
        place=needed.place,
        pending=needed.pending,
        form=ConsentForm(workspace_id=str(needed.place.workspace.id), **asked),
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
        return page_error(
            403,
            "access_denied",
            _("You are not a member of the workspace this app asks for."),
        )
    form = ConsentForm(authorize_key=key, workspace_id=str(places[0].workspace.id))

    def show(form: ConsentForm) -> str:
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

    if request.method == "GET":
        return show(form)
    if not form.validate_on_submit() or form.decision.data not in ("approve", "deny"):
        abort(400)
    # One unit of work: the consent (and an admin's installation) is written with the code, or
    # nothing is.
    try:
        with transaction():
            if form.decision.data == "deny":
                description = GIVE_UP.get(request.form.get("reason", ""))
                return _finish(key, core_request, grant, user_id=None, description=description)
            place = next((p for p in places if str(p.workspace.id) == form.workspace_id.data), None)
            if place is None:
                abort(400)
            core_request.issue_context = consent.approve(
                g.user, client, place, core_request.scope, oauth_server().storage
            )
            return _finish(key, core_request, grant, user_id=g.user.id)
    except consent.InstallationNeeded as needed:
        return render_installation_needed(client, needed, authorize_key=key)
    except AccessRefused as error:
        error.redirect_uri = grant.redirect_uri
        return authorize.refusal(core_request, error)
    except Answered:
        return page_error(
            400, "invalid_request", _("This authorization request was already answered.")
        )


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
    """Answer the app, inside the decision's transaction: a code for user_id, or access_denied
    (with `description`) for None."""
    # Consumed here, once: a double submit cannot mint two codes.
    if load_authorize_request(key, consume=True) is None:
        raise Answered
    result = oauth_server().create_authorization_response(core_request, user_id, grant)
    location = dict(result.headers).get("Location")
    if result.status != 302 or not location:
        return page_error(
            result.status,
            result.body.get("error", "invalid_request"),
            result.body.get("error_description", "The request failed."),
        )
    if description and user_id is None:
        parts = urlsplit(location)
        kept = [(k, v) for k, v in parse_qsl(parts.query) if k != "error_description"]
        query = urlencode([*kept, ("error_description", description)])
        location = urlunsplit(parts._replace(query=query))
    return redirect(location, code=302)


def _asked_about(authorize_key: str, user_code: str, workspace_id: str) -> Any:
    """The app and the place an installation request is about, from the consent form's fields:
    (client, place), or the page to answer with."""
    if authorize_key:
        pending = _pending(authorize_key)
        if isinstance(pending, Response):
            return pending
        stored, core_request, _grant = pending
        client, fixed_workspace = core_request.client, stored["workspace_id"]
    else:
        row = open_request(user_code)
        if not isinstance(row, DeviceCode):
            return row
        client = oauth_server().storage.client(row.client_id)
        fixed_workspace = row.workspace_id
    places = consent.places_for(g.user.id, fixed_workspace)
    place = next((p for p in places if str(p.workspace.id) == workspace_id), None)
    if client is None or place is None or not place.needs_installation:
        abort(400)
    return client, place


@bp.route("/oauth/consent/request-install", methods=["GET", "POST"])
def request_install() -> Any:
    """A member asks the tenant's admins to install the app (a pending installation). The POST
    answers with a redirect to the GET, which says that the request is sent (post/redirect/get:
    a reload asks nothing twice)."""
    if g.user is None:
        abort(401)
    if request.method == "GET":
        return _request_sent()
    form = ConsentForm()
    if not form.validate_on_submit():
        abort(400)
    authorize_key = form.authorize_key.data or ""
    workspace_id = form.workspace_id.data or ""
    asked = _asked_about(authorize_key, form.user_code.data or "", workspace_id)
    if isinstance(asked, Response):
        return asked
    client, place = asked
    try:
        with transaction():
            clients.request_installation(g.user, place.tenant.id, client.client_id)
    except DomainError as exc:
        return page_error(exc.status, exc.code, exc.message)
    # The page after names the app and the workspace, never the device's code; the key only
    # lets the person go back to the app (the deny form checks it again).
    sent = {"client_id": client.client_id, "workspace_id": workspace_id}
    return redirect(url_for("pages.request_install", **sent, authorize_key=authorize_key or None))


_CLIENT_ID = re.compile(r"[1-9][0-9]{0,18}")


def _request_sent() -> Any:
    """The page after a request: for an app and one of my workspaces where it was asked for."""
    args = request.args
    client_id = args.get("client_id", "")
    # Client ids are digits; anything else names no app (and never reaches the database).
    client = oauth_server().storage.client(client_id) if _CLIENT_ID.fullmatch(client_id) else None
    place = next(
        (
            p
            for p in consent.places_for(g.user.id)
            if str(p.workspace.id) == args.get("workspace_id")
        ),
        None,
    )
    if client is None or place is None or not place.needs_installation:
        abort(404)
    if _note(client.client_id, place) == "needs_admin":
        abort(404)  # nothing was asked there (or it was refused since)
    authorize_key = args.get("authorize_key", "")[:64]
    form = ConsentForm(authorize_key=authorize_key, workspace_id=str(place.workspace.id))
    return render_template(
        "request_sent.html", client=client, place=place, form=form, authorize_key=authorize_key
    )
