"""The security battery (RFC 9700): open redirects, mix-up, clickjacking, CSRF, cookie flags,
constant-time comparison, client ids apart from user subjects. Secrets in logs and the
management API's matrix have files of their own."""

from __future__ import annotations

import ast
import hmac
import re
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest

from server import create_app
from server.extensions import db
from tests.api_helpers import add_member, make_team
from tests.conftest import PASSWORD
from tests.oauth_support import (
    JWT_BEARER,
    REDIRECT_URI,
    Browser,
    assertion,
    basic,
    hidden,
    query,
    resource_server,
    service_app,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

ROOT = Path(__file__).resolve().parent.parent
ISSUER = "http://localhost"
REGISTERED = "https://app.example.com/cb"
AUTHORIZE_PATHS = ["/oauth/authorize", "/api/permission/oauth2/authorize"]

# Look-alikes of REGISTERED: none of them may ever receive a redirect.
LOOK_ALIKES = [
    "http://app.example.com/cb",  # scheme
    "https://app.example.com.evil.example/cb",  # host suffix
    "https://evil.example/cb",  # host
    "https://APP.EXAMPLE.COM/cb",  # case of host
    "https://app.example.com/CB",  # case of path
    "https://app.example.com:443/cb",  # explicit default port
    "https://app.example.com:8443/cb",  # port
    "https://app.example.com/cb/",  # trailing slash
    "https://app.example.com/cb/../evil",  # path traversal
    "https://app.example.com/cbx",  # prefix
    "https://app.example.com/c",  # truncation
    "https://app.example.com/cb?x=1",  # added query
    "https://app.example.com/cb#x",  # fragment
    "https://app.example.com@evil.example/cb",  # userinfo
    "https://user@app.example.com/cb",  # userinfo
    "https://app.example.com%2F@evil.example/cb",  # encoded slash
    "https://app.example.com/%63b",  # encoded path character
    "https://app.example.com/cb%2F..%2Fevil",  # encoded traversal
    "https://app.example.com%00.evil.example/cb",  # encoded NUL
    "https://app.example.com/cb\\@evil.example",  # backslash
    "//app.example.com/cb",  # scheme-relative
    " https://app.example.com/cb",  # leading space
    "https://app.example.com/cb ",  # trailing space
    "HTTPS://app.example.com/cb",  # case of scheme
    "https://xn--pp-zfa.example.com/cb",  # IDN look-alike
]


# Open redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", AUTHORIZE_PATHS)
def test_authorize_never_redirects_to_an_unregistered_look_alike(client, make_user, make_app, path):
    owner = make_user()
    web, _ = make_app(owner, "web", redirect_uris=[REGISTERED])
    Browser(client=client).login(owner.email, PASSWORD)
    for uri in LOOK_ALIKES:
        for extra in ({}, {"response_type": "token"}, {"code_challenge_method": "bogus"}):
            params = {"response_type": "code", "client_id": web.client_id, "redirect_uri": uri}
            response = client.get(path + "?" + urlencode({**params, **extra, "state": "s"}))
            assert response.status_code == 400, (uri, extra, response.status_code)
            assert "Location" not in response.headers, uri
            assert response.mimetype == "text/html"
    # The registered URI itself works, and errors go there (with state and iss).
    params = {"response_type": "code", "client_id": web.client_id, "redirect_uri": REGISTERED}
    assert client.get(path + "?" + urlencode(params)).status_code == 302
    bad = client.get(path + "?" + urlencode({**params, "response_type": "token", "state": "s"}))
    assert bad.status_code == 302 and bad.headers["Location"].startswith(REGISTERED + "?")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "///evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/%2F/evil.example",
        "%2F%2Fevil.example",
        "javascript:alert(1)",
        "data:text/html,x",
        "http:evil.example",
        " //evil.example",
        "/login?next=//evil.example",
        "https:/\\evil.example",
        "/\x00/evil.example",
        "http://localhost@evil.example/",
    ],
)
def test_login_next_stays_on_this_site(client, make_user, target):
    user = make_user()
    page = client.get("/login?" + urlencode({"next": target})).get_data(as_text=True)
    response = client.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": hidden(page, "csrf_token"),
            "next": target,
        },
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert parts.netloc in ("", "localhost") and parts.scheme in ("", "http"), location
    assert parts.path.startswith("/") and not parts.path.startswith("//"), location
    assert "\\" not in location and "evil" not in parts.netloc
    # The language switcher's `next` goes through the same check.
    switched = client.get("/language/en?" + urlencode({"next": target}))
    assert urlsplit(switched.headers["Location"]).netloc in ("", "localhost")


# Mix-up: every authorization response names its issuer (RFC 9207) -----------------------------


