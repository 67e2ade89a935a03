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

from grants.vocabulary import ADMIN_ROLES, AppKind, AppStatus, ClientType, CodeChallengeMethod
from server import clients, connectors
from server.console import act, bp, confirmation, field_errors, once, shown, tenant_nav
from server.console.forms import (
    ActionForm,
    AppForm,
    BindForm,
    DeleteForm,
    KeyForm,
    NewAppForm,
    RotateForm,
)
from server.errors import DomainError
from server.extensions import db, transaction
from server.models import App, Installation
from server.pages.errors import error as page_error
from server.permissions import CATALOGUE, PRIVILEGED_CATALOGUE, catalogue_for


def _app_or_error(client_id: str) -> App | Any:
    return shown(lambda: clients.get_app(g.user, client_id))


def _reveal(client_id: str, **result: Any) -> Any:
    """Hold a one-time result for the page after the redirect, and go there."""
    once.keep(client_id, **result)
    return redirect(url_for("console.revealed", client_id=client_id), 303)


@bp.get("/apps/<client_id>/revealed")
def revealed(client_id: str) -> Any:
    """The one page that shows a secret or a private key; a reload finds it gone."""
    app = _app_or_error(client_id)
    if not isinstance(app, App):
        return app
    shown_once = once.take(client_id) or {}
    return render_template(
        "console/revealed.html",
        app=app,
        secret=shown_once.get("secret"),
        kid=shown_once.get("kid"),
        private_pem=shown_once.get("private_pem"),
        event=shown_once.get("event"),
        gone=not shown_once,
        own_installation=_own_installation(app),
        **tenant_nav(app.tenant_id),
    )


def _own_installation(app: App) -> Installation | None:
    return db.session.scalar(
        select(Installation).where(
            Installation.tenant_id == app.tenant_id, Installation.client_id == app.client_id
        )
    )


@bp.route("/tenants/<id:tenant_id>/apps/new", methods=["GET", "POST"])
def new_app(tenant_id: int) -> Any:
    nav = tenant_nav(tenant_id)
    if nav["current_tenant"] is None:
        return page_error(404, "not_found", _("Tenant not found."))
    form = NewAppForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            with transaction():
                app, secret = clients.register_app(
                    g.user,
                    tenant_id,
                    name=form.name.data or "",
                    client_type=form.client_type.data or "",
                    description=form.description.data or "",
                    # The field is hidden for the types that take none; what it held is not sent.
                    redirect_uris=form.uri_list() if _takes_uris(form.client_type.data) else [],
                    permissions=list(form.permissions.data or []),
                    app_kind=form.app_kind.data or AppKind.NORMAL,
                )
                key, private_pem = None, None
                if app.uses_keys:
                    key, private_pem = clients.add_key(g.user, app.client_id)
        except DomainError as exc:
            errors = field_errors(exc)
        else:
            flash(_("App %(name)s created.", name=app.name), "notice")
            return _reveal(
                app.client_id,
                event="created",
                secret=secret,
                kid=key.kid if key else None,
                private_pem=private_pem,
            )
    team = nav["current_tenant"].is_team
    return render_template(
        "console/app_new.html",
        form=form,
        errors=errors,
        catalogue=CATALOGUE,
        privileged_catalogue=PRIVILEGED_CATALOGUE if team else None,
        **nav,
    ), (422 if errors else 200)


@bp.get("/apps/<client_id>")
def app_detail(client_id: str) -> Any:
    app = _app_or_error(client_id)
    if not isinstance(app, App):
        return app
    return _render_detail(app, _settings_form(app), {})


def _takes_uris(client_type: str | None) -> bool:
    """The form's chosen type has redirect URIs (the field is hidden for the others)."""
    return client_type in tuple(ClientType) and ClientType(client_type).uses_redirect_uris


def _settings_form(app: App) -> AppForm:
    return AppForm(
        formdata=None,
        name=app.name,
        description=app.description,
        redirect_uris="\n".join(app.redirect_uris),
        permissions=list(app.permissions),
    )


def _render_detail(
    app: App, form: AppForm, errors: dict[str, str], key_form: KeyForm | None = None
) -> Any:
    keys = clients.list_keys(g.user, app.client_id) if app.uses_keys else []
    own_installation = _own_installation(app)
    nav = tenant_nav(app.tenant_id)
    return render_template(
        "console/app.html",
        try_it=_try_it(app),
        app=app,
        form=form,
        errors=errors,
        keys=keys,
        key_form=key_form or KeyForm(formdata=None),
        action_form=ActionForm(),
        own_installation=own_installation,
        catalogue=catalogue_for(app.app_kind),
        connectors=connectors.list_connectors(g.user, app.tenant_id) if app.needs_connector else [],
        bind_form=BindForm(),
        previous_secret_until=clients.previous_secret_until(app),
        is_admin=nav["role"] in ADMIN_ROLES,
        **nav,
    ), (422 if errors else 200)


