"""The app console: tenants, apps, keys, installations, authorized apps and the audit log.

Every action calls the same domain functions as the management API (server.clients and
server.tenants) as the signed-in user, commits, says what happened and redirects (post/redirect/
get). Forms carry CSRF tokens and a nonce that makes a second submission do nothing
(server.console.once); secrets and private keys are shown once on the page after the redirect.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_wtf import FlaskForm

from server import clients, tenants
from server.accounts import current_user
from server.console import once
from server.console.forms import ActionForm
from server.errors import DomainError
from server.extensions import db, transaction
from server.pages.errors import error as page_error

bp = Blueprint("console", __name__, url_prefix="/console")

T = TypeVar("T")


@bp.before_request
def require_user() -> Response | None:
    g.user = current_user()
    if g.user is None:
        if request.method != "GET":
            abort(401)
        return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
    g.tenants = tenants.list_tenants(g.user)
    # For the badges in the navigation: requests waiting for this admin, by tenant.
    g.pending = clients.pending_requests(g.user)
    if request.method == "POST":
        return once.claim()
    return None


@bp.after_request
def no_store(response: Response) -> Response:
    # Console pages show what only this person may see: never keep them in a shared cache.
    response.headers["Cache-Control"] = "no-store"
    if request.method == "POST":
        once.settle(response)
    return response


def act(action: Callable[[], T], done: str, category: str = "notice") -> T | None:
    """Run a domain action and commit, flashing `done` (a "notice", or "destructive" when
    something ended); on a DomainError roll back and flash it."""
    try:
        with transaction():
            result = action()
    except DomainError as exc:
        flash(exc.text.render(gettext), "error")
        return None
    flash(done, category)
    return result


def field_errors(exc: DomainError) -> dict[str, str]:
    """A domain error as a form shows it: translated, under its field (or the whole form's)."""
    return {exc.field or "form": exc.text.render(gettext)}


def shown(action: Callable[[], T]) -> T | Response:
    """Run a read; a DomainError (absent, another tenant's, not allowed) becomes its error page."""
    try:
        return action()
    except DomainError as exc:
        db.session.rollback()
        return page_error(exc.status, exc.code, exc.text.render(gettext))


def confirmation(
    template: str,
    effect_of: Callable[[], dict[str, Any]],
    tenant_of: Callable[[dict[str, Any]], int | None],
    form: FlaskForm | None = None,
    **context: Any,
) -> Any:
    """A destructive step's confirmation page, stating its effect in numbers; the error page
    when the effect cannot be read (absent, another tenant's, not allowed)."""
    effect = shown(effect_of)
    if not isinstance(effect, dict):
        return effect
    return render_template(
        template,
        effect=effect,
        form=form or ActionForm(),
        **context,
        **tenant_nav(tenant_of(effect)),
    )


def tenant_nav(tenant_id: int | None) -> dict[str, Any]:
    """What the console's side navigation needs about the current tenant."""
    current = next(((t, r) for t, r in g.tenants if t.id == tenant_id), None)
    if current is None:
        return {"current_tenant": None, "role": None}
    return {"current_tenant": current[0], "role": current[1]}


def _b64encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _epoch_datetime(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def init_app(app: Flask) -> None:
    # For the private key's download link (a data: URL), built in the response that shows it.
    app.jinja_env.filters["b64encode"] = _b64encode
    app.jinja_env.filters["epoch_datetime"] = _epoch_datetime
    app.jinja_env.globals["form_nonce"] = once.new_nonce
    app.register_blueprint(bp)


# The views, registered on `bp` when imported.
from server.console import (  # noqa: E402, F401, I001
    account_views,
    app_views,
    event_views,
    invitation_views,
    kind_views,
    tenant_views,
)