@pytest.mark.parametrize("path", AUTHORIZE_PATHS)
def test_authorization_responses_carry_iss(client, make_user, make_app, path):
    owner = make_user()
    web, _ = make_app(owner, "web")
    browser = Browser(client=client)
    browser.login(owner.email, PASSWORD)
    url = path + "?" + urlencode(
        {"response_type": "code", "client_id": web.client_id, "redirect_uri": REDIRECT_URI,
         "state": "xyz"}
    )  # fmt: skip
    approved = query(browser.authorize(url))
    assert approved["iss"] == ISSUER and approved["state"] == "xyz" and approved["code"]
    denied = query(browser.authorize(url, decision="deny"))
    assert denied == {"error": "access_denied", "state": "xyz", "iss": ISSUER} | {
        k: v for k, v in denied.items() if k == "error_description"
    }
    bad = client.get(url.replace("response_type=code", "response_type=token"))
    assert query(bad.headers["Location"])["iss"] == ISSUER
    metadata = client.get("/.well-known/oauth-authorization-server").json
    assert metadata["issuer"] == ISSUER
    assert metadata["authorization_response_iss_parameter_supported"] is True


# Clickjacking: every page, every answer --------------------------------------------------------


def _sample_path(rule, values: dict[str, str]) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", values.get(name, "1"), path)
    return path


@pytest.fixture
def populated(app, client, make_user, make_app):
    owner = make_user()
    team = make_team(app, owner)
    web, _ = make_app(owner, "web", tenant_id=team)
    service_id, kid, _ = service_app(app, owner, make_app)
    Browser(client=client).login(owner.email, PASSWORD)
    return {
        "owner": owner,
        "team": team,
        "values": {
            "tenant_id": str(team),
            "client_id": web.client_id,
            "kid": kid,
            "code": "zh",
            "workspace_id": "1",
            "account_id": str(team),
            "filename": "style.css",
        },
        "service": service_id,
    }


def test_every_answer_refuses_frames(app, client, populated):
    seen = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        path = _sample_path(rule, populated["values"])
        for signed_in in (True, False):
            c = client if signed_in else app.test_client()
            response = c.get(path)
            seen += 1
            assert response.headers.get("X-Frame-Options") == "DENY", path
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
            assert response.headers.get("X-Content-Type-Options") == "nosniff", path
    assert seen > 40


# CSRF: every form --------------------------------------------------------------------------


def test_every_form_refuses_a_post_without_its_csrf_token(app, client, populated):
    checked = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        path = _sample_path(rule, populated["values"])
        if path.startswith(("/oauth/token", "/oauth/introspect", "/oauth/revoke",
                            "/oauth/device_authorization", "/oauth/register",
                            "/api/")):  # fmt: skip
            continue  # token endpoints take no cookies; the API is below
        for data in ({}, {"csrf_token": "forged"}):
            response = client.post(path, data=data)
            assert response.status_code == 400, (path, response.status_code)
            assert "csrf" in response.get_data(as_text=True).lower() or "form" in (
                response.get_data(as_text=True).lower()
            ), path
        checked.append(path)
    assert "/login" in checked and "/logout" in checked and "/device" in checked
    assert any(p.startswith("/console/") for p in checked)
    # The API under a session cookie: unsafe methods need the CSRF header too.
    refused = client.post("/api/v1/tenants", json={"name": "T", "edition": "team"})
    assert refused.status_code == 400 and refused.json["error"] == "csrf_failed"


# Cookies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("issuer, secure", [("https://auth.example.com", True), (ISSUER, False)])
def test_session_cookie_flags(base_config, _schema, app, make_user, issuer, secure):
    instance = create_app({**base_config, "OAUTH_ISSUER": issuer})
    user = make_user()
    c = instance.test_client()
    page = c.get("/login").get_data(as_text=True)
    response = c.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": hidden(page, "csrf_token")},
    )
    assert response.status_code == 302
    cookies = [v for k, v in response.headers.items() if k == "Set-Cookie"]
    session = next(v for v in cookies if v.startswith("session="))
    flags = {part.strip().lower() for part in session.split(";")[1:]}
    assert "httponly" in flags and "samesite=lax" in flags
    assert ("secure" in flags) is secure
    with instance.app_context():
        db.session.remove()
        db.engine.dispose()


# Constant-time comparison --------------------------------------------------------------------