def _try_it(app: App) -> dict[str, str]:
    """Links and commands to try the app's flow by hand (a fresh state and PKCE pair each time)."""
    issuer = current_app.config["OAUTH_ISSUER"]
    if app.uses_device_flow:
        return {"start": f"curl -d client_id={app.client_id} {issuer}/oauth/device_authorization"}
    if not app.uses_redirect_uris or not app.redirect_uris:
        return {}
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uris[0],
        "state": secrets.token_urlsafe(8),
    }
    result = {}
    if not app.has_secret:  # a public client proves itself with PKCE
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        params["code_challenge"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        params["code_challenge_method"] = CodeChallengeMethod.S256
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
        with transaction():
            clients.update_app(
                g.user,
                client_id,
                name=form.name.data or "",
                description=form.description.data or "",
                redirect_uris=form.uri_list() if app.uses_redirect_uris else None,
                permissions=list(form.permissions.data or []),
            )
    except DomainError as exc:
        app = db.session.get(App, client_id)
        return _render_detail(app, form, field_errors(exc))
    flash(_("Changes saved."), "notice")
    return redirect(url_for("console.app_detail", client_id=client_id))


@bp.post("/apps/<client_id>/connector")
def bind_connector(client_id: str) -> Any:
    """Bind a channel app to a connector, or unbind it (an empty choice)."""
    form = BindForm()
    if form.validate_on_submit():
        raw = (form.connector_id.data or "").strip()
        if raw and not raw.isdigit():
            flash(_("Choose a connector."), "error")
        else:
            act(
                lambda: clients.update_app(
                    g.user, client_id, connector_id=int(raw) if raw else None
                ),
                _(
                    "Bound: the app gets tokens for this connector; tokens of any earlier binding "
                    "stopped working."
                )
                if raw
                else _("Unbound: the app's tokens stopped working."),
                "notice" if raw else "destructive",
            )
    return redirect(url_for("console.app_detail", client_id=client_id))


@bp.post("/apps/<client_id>/enable")
def enable_app(client_id: str) -> Any:
    if ActionForm().validate_on_submit():
        act(
            lambda: clients.set_status(g.user, client_id, AppStatus.ENABLED),
            _("Enabled: the app's unexpired tokens work again."),
        )
    return redirect(url_for("console.app_detail", client_id=client_id))


@bp.post("/apps/<client_id>/disable")
def disable_app(client_id: str) -> Any:
    if ActionForm().validate_on_submit():
        act(
            lambda: clients.set_status(g.user, client_id, AppStatus.DISABLED),
            _("Disabled: all of the app's tokens are suspended."),
            "destructive",
        )
    return redirect(url_for("console.app_detail", client_id=client_id))


@bp.get("/apps/<client_id>/secret")
def confirm_rotate_secret(client_id: str) -> Any:
    app = _app_or_error(client_id)
    if not isinstance(app, App):
        return app
    return confirmation(
        "console/confirm_rotate.html",
        lambda: clients.rotation_effect(g.user, client_id),
        lambda _effect: app.tenant_id,
        form=RotateForm(),
        app=app,
    )


@bp.post("/apps/<client_id>/secret")
def rotate_secret(client_id: str) -> Any:
    form = RotateForm()
    if not form.validate_on_submit():
        abort(400)
    grace = int(form.grace_hours.data or 0)
    done = (
        _("New secret created. The old one keeps working for %(hours)s more hours.", hours=grace)
        if grace
        else _("New secret created. The old one no longer works.")
    )
    secret = act(lambda: clients.rotate_secret(g.user, client_id, grace), done)
    if secret is None:
        return redirect(url_for("console.app_detail", client_id=client_id))
    return _reveal(client_id, event="rotated", secret=secret)


@bp.post("/apps/<client_id>/secret/retire")
def retire_secret(client_id: str) -> Any:
    if ActionForm().validate_on_submit():
        act(
            lambda: clients.retire_previous_secret(g.user, client_id),
            _("The old secret no longer works. Only the current secret is accepted."),
            "destructive",
        )
    return redirect(url_for("console.app_detail", client_id=client_id))


@bp.post("/apps/<client_id>/keys")
def add_key(client_id: str) -> Any:
    """Generate a pair (the private key is shown once) or register an uploaded public key."""
    form = KeyForm()
    if not form.validate_on_submit():
        abort(400)
    uploaded = (form.public_key.data or "").strip() or None
    try:
        with transaction():
            key, private_pem = clients.add_key(g.user, client_id, uploaded)
    except DomainError as exc:
        app = _app_or_error(client_id)
        if not isinstance(app, App) or exc.field is None:
            flash(exc.text.render(_), "error")
            return redirect(url_for("console.app_detail", client_id=client_id))
        return _render_detail(app, _settings_form(app), field_errors(exc), form)
    if uploaded:
        flash(_("Public key registered."), "notice")
        return redirect(url_for("console.app_detail", client_id=client_id))
    flash(_("Key pair generated."), "notice")
    return _reveal(client_id, event="key", kid=key.kid, private_pem=private_pem)


@bp.get("/apps/<client_id>/keys/<kid>/delete")
def confirm_delete_key(client_id: str, kid: str) -> Any:
    app = _app_or_error(client_id)
    if not isinstance(app, App):
        return app
    return confirmation(
        "console/confirm_key.html",
        lambda: clients.key_removal_effect(g.user, client_id, kid),
        lambda _effect: app.tenant_id,
        app=app,
        kid=kid,
    )


@bp.post("/apps/<client_id>/keys/<kid>/delete")
def delete_key(client_id: str, kid: str) -> Any:
    if ActionForm().validate_on_submit():
        act(
            lambda: clients.delete_key(g.user, client_id, kid),
            _("Key removed: assertions signed with it are refused from now on."),
            "destructive",
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
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        if (form.confirm_name.data or "").strip() != app.name:
            errors["confirm_name"] = _(
                "The name you typed does not match. The app was not deleted."
            )
        else:
            tenant_id, name = app.tenant_id, app.name
            try:
                with transaction():
                    clients.delete_app(g.user, client_id)
            except DomainError as exc:
                flash(exc.text.render(_), "error")
                return redirect(url_for("console.app_detail", client_id=client_id))
            flash(_("%(name)s was deleted. Its tokens no longer work.", name=name), "destructive")
            return redirect(url_for("console.tenant", tenant_id=tenant_id))
    return render_template(
        "console/app_delete.html", app=app, form=form, errors=errors, **tenant_nav(app.tenant_id)
    ), (422 if errors else 200)
