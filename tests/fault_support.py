"""Helpers for the fault and load tests: OBO tokens from a real server process, gunicorn's
workers, requests whose answer is lost, and counts read straight from the database."""

from __future__ import annotations

import selectors
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from sqlalchemy import select

from server.extensions import db
from server.models import OAuthToken
from tests.conftest import PASSWORD
from tests.oauth_support import REDIRECT_URI, Browser, basic, query


def obo_tokens(base_url: str, browser: Browser, client_id: str, secret: str | None = None):
    """Consent and exchange the code: the token response (web apps with their secret)."""
    url = "/oauth/authorize?" + urlencode(
        {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI}
        | ({} if secret else {"code_challenge": "v" * 43, "code_challenge_method": "plain"})
    )
    code = query(browser.authorize(url))["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if secret:
        headers = basic(client_id, secret)
    else:
        headers = {}
        data |= {"client_id": client_id, "code_verifier": "v" * 43}
    response = requests.post(base_url + "/oauth/token", data=data, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def signed_in(base_url: str, email: str) -> Browser:
    browser = Browser(base_url=base_url)
    browser.login(email, PASSWORD)
    return browser


def worker_pids(master_pid: int) -> list[int]:
    """gunicorn's workers: the master's children, read from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:
            children.append(int(stat.parent.name))
    return sorted(children)


def send_and_drop(url: str, body: bytes, content_type: str, headers: dict[str, str] | None = None):
    """Send a POST and close the connection without reading the answer: a lost response. The
    connection stays whole until the answer arrives, as when the network loses it on the way
    back; a client that half-closed at once would let the server drop the request unserved."""
    parts = urlsplit(url)
    lines = [
        f"POST {parts.path} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
        "",
        "",
    ]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall("\r\n".join(lines).encode() + body)
        with selectors.DefaultSelector() as waiting:
            waiting.register(sock, selectors.EVENT_READ)
            waiting.select(timeout=10)  # the answer is there; dropped unread


def live_families(app: Any, client_id: str) -> int:
    """Refresh families of the app that can still be refreshed."""
    now = int(time.time())
    with app.app_context():
        rows = db.session.execute(
            select(OAuthToken.family_id).where(
                OAuthToken.client_id == client_id,
                OAuthToken.refresh_revoked.is_(False),
                OAuthToken.revoked.is_(False),
                OAuthToken.refresh_expires_at > now,
            )
        ).all()
        db.session.remove()
    return len({r.family_id for r in rows})


def wait_until(predicate, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