def test_secrets_are_compared_in_constant_time(
    app, client, make_user, make_app, auth_header, monkeypatch
):
    owner = make_user()
    web, secret = make_app(owner, "web")
    rs = resource_server(app)
    headers = auth_header(owner)
    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    # A client secret (Basic), a resource server's secret, a personal access token.
    client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI},
        headers=basic(web.client_id, secret),
    )
    assert compared, "client secret compared without hmac.compare_digest"
    compared.clear()
    client.post("/oauth/introspect", data={"token": "x"}, headers=rs)
    assert compared, "resource server secret compared without hmac.compare_digest"
    compared.clear()
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    # A personal access token is found by its digest (an indexed lookup of a 256-bit value);
    # what is compared is never the clear text.
    assert all(len(a) == 64 for a, _ in compared)


def _is_sql(side: ast.expr) -> bool:
    """Model.column or table.c.column == value builds SQL (an indexed lookup by digest)."""
    if not isinstance(side, ast.Attribute):
        return False
    owner = side.value
    if isinstance(owner, ast.Name) and owner.id[:1].isupper():
        return True
    return isinstance(owner, ast.Attribute) and owner.attr == "c"


# Reviewed: the row was already found by this very digest (in SQL); the comparison only tells
# which of its two columns matched, and reveals nothing an attacker does not already know.
REVIEWED = {"row.access_token_hash != value"}

SECRET_NAMES = re.compile(r"(secret|password|passwd|_hash|digest|csrf)", re.IGNORECASE)


def test_no_secret_is_compared_with_eq_in_the_source():
    """Python's == on strings stops at the first difference: never for secrets or digests."""
    offenders = []
    for path in [*ROOT.glob("server/**/*.py"), *ROOT.glob("grants/**/*.py"),
                 *ROOT.glob("keys/**/*.py")]:  # fmt: skip
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare) or not any(
                isinstance(op, ast.Eq | ast.NotEq) for op in node.ops
            ):
                continue
            for side in (node.left, *node.comparators):
                name = (
                    side.attr
                    if isinstance(side, ast.Attribute)
                    else side.id
                    if isinstance(side, ast.Name)
                    else None
                )
                if name is None or not SECRET_NAMES.search(name):
                    continue
                if _is_sql(side) or ast.unparse(node) in REVIEWED:
                    continue
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert not offenders, "\n".join(offenders)


# Client ids and user subjects ----------------------------------------------------------------


def test_client_ids_cannot_collide_with_user_subjects(app, client, make_user, make_app):
    """RFC 9700 §4.15: a client must never pass for a resource owner."""
    owner = make_user()
    rs = resource_server(app)
    service_id, kid, pem = service_app(app, owner, make_app)
    ids = [make_app(owner, t)[0].client_id for t in ("web", "pkce", "device")] + [service_id]
    # client_ids are chosen by the server, 19 digits from 10**18 up: user ids, which are
    # assigned in sequence from 1, would need a quintillion users to reach them.
    assert all(re.fullmatch(r"[1-9][0-9]{18}", c) for c in ids)
    assert owner.id < 10**18
    # A client cannot pick its own client_id.
    from tests.api_helpers import personal_id

    created = client.post(
        f"/api/v1/tenants/{personal_id(app, owner)}/apps",
        json={"name": "Mine", "client_type": "service", "client_id": str(owner.id)},
        headers=_pat(app, owner),
    )
    assert created.status_code == 400
    # An AppAuth token says it acts as an app and carries no `sub` a resource server could
    # take for a user; an assertion naming a user as its subject is refused.
    token = client.post(
        "/oauth/token",
        data={"grant_type": JWT_BEARER, "assertion": assertion(service_id, kid, pem, "localhost")},
    ).json["access_token"]
    answer = client.post("/oauth/introspect", data={"token": token}, headers=rs).json
    assert answer["active"] and answer["auth_type"] == "appauth" and "sub" not in answer
    impersonating = assertion(service_id, kid, pem, "localhost", sub=str(owner.id))
    refused = client.post(
        "/oauth/token", data={"grant_type": JWT_BEARER, "assertion": impersonating}
    )
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"


def _pat(app, user) -> dict[str, str]:
    from server.credentials import create_personal_access_token
    from server.models import User

    with app.app_context():
        _, token = create_personal_access_token(db.session.get(User, user.id), "t")
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_a_member_cannot_consent_where_the_app_is_not_installed(app, client, make_user, make_app):
    """Consent in a team needs the admins' installation: no member grants a team's data."""
    admin, member = make_user(), make_user()
    team = make_team(app, admin)
    add_member(app, team, member, "member")
    web, _ = make_app(admin, "web")
    browser = Browser(client=client)
    browser.login(member.email, PASSWORD)
    url = "/oauth/authorize?" + urlencode(
        {"response_type": "code", "client_id": web.client_id, "redirect_uri": REDIRECT_URI}
    )
    status, _, html = browser.open_consent(url)
    assert status == 200
    with app.app_context():
        from server.oauth.consent import places_for

        workspace = next(p.workspace.id for p in places_for(member.id) if p.tenant.id == team)
    status, headers, html = browser.decide(html, "approve", workspace_id=str(workspace))
    assert status != 302 or "code=" not in headers.get("Location", "")
    assert "code" not in parse_qs(urlsplit(headers.get("Location", "")).query)
    assert quote(REDIRECT_URI) not in headers.get("Location", "")


