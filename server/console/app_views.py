"""Console pages about one app: create, edit, status, secret, keys, authorization, delete."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode

from flask import abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from server import clients
from server.console import act, bp, shown, tenant_nav
from server.console.forms import ActionForm, AppForm, DeleteForm, KeyForm, NewAppForm
from server.errors import DomainError
from server.extensions import db
from server.models import App, Installation
from server.permissions import CATALOGUE
from server.web import error_response


def _app_or_error(client_id: str) -> App | Any:
    return shown(lambda: clients.get_app(g.user, client_id))


def _reveal(template_args: dict[str, Any]) -> Any:
    """The one response that shows a secret or a private key; never stored, never cached."""
    return render_template("console/revealed.html", **template_args)


@bp.route("/tenants/<id:tenant_id>/apps/new", methods=["GET", "POST"])
def new_app(tenant_id: int) -> Any:
    nav = tenant_nav(tenant_id)
    if nav["current_tenant"] is None:
        return error_response(404, "not_found", _("Tenant not found."), "html")
    form = NewAppForm()
    error = None
    if form.validate_on_submit():
        try:
            app, secret = clients.register_app(
                g.user,
                tenant_id,
                name=form.name.data or "",
                client_type=form.client_type.data or "",
                description=form.description.data or "",
                redirect_uris=form.uri_list(),
                permissions=list(form.permissions.data or []),
            )
            key, private_pem = None, None
            if app.client_type == "service":
                key, private_pem = clients.add_key(g.user, app.client_id)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
        else:
            flash(_("App %(name)s created.", name=app.name), "notice")
            return _reveal({"app": app, "secret": secret, "key": key, "private_pem": private_pem})
    return render_template(
        "console/app_new.html", form=form, error=error, catalogue=CATALOGUE, **nav
    ), (422 if error else 200)


@bp.get("/apps/<client_id>")
def app_detail(client_id: str) -> Any:
    app = _app_or_error(client_id)
    if not isinstance(app, App):
        return app
    form = AppForm(
        name=app.name,
        description=app.description,
        redirect_uris="\n".join(app.redirect_uris),
        permissions=list(app.permissions),
    )
    return _render_detail(app, form, None)


def _render_detail(app: App, form: AppForm, error: str | None) -> Any:
    keys = clients.list_keys(g.user, app.client_id) if app.client_type == "service" else []
    own_installation = db.session.scalar(
        select(Installation).where(
            Installation.tenant_id == app.tenant_id, Installation.client_id == app.client_id
        )
    )
    nav = tenant_nav(app.tenant_id)
    return render_template(
        "console/app.html",
        try_it=_try_it(app),
        app=app,
        form=form,
        error=error,
        keys=keys,
        key_form=KeyForm(),
        action_form=ActionForm(),
        own_installation=own_installation,
        catalogue=CATALOGUE,
        is_admin=nav["role"] in ("super_admin", "admin"),
        **nav,
    ), (422 if error else 200)


def _try_it(app: App) -> dict[str, str]:
    """Links and commands to try the app's flow by hand (a fresh state and PKCE pair each time)."""
    issuer = current_app.config["OAUTH_ISSUER"]
    if app.client_type == "device":
        return {"start": f"curl -d client_id={app.client_id} {issuer}/oauth/device_authorization"}
    if app.client_type not in ("web", "pkce") or not app.redirect_uris:
        return {}
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uris[0],
        "state": secrets.token_urlsafe(8),
    }
    result = {}
    if app.client_type == "pkce":
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        params["code_challenge"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        params["code_challenge_method"] = "S256"
        result["verifier"] = verifier
    result["authorize"] = "/oauth/authorize?" + urlencode(params)
    return result


@bp.post("/apps/<client_id>")
def edit_app(client_id: str) -> Any:
    app = _app_or_error(client_id)
    if not isinstance(app, App):
        return app
    form = AppForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        clients.update_app(
            g.user,
            client_id,
            name=form.name.data or "",
            description=form.description.data or "",
            redirect_uris=form.uri_list() if app.client_type in ("web", "pkce") else None,
            permissions=list(form.permissions.data or []),
        )
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        app = db.session.get(App, client_id)
        return _render_detail(app, form, exc.message)
    flash(_("Changes saved."), "notice")
    return redirect(url_for("console.app_detail", client_id=client_id))


@bp.post("/apps/<client_id>/enable")
def enable_app(client_id: str) -> Any:
    if ActionForm().validate_on_submit():
        act(
            lambda: clients.set_status(g.user, client_id, "enabled"),
            _("Enabled: the app's unexpired tokens work again."),
        )
    return redirect(url_for("console.app_detail", client_id=client_id))


@bp.post("/apps/<client_id>/disable")
def disable_app(client_id: str) -> Any:
    if ActionForm().validate_on_submit():
        act(
            lambda: clients.set_status(g.user, client_id, "disabled"),
            _("Disabled: all of the app's tokens are suspended."),
        )
    return redirect(url_for("console.app_detail", client_id=client_id))


@bp.post("/apps/<client_id>/secret")
def rotate_secret(client_id: str) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    secret = act(
        lambda: clients.rotate_secret(g.user, client_id),
        _("New secret created. The old one no longer works."),
    )
    if secret is None:
        return redirect(url_for("console.app_detail", client_id=client_id))
    app = db.session.get(App, client_id)
    return _reveal({"app": app, "secret": secret, "rotated": True})


@bp.post("/apps/<client_id>/keys")
def add_key(client_id: str) -> Any:
    """Generate a pair (the private key is shown once) or register an uploaded public key."""
    form = KeyForm()
    if not form.validate_on_submit():
        abort(400)
    uploaded = (form.public_key.data or "").strip() or None
    done = _("Public key registered.") if uploaded else _("Key pair generated.")
    result = act(lambda: clients.add_key(g.user, client_id, uploaded), done)
    if result is None or uploaded:
        return redirect(url_for("console.app_detail", client_id=client_id))
    key, private_pem = result
    app = db.session.get(App, client_id)
    return _reveal({"app": app, "key": key, "private_pem": private_pem})


@bp.post("/apps/<client_id>/keys/<kid>/delete")
def delete_key(client_id: str, kid: str) -> Any:
    if ActionForm().validate_on_submit():
        act(
            lambda: clients.delete_key(g.user, client_id, kid),
            _("Key removed: assertions signed with it are refused from now on."),
        )
    return redirect(url_for("console.app_detail", client_id=client_id))


@bp.post("/apps/<client_id>/authorize")
def authorize_app(client_id: str) -> Any:
    if ActionForm().validate_on_submit():
        act(
            lambda: clients.authorize_service_app(g.user, client_id),
            _("Authorized: the app can now get AppAuth tokens for this tenant."),
        )
    return redirect(url_for("console.app_detail", client_id=client_id))


@bp.route("/apps/<client_id>/delete", methods=["GET", "POST"])
def delete_app(client_id: str) -> Any:
    app = _app_or_error(client_id)
    if not isinstance(app, App):
        return app
    form = DeleteForm()
    error = None
    if form.validate_on_submit():
        if (form.confirm_name.data or "").strip() != app.name:
            error = _("The name you typed does not match. The app was not deleted.")
        else:
            tenant_id, name = app.tenant_id, app.name
            try:
                clients.delete_app(g.user, client_id)
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                flash(exc.message, "error")
                return redirect(url_for("console.app_detail", client_id=client_id))
            flash(_("%(name)s was deleted. Its tokens no longer work.", name=name), "notice")
            return redirect(url_for("console.tenant", tenant_id=tenant_id))
    return render_template(
        "console/app_delete.html", app=app, form=form, error=error, **tenant_nav(app.tenant_id)
    ), (422 if error else 200)
