"""The app console: tenants, apps, keys, installations, authorized apps and the audit log.

Every action calls the same domain functions as the management API (server.clients and
server.tenants) as the signed-in user, commits, and says what happened. Forms carry CSRF
tokens. Secrets and private keys appear only in the response to the POST that made them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, abort, flash, g, redirect, request, url_for

from server import tenants
from server.accounts import current_user
from server.errors import DomainError
from server.extensions import db
from server.web import error_response

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
    return None


@bp.after_request
def no_store(response: Response) -> Response:
    # Console pages show what only this person may see: never keep them in a shared cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def act(action: Callable[[], T], done: str) -> T | None:
    """Run a domain action and commit, flashing `done`; on a DomainError roll back and flash it."""
    try:
        result = action()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return None
    flash(done, "notice")
    return result


def shown(action: Callable[[], T]) -> T | Response:
    """Run a read; a DomainError (absent, another tenant's, not allowed) becomes its error page."""
    try:
        return action()
    except DomainError as exc:
        db.session.rollback()
        return error_response(exc.status, exc.code, exc.message, "html")


def tenant_nav(tenant_id: int | None) -> dict[str, Any]:
    """What the console's side navigation needs about the current tenant."""
    current = next(((t, r) for t, r in g.tenants if t.id == tenant_id), None)
    if current is None:
        return {"current_tenant": None, "role": None}
    return {"current_tenant": current[0], "role": current[1]}


def _b64encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def init_app(app: Flask) -> None:
    # For the private key's download link (a data: URL), built in the response that shows it.
    app.jinja_env.filters["b64encode"] = _b64encode
    app.register_blueprint(bp)


# The views, registered on `bp` when imported.
from server.console import account_views, app_views, invitation_views, tenant_views  # noqa: E402, F401, I001
