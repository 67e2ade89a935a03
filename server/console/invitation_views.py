"""Console pages about invitations: mine to accept or decline, and a tenant's for its admins."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField

from grants.vocabulary import Role
from server import tenants
from server.console import act, bp, field_errors, shown, tenant_nav
from server.console.forms import ActionForm
from server.errors import DomainError
from server.extensions import db, transaction
from server.models import User


class InviteForm(FlaskForm):
    """Invite by email; the domain checks the email and role."""

    email = StringField(_l("Email"))
    role = StringField(_l("Role"), default=Role.MEMBER)


@bp.get("/invitations")
def my_invitations() -> Any:
    return render_template(
        "console/invitations.html",
        rows=tenants.my_invitations(g.user),
        action_form=ActionForm(),
        section="invitations",
        **tenant_nav(None),
    )


@bp.post("/invitations/<id:invitation_id>/accept")
def accept_invitation(invitation_id: int) -> Any:
    if ActionForm().validate_on_submit():
        done = act(
            lambda: tenants.accept_invitation(g.user, invitation_id),
            _("Invitation accepted: you are now a member."),
        )
        if done is not None:
            return redirect(url_for("console.tenant", tenant_id=done[1].id))
    return redirect(url_for("console.my_invitations"))


@bp.post("/invitations/<id:invitation_id>/decline")
def decline_invitation(invitation_id: int) -> Any:
    if ActionForm().validate_on_submit():
        act(
            lambda: tenants.decline_invitation(g.user, invitation_id),
            _("Invitation declined."),
        )
    return redirect(url_for("console.my_invitations"))


@bp.get("/tenants/<id:tenant_id>/invitations")
def tenant_invitations(tenant_id: int) -> Any:
    return _invitations_page(tenant_id, InviteForm(formdata=None), {})


def _invitations_page(tenant_id: int, form: InviteForm, errors: dict[str, str]) -> Any:
    rows = shown(lambda: tenants.list_invitations(g.user, tenant_id))
    if not isinstance(rows, list):
        return rows
    inviters = {i.invited_by for i in rows if i.invited_by is not None}
    people = (
        {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(inviters)))}
        if inviters
        else {}
    )
    nav = tenant_nav(tenant_id)
    return render_template(
        "console/tenant_invitations.html",
        rows=rows,
        people=people,
        # The roles the actor may give, the least first (the form's default).
        roles=[r for r in reversed(Role) if Role(nav["role"]).may_grant(r)],
        expired=tenants.expired,
        invitation_days=tenants.INVITATION_DAYS,
        invite_form=form,
        errors=errors,
        action_form=ActionForm(),
        section="invitations",
        **nav,
    ), (422 if errors else 200)


@bp.post("/tenants/<id:tenant_id>/invitations")
def invite(tenant_id: int) -> Any:
    form = InviteForm()
    if form.validate_on_submit():
        try:
            with transaction():
                tenants.invite(
                    g.user, tenant_id, (form.email.data or "").strip(), form.role.data or ""
                )
        except DomainError as exc:
            return _invitations_page(tenant_id, form, field_errors(exc))
        else:
            flash(
                ngettext(
                    "Invitation sent. It is valid for %(num)d day.",
                    "Invitation sent. It is valid for %(num)d days.",
                    tenants.INVITATION_DAYS,
                ),
                "notice",
            )
    return redirect(url_for("console.tenant_invitations", tenant_id=tenant_id))


@bp.post("/tenants/<id:tenant_id>/invitations/<id:invitation_id>/cancel")
def cancel_invitation(tenant_id: int, invitation_id: int) -> Any:
    if ActionForm().validate_on_submit():
        act(
            lambda: tenants.cancel_invitation(g.user, tenant_id, invitation_id),
            _("Invitation cancelled."),
        )
    return redirect(url_for("console.tenant_invitations", tenant_id=tenant_id))
