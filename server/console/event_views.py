"""Console pages for an app's event subscriptions and their delivery log (admins)."""

from __future__ import annotations

from typing import Any

from flask import abort, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField

from server.console import act, bp, field_errors, once, shown, tenant_nav
from server.console.forms import ActionForm, ValuesField
from server.errors import DomainError
from server.events import EVENT_TYPES, subscriptions
from server.extensions import db, transaction
from server.models import App, EventSubscription


class SubscriptionForm(FlaskForm):
    url = StringField(_l("Endpoint URL"))
    events = ValuesField(_l("Events"), default=list)


def _page(client_id: str, form: SubscriptionForm, errors: dict[str, str] | None = None) -> Any:
    def load() -> tuple[App, list[EventSubscription]]:
        items = subscriptions.list_subscriptions(g.user, client_id)
        return db.session.get(App, client_id), items

    loaded = shown(load)
    if not isinstance(loaded, tuple):
        return loaded
    app, items = loaded
    return render_template(
        "console/subscriptions.html",
        app=app,
        items=items,
        form=form,
        errors=errors or {},
        event_types=EVENT_TYPES,
        action_form=ActionForm(),
        **tenant_nav(app.tenant_id),
    ), (422 if errors else 200)


@bp.get("/apps/<client_id>/events")
def subscriptions_page(client_id: str) -> Any:
    return _page(client_id, SubscriptionForm(events=["*"]))


@bp.post("/apps/<client_id>/events")
def add_subscription(client_id: str) -> Any:
    form = SubscriptionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        with transaction():
            created, secret = subscriptions.create_subscription(
                g.user, client_id, (form.url.data or "").strip(), list(form.events.data or [])
            )
    except DomainError as exc:
        return _page(client_id, form, field_errors(exc))
    once.keep(_added(client_id), url=created.url, secret=secret)
    return redirect(url_for("console.subscription_added", client_id=client_id), 303)


def _added(client_id: str) -> str:
    return f"app:{client_id}:subscription"


@bp.get("/apps/<client_id>/events/added")
def subscription_added(client_id: str) -> Any:
    """The one page that shows a new subscription's signing secret; a reload finds it gone."""
    allowed = shown(lambda: subscriptions.list_subscriptions(g.user, client_id))
    if not isinstance(allowed, list):
        return allowed
    app = db.session.get(App, client_id)
    added = once.take(_added(client_id)) or {}
    return render_template(
        "console/subscription_created.html",
        app=app,
        url=added.get("url"),
        secret=added.get("secret"),
        gone=not added,
        **tenant_nav(app.tenant_id),
    )


@bp.get("/subscriptions/<id:subscription_id>/delete")
def confirm_delete_subscription(subscription_id: int) -> Any:
    effect = shown(lambda: subscriptions.deletion_effect(g.user, subscription_id))
    if not isinstance(effect, dict):
        return effect
    app = db.session.get(App, effect["subscription"].client_id)
    return render_template(
        "console/confirm_subscription.html",
        app=app,
        effect=effect,
        form=ActionForm(),
        **tenant_nav(app.tenant_id),
    )


@bp.post("/subscriptions/<id:subscription_id>/delete")
def delete_subscription(subscription_id: int) -> Any:
    subscription = shown(lambda: subscriptions.get_subscription(g.user, subscription_id))
    if not isinstance(subscription, EventSubscription):
        return subscription
    client_id = subscription.client_id
    if ActionForm().validate_on_submit():
        act(
            lambda: subscriptions.delete_subscription(g.user, subscription_id),
            _("Subscription deleted: no more events go to that URL."),
            "destructive",
        )
    return redirect(url_for("console.subscriptions_page", client_id=client_id))


@bp.get("/subscriptions/<id:subscription_id>")
def deliveries(subscription_id: int) -> Any:
    loaded = shown(lambda: subscriptions.deliveries(g.user, subscription_id, limit=100))
    if not isinstance(loaded, tuple):
        return loaded
    subscription, rows = loaded
    app = db.session.get(App, subscription.client_id)
    return render_template(
        "console/deliveries.html",
        app=app,
        subscription=subscription,
        rows=rows,
        action_form=ActionForm(),
        **tenant_nav(app.tenant_id if app else None),
    )


@bp.post("/subscriptions/<id:subscription_id>/deliveries/<id:delivery_id>/redeliver")
def redeliver(subscription_id: int, delivery_id: int) -> Any:
    if ActionForm().validate_on_submit():
        act(
            lambda: subscriptions.redeliver(g.user, subscription_id, delivery_id),
            _("Queued again: the worker delivers it shortly, with the same event id."),
        )
    return redirect(url_for("console.deliveries", subscription_id=subscription_id))
