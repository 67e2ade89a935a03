"""What the browser tests share: signing in by typing, authorize URLs, and the app's side of
the code exchange."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import requests

from tests.conftest import PASSWORD
from tests.oauth_support import REDIRECT_URI, query


def authorize_url(client_id: str, **params: str) -> str:
    base = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI}
    return "/oauth/authorize?" + urlencode({**base, **params})


def sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    """Fill the sign-in form through its labels, as a person would, and submit it."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def landed_params(page: Any) -> dict[str, str]:
    """The query the app received at its redirect URI."""
    page.wait_for_url(REDIRECT_URI + "?*")
    return query(page.url)


def exchange(base_url: str, client_id: str, code: str, **extra: str) -> dict[str, Any]:
    """The app exchanges its code at the token endpoint (client_secret_basic when given)."""
    secret = extra.pop("client_secret", None)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    data.update(extra)
    auth = (client_id, secret) if secret else None
    if auth is None:
        data["client_id"] = client_id
    response = requests.post(base_url + "/oauth/token", data=data, auth=auth, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()
