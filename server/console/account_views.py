"""Console pages about me: the apps I have authorized, and revoking them."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from server import clients
from server.console import act, bp, confirmation, tenant_nav
from server.console.forms import ActionForm
from server.extensions import db
from server.models import Tenant
from server.pages.words import permission_words


@bp.get("/authorized")
def authorized() -> Any:
    rows = clients.list_authorizations(g.user)
    owner_ids = {app.tenant_id for _a, app in rows}
    owners = (
        {t.id: t for t in db.session.scalars(select(Tenant).where(Tenant.id.in_(owner_ids)))}
        if owner_ids
        else {}
    )
    places = clients.authorized_places(g.user, [app.client_id for _a, app in rows])
    items = [
        {
            "authorization": authorization,
            "app": app,
            "places": places.get(app.client_id, []),
            "owner": owners.get(app.tenant_id),
            "permissions": permission_words(list(authorization.permissions)),
        }
        for authorization, app in rows
    ]
    return render_template(
        "console/authorized.html", items=items, action_form=ActionForm(), **tenant_nav(None)
    )


@bp.get("/requests")
def my_requests() -> Any:
    return render_template(
        "console/requests.html", rows=clients.my_requests(g.user), **tenant_nav(None)
    )


@bp.get("/authorized/<client_id>/revoke")
def confirm_revoke(client_id: str) -> Any:
    return confirmation(
        "console/confirm_revoke.html",
        lambda: clients.revoke_effect(g.user, client_id),
        lambda _effect: None,
    )


@bp.post("/authorized/<client_id>/revoke")
def revoke(client_id: str) -> Any:
    if ActionForm().validate_on_submit():
        act(
            lambda: clients.revoke_authorization(g.user, client_id),
            _("Access revoked: the app's tokens for you stopped working."),
            "destructive",
        )
    return redirect(url_for("console.authorized"))
