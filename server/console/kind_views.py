"""Console pages for a team's connectors and its service access tokens (SATs)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from grants.vocabulary import ADMIN_ROLES
from server import connectors, service_tokens, tenants
from server.console import act, bp, confirmation, field_errors, once, shown, tenant_nav
from server.console.forms import ActionForm, ConnectorForm, ServiceTokenForm
from server.errors import DomainError
from server.extensions import db, transaction
from server.models import Connector, ServiceToken
from server.permissions import CATALOGUE
from server.service_tokens import DAYS_PROBLEM, PRESET_DAYS


@bp.get("/tenants/<id:tenant_id>/connectors")
def connector_list(tenant_id: int) -> Any:
    return _connector_page(tenant_id, ConnectorForm(formdata=None), {})


def _connector_page(tenant_id: int, form: ConnectorForm, errors: dict[str, str]) -> Any:
    items = shown(lambda: connectors.list_connectors(g.user, tenant_id))
    if not isinstance(items, list):
        return items
    nav = tenant_nav(tenant_id)
    return render_template(
        "console/connectors.html",
        connectors=items,
        form=form,
        errors=errors,
        action_form=ActionForm(),
        is_admin=nav["role"] in ADMIN_ROLES,
        **nav,
    ), (422 if errors else 200)


@bp.post("/tenants/<id:tenant_id>/connectors")
def create_connector(tenant_id: int) -> Any:
    form = ConnectorForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        with transaction():
            connectors.create_connector(
                g.user,
                tenant_id,
                name=form.name.data or "",
                description=form.description.data or "",
            )
    except DomainError as exc:
        return _connector_page(tenant_id, form, field_errors(exc))
    flash(_("Connector created. Bind channel apps to it on their pages."), "notice")
    return redirect(url_for("console.connector_list", tenant_id=tenant_id))


@bp.post("/connectors/<id:connector_id>")
def edit_connector(connector_id: int) -> Any:
    form = ConnectorForm()
    if not form.validate_on_submit():
        abort(400)
    connector = shown(lambda: connectors.get_connector(g.user, connector_id))
    if not isinstance(connector, Connector):
        return connector
    act(
        lambda: connectors.update_connector(
            g.user, connector_id, name=form.name.data or "", description=form.description.data or ""
        ),
        _("Changes saved."),
    )
    return redirect(url_for("console.connector_list", tenant_id=connector.tenant_id))


@bp.get("/connectors/<id:connector_id>/delete")
def confirm_delete_connector(connector_id: int) -> Any:
    return confirmation(
        "console/confirm_connector.html",
        lambda: connectors.deletion_effect(g.user, connector_id),
        lambda effect: effect["connector"].tenant_id,
    )


@bp.post("/connectors/<id:connector_id>/delete")
def delete_connector(connector_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    connector = shown(lambda: connectors.get_connector(g.user, connector_id))
    if not isinstance(connector, Connector):
        return connector
    tenant_id = connector.tenant_id
    act(
        lambda: connectors.delete_connector(g.user, connector_id),
        _("Connector deleted: its channel apps are unbound and their tokens stopped working."),
        "destructive",
    )
    return redirect(url_for("console.connector_list", tenant_id=tenant_id))


def _token_page(tenant_id: int, form: ServiceTokenForm, errors: dict[str, str]) -> Any:
    items = shown(lambda: service_tokens.list_service_tokens(g.user, tenant_id))
    if not isinstance(items, list):
        return items
    return render_template(
        "console/service_tokens.html",
        tokens=items,
        form=form,
        errors=errors,
        action_form=ActionForm(),
        catalogue=CATALOGUE,
        workspaces=tenants.list_workspaces(g.user, tenant_id),
        presets=PRESET_DAYS,
        **tenant_nav(tenant_id),
    ), (422 if errors else 200)


@bp.get("/tenants/<id:tenant_id>/service-tokens")
def service_token_list(tenant_id: int) -> Any:
    return _token_page(tenant_id, ServiceTokenForm(), {})


@bp.post("/tenants/<id:tenant_id>/service-tokens")
def issue_service_token(tenant_id: int) -> Any:
    """Issue a SAT; the page after the redirect shows it, once."""
    form = ServiceTokenForm()
    if not form.validate_on_submit():
        abort(400)
    days = form.days()
    try:
        with transaction():
            if isinstance(days, str):
                raise DomainError(422, "invalid_value", DAYS_PROBLEM, field="expiry")
            ids = [int(w) for w in form.workspace_ids.data or [] if str(w).isdigit()]
            token, secret = service_tokens.create_service_token(
                g.user,
                tenant_id,
                name=form.name.data or "",
                permission_names=list(form.permissions.data or []),
                workspace_ids=ids,
                expires_in_days=days,
            )
    except DomainError as exc:
        return _token_page(tenant_id, form, field_errors(exc))
    flash(_("Service access token %(name)s issued.", name=token.name), "notice")
    once.keep(_issued(tenant_id), name=token.name, secret=secret)
    return redirect(url_for("console.service_token_issued", tenant_id=tenant_id), 303)


def _issued(tenant_id: int) -> str:
    return f"tenant:{tenant_id}:service-token"


@bp.get("/tenants/<id:tenant_id>/service-tokens/issued")
def service_token_issued(tenant_id: int) -> Any:
    """The one page that shows a new SAT; a reload finds it gone."""
    nav = tenant_nav(tenant_id)
    if nav["current_tenant"] is None:
        return redirect(url_for("console.overview"))
    issued = once.take(_issued(tenant_id)) or {}
    return render_template(
        "console/service_token_revealed.html",
        name=issued.get("name"),
        secret=issued.get("secret"),
        gone=not issued,
        **nav,
    )


@bp.get("/service-tokens/<id:token_id>/revoke")
def confirm_revoke_service_token(token_id: int) -> Any:
    return confirmation(
        "console/confirm_service_token.html",
        lambda: service_tokens.revocation_effect(g.user, token_id),
        lambda effect: effect["token"].tenant_id,
    )


@bp.post("/service-tokens/<id:token_id>/revoke")
def revoke_service_token(token_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    token = db.session.get(ServiceToken, token_id)
    mine = {t.id for t, _role in g.tenants}
    if token is None or token.tenant_id not in mine:
        return redirect(url_for("console.overview"))
    tenant_id = token.tenant_id
    act(
        lambda: service_tokens.revoke_service_token(g.user, token_id),
        _("Revoked: the token no longer works."),
        "destructive",
    )
    return redirect(url_for("console.service_token_list", tenant_id=tenant_id))
