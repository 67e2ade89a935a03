"""Helpers for the OAuth tests: a person at a browser (over Flask's test client or over HTTP),
resource-server credentials, service apps with keys, and hand-made JWT assertions."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from werkzeug.datastructures import MultiDict

from server.extensions import db

REDIRECT_URI = "http://127.0.0.1:8765/callback"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def hidden(html: str, name: str) -> str | None:
    for tag in re.findall(r"<input[^>]*>", html):
        if re.search(rf'name="{re.escape(name)}"', tag):
            value = re.search(r'value="([^"]*)"', tag)
            return value.group(1) if value else ""
    return None


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class Browser:
    """A person at a browser: keeps cookies, reads forms, posts CSRF tokens, never follows
    redirects to the app (that is where the test takes over)."""

    def __init__(self, base_url: str = "", client: Any = None) -> None:
        self.base_url = base_url
        self.client = client  # Flask test client, or None for real HTTP
        self.session = requests.Session() if client is None else None

    def _url(self, url: str) -> str:
        if self.client is not None:
            parts = urlsplit(url)
            return parts.path + ("?" + parts.query if parts.query else "")
        return urljoin(self.base_url + "/", url)

    # Over HTTP, requests' own headers: names in any case (Granian sends them in lower case).
    def get(self, url: str) -> tuple[int, dict[str, str], str]:
        if self.client is not None:
            r = self.client.get(self._url(url))
            return r.status_code, dict(r.headers), r.get_data(as_text=True)
        r = self.session.get(self._url(url), allow_redirects=False, timeout=30)
        return r.status_code, r.headers, r.text

    def post(self, url: str, data: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        if self.client is not None:
            r = self.client.post(self._url(url), data=data)
            return r.status_code, dict(r.headers), r.get_data(as_text=True)
        r = self.session.post(self._url(url), data=data, allow_redirects=False, timeout=30)
        return r.status_code, r.headers, r.text

    def login(self, email: str, password: str) -> None:
        status, _, html = self.get("/login")
        assert status == 200
        status, headers, _ = self.post(
            "/login",
            {"email": email, "password": password, "csrf_token": hidden(html, "csrf_token")},
        )
        assert status == 302, "sign-in failed"

    def open_consent(self, authorize_url: str) -> tuple[int, dict[str, str], str]:
        """Follow the authorize endpoint to the consent page (not past it)."""
        status, headers, html = self.get(authorize_url)
        if status != 302 or "/oauth/consent" not in headers.get("Location", ""):
            return status, headers, html
        return self.get(headers["Location"])

    def decide(
        self,
        html: str,
        decision: str = "approve",
        workspace_id: str | None = None,
        url: str = "",
    ) -> tuple[int, dict[str, str], str]:
        """Answer a consent form as its buttons do (following the device decision's redirect
        to its done page)."""
        form: dict[str, Any] = {
            "csrf_token": hidden(html, "csrf_token") or "",
            "decision": decision,
            "workspace_id": workspace_id or hidden(html, "workspace_id") or _first_radio(html),
        }
        for name in ("authorize_key", "user_code"):
            value = hidden(html, name)
            if value:
                form[name] = value
        action = url or ("/oauth/consent" if "authorize_key" in form else "/device")
        status, headers, page = self.post(action, form)
        if status == 302 and urlsplit(headers["Location"]).path == "/device/done":
            return self.get(headers["Location"])  # the device decision's post/redirect/get
        return status, headers, page

    def authorize(self, authorize_url: str, decision: str = "approve", **kw: Any) -> str:
        """Consent to an authorize URL; returns the Location the app is sent to."""
        status, headers, html = self.open_consent(authorize_url)
        assert status == 200, f"consent page: {status} {html[:300]}"
        status, headers, html = self.decide(html, decision, **kw)
        assert status == 302, f"consent answer: {status} {html[:300]}"
        return headers["Location"]

    def approve_device(
        self, user_code: str, decision: str = "approve", workspace_id: str | None = None
    ) -> tuple[int, str]:
        status, _, html = self.get(f"/device?user_code={user_code}")
        assert status == 200
        status, _, html = self.post(
            "/device", {"csrf_token": hidden(html, "csrf_token"), "user_code": user_code}
        )
        if status != 200:
            return status, html
        status, _, html = self.decide(html, decision, workspace_id=workspace_id, url="/device")
        return status, html


def _first_radio(html: str) -> str:
    match = re.search(r'name="workspace_id" value="(\d+)"', html)
    return match.group(1) if match else ""


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def authorize_url(
    client_id: str, *resources: str, path: str = "/oauth/authorize", **params: str
) -> str:
    """An authorize endpoint's URL asking a code for REDIRECT_URI with state `t`; `resources`
    are RFC 8707 resource parameters, `params` more parameters (or other values)."""
    fields = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI}
    fields.update(state="t", **params)
    return path + "?" + urlencode([*fields.items(), *(("resource", r) for r in resources)])


def code_form(code: str, *resources: str) -> MultiDict[str, str]:
    """The RFC dialect's token request for a code sent to REDIRECT_URI (resources repeated)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    return MultiDict([*form.items(), *(("resource", r) for r in resources)])