# Grants and transports RFC 9700 rules out ------------------------------------------------------


@pytest.mark.parametrize("grant", ["password", "client_credentials", "implicit"])
def test_password_and_other_unsupported_grants_are_refused(client, make_user, make_app, grant):
    """RFC 9700 §2.4: no resource owner password credentials grant (nor any other)."""
    owner = make_user()
    web, secret = make_app(owner, "web")
    body = {"grant_type": grant, "username": owner.email, "password": PASSWORD}
    rfc = client.post("/oauth/token", data=body, headers=basic(web.client_id, secret))
    assert rfc.status_code == 400 and rfc.json["error"] == "unsupported_grant_type"
    coze = client.post(
        "/api/permission/oauth2/token", json=body, headers={"Authorization": f"Bearer {secret}"}
    )
    assert coze.status_code == 400 and coze.json["error_code"] == "unsupported_grant_type"


def test_no_implicit_flow_and_no_token_in_a_url(client, make_user, make_app):
    """RFC 9700 §2.1.2 and §4.3: response_type=token is refused; the token, introspection and
    revocation endpoints take no GET, so no credential travels in a URL to them."""
    owner = make_user()
    web, _ = make_app(owner, "web")
    params = {"response_type": "token", "client_id": web.client_id, "redirect_uri": REDIRECT_URI}
    refused = client.get("/oauth/authorize?" + urlencode(params))
    assert query(refused.headers["Location"])["error"] == "unsupported_response_type"
    assert "#" not in refused.headers["Location"]
    for path in ("/oauth/token", "/oauth/introspect", "/oauth/revoke",
                 "/api/permission/oauth2/token"):  # fmt: skip
        assert client.get(path + "?access_token=x&token=x").status_code == 405


def test_forms_never_answer_307_or_308(client, make_user, make_app):
    """RFC 9700 §4.12: a POST carrying credentials is never forwarded with a 307 or 308."""
    owner = make_user()
    web, _ = make_app(owner, "web")
    browser = Browser(client=client)
    page = client.get("/login").get_data(as_text=True)
    signed_in = client.post(
        "/login",
        data={"email": owner.email, "password": PASSWORD, "csrf_token": hidden(page, "csrf_token"),
              "next": "/oauth/authorize?x=1"},
    )  # fmt: skip
    assert signed_in.status_code in (302, 303)
    url = "/oauth/authorize?" + urlencode(
        {"response_type": "code", "client_id": web.client_id, "redirect_uri": REDIRECT_URI}
    )
    status, _, html = browser.open_consent(url)
    status, headers, _ = browser.decide(html, "approve")
    assert status in (302, 303)


def test_every_answer_keeps_referrers_and_caches_out(app, client, populated, make_user, make_app):
    """RFC 9700 §4.2: no referrer leaves for another site; RFC 6749 §5.1 and RFC 7662 §4: token
    and introspection answers are never cached."""
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods:
            response = client.get(_sample_path(rule, populated["values"]))
            assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer")
    rs = resource_server(app)
    introspected = client.post("/oauth/introspect", data={"token": "x"}, headers=rs)
    token = client.post("/oauth/token", data={"grant_type": "x"})
    for response in (introspected, token):
        assert "no-store" in response.headers["Cache-Control"]


def test_device_codes_are_unguessable_and_user_codes_short_lived(client, app, make_user, make_app):
    """RFC 8628 §5.2: the device_code carries 256 bits; §5.1: the user code lives 300 s."""
    owner = make_user()
    device, _ = make_app(owner, "device")
    started = client.post("/oauth/device_authorization", data={"client_id": device.client_id}).json
    assert len(started["device_code"].split("_", 1)[1]) >= 43  # 32 random bytes, base64url
    assert started["expires_in"] == app.config["DEVICE_CODE_TTL"] <= 600
    # A device app has no secret to keep (§5.6): nothing in the answer is one.
    assert "client_secret" not in started


def test_assertion_not_yet_valid_is_refused(app, client, make_user, make_app):
    """RFC 7523 §3 item 5: a JWT used before its `nbf` is refused."""
    import time

    owner = make_user()
    client_id, kid, pem = service_app(app, owner, make_app)
    early = assertion(client_id, kid, pem, "localhost", nbf=int(time.time()) + 3600)
    refused = client.post("/oauth/token", data={"grant_type": JWT_BEARER, "assertion": early})
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
