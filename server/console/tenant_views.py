"""Console pages about a tenant: my tenants, a tenant's apps, its installations, its audit log."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from grants.vocabulary import ADMIN_ROLES, AuthType
from server import clients, tenants
from server.audit import ACTION_CODE, CLIENT_ID, USER_ID, filter_value
from server.console import act, bp, confirmation, field_errors, shown, tenant_nav
from server.console.forms import ActionForm, ApproveForm, InstallForm
from server.errors import DomainError, Msg
from server.extensions import db, transaction
from server.models import App, User
from server.pages.errors import error as page_error
from server.pages.words import ACTIONS

AUDIT_PAGE = 50


@bp.get("/")
def overview() -> Any:
    counts = dict(
        db.session.execute(
            select(App.tenant_id, func.count())
            .where(App.tenant_id.in_([t.id for t, _role in g.tenants]))
            .group_by(App.tenant_id)
        ).all()
    )
    authorized = clients.list_authorizations(g.user)
    return render_template(
        "console/overview.html",
        counts=counts,
        authorized_count=len(authorized),
        **tenant_nav(None),
    )


@bp.get("/tenants/<id:tenant_id>")
def tenant(tenant_id: int) -> Any:
    apps = shown(lambda: clients.list_apps(g.user, tenant_id))
    if not isinstance(apps, list):
        return apps
    return render_template(
        "console/tenant.html", apps=apps, is_admin=_is_admin(tenant_id), **tenant_nav(tenant_id)
    )


def _is_admin(tenant_id: int) -> bool:
    return tenant_nav(tenant_id)["role"] in ADMIN_ROLES


def _users(ids: set[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}


@bp.get("/tenants/<id:tenant_id>/installations")
def installations(tenant_id: int) -> Any:
    return _render_installations(tenant_id, InstallForm(formdata=None), {})


def _render_installations(tenant_id: int, install_form: InstallForm, errors: dict[str, str]) -> Any:
    rows = shown(lambda: clients.list_installations(g.user, tenant_id))
    if not isinstance(rows, list):
        return rows
    people = _users({i.requested_by for i, _a in rows} | {i.installed_by for i, _a in rows})
    return render_template(
        "console/installations.html",
        rows=rows,
        people=people,
        is_admin=_is_admin(tenant_id),
        install_form=install_form,
        errors=errors,
        action_form=ApproveForm(),
        **tenant_nav(tenant_id),
    ), (422 if errors else 200)


@bp.post("/tenants/<id:tenant_id>/installations")
def install(tenant_id: int) -> Any:
    """Install an app by client_id (any tenant's), or approve a pending request."""
    form = InstallForm()
    if not form.validate_on_submit():
        abort(400)
    client_id = (form.client_id.data or "").strip()
    try:
        with transaction():
            if not client_id:
                raise DomainError(
                    422,
                    "invalid_value",
                    "client_id is required",
                    field="client_id",
                    text=Msg("Enter the app's client ID."),
                )
            clients.install(g.user, tenant_id, client_id, form.kind.data or "")
    except DomainError as exc:
        errors = (
            {"client_id": _("No app has this client ID.")}
            if exc.code == "not_found" and exc.message.startswith("app")
            else field_errors(exc)
        )
        if "form" in errors:
            flash(errors["form"], "error")
            return redirect(url_for("console.installations", tenant_id=tenant_id))
        return _render_installations(tenant_id, form, errors)
    flash(_("The app is installed."), "notice")
    return redirect(url_for("console.installations", tenant_id=tenant_id))


@bp.post("/tenants/<id:tenant_id>/installations/<client_id>/approve")
def approve_installation(tenant_id: int, client_id: str) -> Any:
    form = ApproveForm()
    if form.validate_on_submit():
        act(
            lambda: clients.install(g.user, tenant_id, client_id, form.kind.data or AuthType.OBO),
            _("Installation approved: members can now authorize the app."),
        )
    return redirect(url_for("console.installations", tenant_id=tenant_id))


@bp.get("/tenants/<id:tenant_id>/installations/<client_id>/uninstall")
def confirm_uninstall(tenant_id: int, client_id: str) -> Any:
    return confirmation(
        "console/confirm_uninstall.html",
        lambda: clients.uninstall_effect(g.user, tenant_id, client_id),
        lambda _effect: tenant_id,
    )


@bp.post("/tenants/<id:tenant_id>/installations/<client_id>/uninstall")
def uninstall(tenant_id: int, client_id: str) -> Any:
    if ActionForm().validate_on_submit():
        act(
            lambda: clients.uninstall(g.user, tenant_id, client_id),
            _("Uninstalled: the app's tokens in this tenant stopped working."),
            "destructive",
        )
    return redirect(url_for("console.installations", tenant_id=tenant_id))


@bp.get("/tenants/<id:tenant_id>/audit")
def audit(tenant_id: int) -> Any:
    before = request.args.get("before", type=int)
    if before is not None and before < 1:
        return page_error(400, "bad_request", _("Invalid page."))
    action, actor, target = (request.args.get(k, "") for k in ("action", "actor", "app"))
    shapes = ((ACTION_CODE, action, False), (USER_ID, actor, True), (CLIENT_ID, target, False))
    if not all(filter_value(p, value, int64=int64) for p, value, int64 in shapes if value):
        return page_error(400, "bad_request", _("Invalid filter."))
    wanted = {
        "action": action or None,
        "actor_user_id": int(actor) if actor else None,
        "target": target or None,
    }
    entries = shown(
        lambda: tenants.audit_entries(
            g.user, tenant_id, limit=AUDIT_PAGE + 1, before=before, **wanted
        )
    )
    if not isinstance(entries, list):
        return entries
    more = len(entries) > AUDIT_PAGE
    entries = entries[:AUDIT_PAGE]
    members = {u.id: u for u, _role in tenants.list_members(g.user, tenant_id)}
    return render_template(
        "console/audit.html",
        entries=entries,
        members=members,
        apps={a.client_id: a.name for a in clients.list_apps(g.user, tenant_id)},
        actions=ACTIONS,
        wanted=wanted,
        next_before=entries[-1].id if more else None,
        **tenant_nav(tenant_id),
    )