def exchange_code(client, client_id, secret, code, dialect="rfc"):
    """A web app's code exchange in either dialect."""
    if dialect == "rfc":
        return client.post("/oauth/token", data=code_form(code), headers=basic(client_id, secret))
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
    }
    return client.post(
        "/api/permission/oauth2/token", json=body, headers={"Authorization": f"Bearer {secret}"}
    )


def code_tokens(client, browser: Browser, client_id: str, secret: str) -> dict[str, Any]:
    """A code consented to at `browser`, exchanged at the test `client`: the token answer."""
    code = query(browser.authorize(authorize_url(client_id)))["code"]
    response = exchange_code(client, client_id, secret, code)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def refresh_with(client, client_id, secret, refresh_token, dialect="rfc"):
    """A web app's refresh in either dialect."""
    if dialect == "rfc":
        body = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return client.post("/oauth/token", data=body, headers=basic(client_id, secret))
    body = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    return client.post(
        "/api/permission/oauth2/token", json=body, headers={"Authorization": f"Bearer {secret}"}
    )


def resource_server(app: Any, *resources: str) -> dict[str, str]:
    """Basic credentials of a new resource server (owning `resources`), as a header dict."""
    from server.credentials import create_resource_server

    with app.app_context():
        server, secret = create_resource_server("platform-api", resources)
        db.session.commit()
        return basic(server.id, secret)


def service_app(app: Any, owner: Any, make_app: Any, authorized: bool = True, **fields: Any):
    """A service app with one generated key: (client_id, kid, private_pem)."""
    from server import clients
    from server.models import User

    created, _ = make_app(owner, "service", **fields)
    with app.app_context():
        actor = db.session.get(User, owner.id)
        key, private_pem = clients.add_key(actor, created.client_id)
        if authorized:
            clients.authorize_service_app(actor, created.client_id)
        db.session.commit()
        return created.client_id, key.kid, private_pem


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@functools.lru_cache(maxsize=64)
def _loaded(private_pem: str) -> RSAPrivateKey:
    """A PEM's key, loaded once: loading checks the key, which costs far more than signing."""
    loaded = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(loaded, RSAPrivateKey)
    return loaded


def make_jwt(
    header: dict[str, Any],
    claims: dict[str, Any],
    private_key: str | RSAPrivateKey | None = None,
    hmac_key: bytes | None = None,
) -> str:
    """Sign by hand, so tests can make the assertions no library would (alg none, HS256...).
    The one signer of the tests and the benchmark; `private_key` is a PEM or, where many are
    signed, the key already loaded (loading a PEM costs far more than signing)."""
    signing_input = (
        _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    ).encode()
    if header.get("alg") == "none":
        return signing_input.decode() + "."
    if header.get("alg") == "HS256":
        assert hmac_key is not None
        signature = hmac.new(hmac_key, signing_input, hashlib.sha256).digest()
        return signing_input.decode() + "." + _b64(signature)
    if isinstance(private_key, str):
        private_key = _loaded(private_key)
    assert private_key is not None
    signature = private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input.decode() + "." + _b64(signature)


def assertion(
    client_id: str, kid: str, private_key: str | RSAPrivateKey, aud: str, **overrides: Any
) -> str:
    """An RS256 JWT assertion (RFC 7523) for a service app, valid for an hour; `overrides`
    change or (as None) drop claims, `header=` adds header fields."""
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    claims = {
        "iss": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + 3600,
        "jti": secrets.token_hex(16),
    }
    header.update(overrides.pop("header", {}))
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return make_jwt(header, claims, private_key)
