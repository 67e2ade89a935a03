"""A device's user code as a person types it, on any page that takes one (the device page, an
installation request from its consent form): looked up under the wrong-code limit, so that no
page lets codes be guessed faster than the device page does."""

from __future__ import annotations

from flask import make_response, render_template, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from grants.vocabulary import DeviceCodeStatus
from server import ratelimit
from server.models import DeviceCode
from server.oauth import device
from server.pages.errors import error as page_error
from server.pages.forms import DeviceForm


def open_request(user_code: str) -> DeviceCode | Response:
    """The open device request behind `user_code`, or the page to answer with: a run of wrong
    codes from this address (429), a wrong code (400, counted), a code that was used or expired
    (410)."""
    address = request.remote_addr or "unknown"
    wait = ratelimit.retry_after("RATELIMIT_DEVICE_CODE", address)
    if wait:
        response = page_error(
            429, "too_many_requests", _("Too many wrong codes. Wait a few minutes.")
        )
        response.headers["Retry-After"] = str(wait)
        return response
    row = device.find(user_code)
    if row is None:
        ratelimit.hit("RATELIMIT_DEVICE_CODE", address)
        error = _("That code is not valid. Check the code on your device and try again.")
        form = DeviceForm(user_code=user_code[:32])
        return make_response(render_template("device.html", form=form, error=error), 400)
    if not device.is_open(row):
        return closed(row)
    return row


def closed(row: DeviceCode | None) -> Response:
    """The page for a code that can no longer be used, saying whether it expired or was used."""
    expired = row is not None and row.status == DeviceCodeStatus.PENDING
    page = render_template("device_done.html", outcome="expired" if expired else "used")
    return make_response(page, 410)
