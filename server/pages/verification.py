"""The device verification page: enter the code, see who asks, approve or deny (RFC 8628)."""

from __future__ import annotations

import time
from typing import Any

from flask import abort, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from grants.access import check_standing
from grants.device_code import normalize_user_code
from grants.errors import AccessRefused
from server import metrics
from server.extensions import db, transaction
from server.models import App, DeviceCode
from server.oauth import consent, device
from server.oauth.core import oauth_server
from server.pages import bp, login_redirect
from server.pages.approval import Answered, render_consent, render_installation_needed
from server.pages.errors import error as page_error
from server.pages.forms import ConsentForm, DeviceForm
from server.pages.user_codes import closed, open_request
from server.pages.words import refusal_words


def _display(user_code: str) -> str:
    """The code as the device shows it (XXXX-XXXX), however the person typed it."""
    code = normalize_user_code(user_code) or user_code.upper()
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def _refused(error: AccessRefused) -> Any:
    metrics.refused(error.denial)
    code = error.error or "access_denied"
    words = refusal_words(code, error.description)
    return page_error(error.status_code or 400, code, words, detail=error.description)


@bp.route("/device", methods=["GET", "POST"])
def device_page() -> Any:
    if g.user is None:
        return login_redirect() if request.method == "GET" else abort(401)
    if request.method == "GET":
        form = DeviceForm(user_code=request.args.get("user_code", "")[:32])
        return render_template("device.html", form=form, error=None)
    form = ConsentForm()
    if not form.validate_on_submit():
        abort(400)
    user_code = (form.user_code.data or "")[:32]
    row = open_request(user_code)
    if not isinstance(row, DeviceCode):
        return row
    client = oauth_server().storage.client(row.client_id)
    if client is None:
        return closed(None)
    denial = check_standing(oauth_server().storage, client.client_id).denial
    if denial:
        # As the authorize endpoint refuses before the consent page: nothing to approve.
        return _refused(AccessRefused(denial, client.name))
    places = consent.places_for(g.user.id, row.workspace_id)
    if not places:
        return page_error(
            403,
            "access_denied",
            _("You are not a member of the workspace this device asks for."),
        )
    if not form.decision.data:
        form = ConsentForm(user_code=user_code, workspace_id=str(places[0].workspace.id))
        return render_consent(
            client,
            row.scope,
            places,
            form,
            user_code=_display(user_code),
            requested_minutes=max(0, (int(time.time()) - row.created_at) // 60),
            expires_minutes=max(1, (row.expires_at - int(time.time()) + 59) // 60),
        )
    if form.decision.data not in ("approve", "deny"):
        abort(400)
    return _decide(row, client, places, form, user_code)


def _decide(
    row: DeviceCode, client: Any, places: list[consent.Place], form: ConsentForm, user_code: str
) -> Any:
    # One unit of work: the consent (and an admin's installation) is written with the device's
    # answer, or nothing is.
    try:
        with transaction():
            context = None
            if form.decision.data == "approve":
                place = next(
                    (p for p in places if str(p.workspace.id) == form.workspace_id.data), None
                )
                if place is None:
                    abort(400)
                context = consent.approve(g.user, client, place, row.scope, oauth_server().storage)
            if not device.decide(row, context):
                raise Answered
    except consent.InstallationNeeded as needed:
        return render_installation_needed(client, needed, user_code=user_code)
    except AccessRefused as error:
        metrics.refused(error.denial)
        return page_error(403, "access_denied", error.description)
    except Answered:
        return closed(row)
    # Post/redirect/get: the answer's page is a GET, so a reload posts nothing again.
    session["device_done"] = ["approved" if context else "denied", client.client_id]
    return redirect(url_for("pages.device_done"))


@bp.get("/device/done")
def device_done() -> Any:
    """What the person just decided on the device page (kept in their session)."""
    if g.user is None:
        return login_redirect()
    outcome, client_id = session.get("device_done") or ["", ""]
    app = db.session.get(App, client_id) if outcome else None
    if app is None:
        return redirect(url_for("pages.device_page"))
    return render_template("device_done.html", outcome=outcome, client=app)
