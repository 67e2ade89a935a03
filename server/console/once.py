"""Console forms that act at most once, and one-time results that are shown at most once.

Every console form carries a nonce (`form_nonce`). The first POST with it claims it in the
shared store and the place its answer redirected to is kept, so a second submission (a reload,
a double click, the back button) changes nothing and lands where the first did. A secret or
private key made by a POST is kept encrypted in the store for a few minutes, under an id and a
key held only in the person's session; the page after the redirect takes it: shown once, gone.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import Response, abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _

from server.store import Store

NONCE_FIELD = "form_nonce"
NONCE_TTL = 24 * 3600
REVEAL_TTL = 600
# How long a second submission waits for the first one's answer (a double click).
SETTLE_WAIT = 5.0
_NONCE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def _store() -> Store:
    return current_app.extensions["store"]


def new_nonce() -> str:
    """A fresh nonce for one rendered form (a Jinja global: `form_nonce()`)."""
    return secrets.token_urlsafe(16)


def claim() -> Response | None:
    """Before a console POST: claim its nonce; a nonce already claimed answers with a redirect
    to where its first submission went, and nothing is done again."""
    nonce = request.form.get(NONCE_FIELD)
    if nonce is None:
        return None
    if not _NONCE.match(nonce):
        abort(400)
    key = f"console:form:{g.user.id}:{nonce}"
    if _store().add(key, "", NONCE_TTL):
        g.form_nonce_key = key
        return None
    flash(_("This form was already sent. Nothing was done again."), "notice")
    return redirect(_first_answer(key) or url_for("console.overview"), 303)


def _first_answer(key: str) -> str | None:
    """Where the first submission's answer went; while it is still being served (a double
    click), wait for it a little, so that both clicks land on the same page."""
    deadline = time.monotonic() + SETTLE_WAIT
    location = _store().get(key)
    while location == "" and time.monotonic() < deadline:
        time.sleep(0.05)
        location = _store().get(key)
    return location


def settle(response: Response) -> Response:
    """After a console POST: keep where a claimed nonce's answer went. A validation error did
    nothing, so its nonce is released and the same form may be sent again once corrected."""
    key = g.pop("form_nonce_key", None)
    if key is None:
        return response
    if response.status_code in (301, 302, 303) and response.location:
        _store().put(key, response.location, NONCE_TTL)
    else:
        _store().delete(key)
    return response


def keep(subject: str, **shown: Any) -> None:
    """Hold a one-time result for the next page: encrypted in the store, the key in the session.
    `subject` names what it belongs to (an app's client_id, a tenant's tokens), so that only
    the page of that subject shows it."""
    reveal_id, key = secrets.token_urlsafe(16), Fernet.generate_key()
    payload = json.dumps({"user": g.user.id, "subject": subject, **shown})
    _store().put(
        f"console:reveal:{reveal_id}", Fernet(key).encrypt(payload.encode()).decode(), REVEAL_TTL
    )
    session["reveal"] = f"{reveal_id}:{key.decode()}"


def take(subject: str) -> dict[str, Any] | None:
    """The one-time result for this person and subject, once; None when already shown or absent."""
    held = session.pop("reveal", None)
    if not isinstance(held, str) or ":" not in held:
        return None
    reveal_id, key = held.split(":", 1)
    sealed = _store().take(f"console:reveal:{reveal_id}")
    if sealed is None:
        return None
    try:
        payload = json.loads(Fernet(key.encode()).decrypt(sealed.encode()))
    except (InvalidToken, ValueError):
        return None
    if payload.get("user") != g.user.id or payload.get("subject") != subject:
        return None
    return payload
