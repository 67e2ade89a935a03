"""Hypothesis against the parsers an attacker reaches first: the JWT assertion parser, the PKCE
check, the user-code normaliser and the body parsers of both dialects (JSON, form, mixed
content types, repeated parameters, bytes that are not UTF-8, huge values). Whatever arrives,
the answer is a 4xx in the dialect's error shape, never a 5xx and never a token."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grants.authorization_code import PKCE, PKCE_VALUE
from grants.device_code import USER_CODE_ALPHABET, USER_CODE_LENGTH, normalize_user_code
from grants.storage import CodeRecord, IssueContext
from server.oauth.throttle import _unverified_issuer
from tests.oauth_support import JWT_BEARER, make_jwt, service_app

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

RFC_POSTS = ["/oauth/token", "/oauth/introspect", "/oauth/revoke", "/oauth/device_authorization"]
COZE_POSTS = [
    "/api/permission/oauth2/token",
    "/api/permission/oauth2/device/code",
    "/api/permission/oauth2/account/1/token",
    "/api/permission/oauth2/workspace_id/1/device/code",
]
PKCE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_dialect_error(response, path: str) -> None:
    assert 400 <= response.status_code < 500, (path, response.status_code, response.data[:300])
    body = response.get_json(silent=True)
    assert isinstance(body, dict), (path, response.data[:300])
    assert "access_token" not in body
    assert body.get("error")
    if path.startswith("/api/permission/"):
        assert body.get("error_code") and body.get("error_message"), body


# The JWT assertion parser ------------------------------------------------------------------

jose_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["RS256", "none", "HS256", "RS512", "", "rs256"]) | jose_values,
        "typ": st.sampled_from(["JWT", "jwt", "at+jwt"]) | jose_values,
        "kid": st.text(max_size=80) | jose_values,
        "crit": jose_values,
        "jku": st.just("http://127.0.0.1:1/keys"),
    },
)
claims = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.text(max_size=40) | jose_values,
        "sub": st.text(max_size=40) | jose_values,
        "aud": st.sampled_from(["localhost", "http://localhost"]) | jose_values,
        "iat": st.integers(-(2**70), 2**70) | jose_values,
        "exp": st.integers(-(2**70), 2**70) | jose_values,
        "nbf": jose_values,
        "jti": st.text(max_size=300) | jose_values,
        "session_name": jose_values,
    },
)
raw_assertions = st.one_of(
    st.text(max_size=300),
    st.builds(".".join, st.lists(st.text(alphabet=PKCE_CHARS, max_size=60), max_size=5)),
    st.builds(
        lambda h, c, s: f"{_b64(json.dumps(h).encode())}.{_b64(json.dumps(c).encode())}.{s}",
        headers, claims, st.text(alphabet=PKCE_CHARS, max_size=60),
    ),
    st.builds(lambda b: _b64(b) + "." + _b64(b) + "." + _b64(b), st.binary(max_size=200)),
)  # fmt: skip


@given(assertion=raw_assertions)
@FUZZ
def test_unverified_issuer_never_raises(assertion):
    issuer = _unverified_issuer(assertion)
    assert issuer is None or isinstance(issuer, str)


def test_hostile_assertions_are_refused_in_both_dialects(app, client, make_user, make_app):
    owner = make_user()
    client_id, kid, pem = service_app(app, owner, make_app)

    @given(assertion=raw_assertions, coze=st.booleans(), use_real_key=st.booleans())
    @FUZZ
    def check(assertion, coze, use_real_key):
        if use_real_key:
            # Validly signed by the app's own key, so the claims checks are what refuses.
            parts = assertion.split(".")
            try:
                header = json.loads(base64.urlsafe_b64decode(parts[0] + "=="))
                body = json.loads(base64.urlsafe_b64decode(parts[1] + "=="))
            except (ValueError, IndexError):
                header, body = {}, {}
            if not isinstance(header, dict) or not isinstance(body, dict):
                header, body = {}, {}
            header.update(alg="RS256", kid=kid)
            body.setdefault("iss", client_id)
            assertion = make_jwt(header, body, pem)
        if coze:
            path = "/api/permission/oauth2/token"
            response = client.post(
                path,
                json={"grant_type": JWT_BEARER},
                headers={"Authorization": "Bearer " + assertion},
            )
        else:
            path = "/oauth/token"
            response = client.post(path, data={"grant_type": JWT_BEARER, "assertion": assertion})
        if response.status_code == 200:
            # Only a well-formed assertion of our own app with sound claims gets a token.
            assert use_real_key
            return
        assert_dialect_error(response, path)

    check()


# PKCE ---------------------------------------------------------------------------------------


def _grant(verifier: str | None, challenge: str, method: str, public: bool = True):
    context = IssueContext(client_id="1", auth_type="obo", tenant_id=1, user_id=1)
    code = CodeRecord(context, "http://127.0.0.1/cb", challenge, method)
    form = {} if verifier is None else {"code_verifier": verifier}
    request = SimpleNamespace(
        form=form, authorization_code=code, client=SimpleNamespace(is_public=public)
    )
    return SimpleNamespace(request=request)


verifiers = st.text(alphabet=PKCE_CHARS, min_size=16, max_size=128)


@given(verifier=verifiers, method=st.sampled_from(["S256", "plain"]))
@FUZZ
def test_pkce_accepts_the_verifier_of_its_challenge(verifier, method):
    challenge = create_s256_code_challenge(verifier) if method == "S256" else verifier
    PKCE().validate_code_verifier(_grant(verifier, challenge, method), None)


@given(
    verifier=verifiers,
    presented=st.none() | st.text(max_size=200) | verifiers,
    method=st.sampled_from(["S256", "plain"]),
)
@FUZZ
def test_pkce_refuses_every_other_verifier(verifier, presented, method):
    challenge = create_s256_code_challenge(verifier) if method == "S256" else verifier
    grant = _grant(presented, challenge, method)
    if presented == verifier:
        PKCE().validate_code_verifier(grant, None)
        return
    with pytest.raises(OAuth2Error):
        PKCE().validate_code_verifier(grant, None)


@given(value=st.text(max_size=200))
@FUZZ
def test_pkce_value_grammar(value):
    expected = 16 <= len(value) <= 128 and all(c in PKCE_CHARS for c in value)
    assert bool(PKCE_VALUE.match(value)) is expected


# The user-code normaliser -------------------------------------------------------------------

codes = st.text(alphabet=USER_CODE_ALPHABET, min_size=USER_CODE_LENGTH, max_size=USER_CODE_LENGTH)


@given(code=codes, lower=st.booleans(), spaced=st.sampled_from(["", " ", "-", " - ", "\t"]))
@FUZZ
def test_user_code_normaliser_ignores_case_and_separators(code, lower, spaced):
    typed = f"{code[:4]}-{code[4:]}".replace("-", spaced)
    typed = typed.lower() if lower else typed
    assert normalize_user_code(typed) == code
    assert normalize_user_code(f" {typed} ") == code


@given(
    raw=st.one_of(st.text(max_size=64), st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
)
@FUZZ
def test_user_code_normaliser_returns_a_code_or_none(raw):
    code = normalize_user_code(raw)
    if code is not None:
        assert len(code) == USER_CODE_LENGTH and set(code) <= set(USER_CODE_ALPHABET)
        assert len(raw) <= 32


# Body parsers of both dialects --------------------------------------------------------------

names = st.sampled_from(
    ["grant_type", "client_id", "client_secret", "code", "redirect_uri", "refresh_token",
     "device_code", "assertion", "token", "token_type_hint", "scope", "duration_seconds",
     "code_verifier", "x"]
)  # fmt: skip
values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["authorization_code", "refresh_token", JWT_BEARER, "client_credentials"]),
    st.integers(min_value=0, max_value=40_000).map(lambda n: "A" * n),
)
json_values = st.one_of(values, jose_values)

bodies = st.one_of(
    # A form, possibly with repeated names.
    st.lists(st.tuples(names, values), max_size=8).map(
        lambda pairs: ("application/x-www-form-urlencoded", urlencode(pairs).encode())
    ),
    # JSON of any shape: objects, arrays, scalars, nesting.
    st.one_of(st.dictionaries(names, json_values, max_size=8), jose_values).map(
        lambda obj: ("application/json", json.dumps(obj).encode())
    ),
    # Mixed: one content type, the other's body; or none at all.
    st.dictionaries(names, values, max_size=5).map(
        lambda d: ("application/json", urlencode(d).encode())
    ),
    st.dictionaries(names, values, max_size=5).map(
        lambda d: ("application/x-www-form-urlencoded", json.dumps(d).encode())
    ),
    st.tuples(
        st.sampled_from(
            [
                "text/plain",
                "multipart/form-data",
                "application/json; charset=latin-1",
                "application/x-www-form-urlencoded; charset=utf-16",
                "",
                "application/xml",
            ]
        ),
        st.binary(max_size=300),
    ),  # fmt: skip
    # Bytes that are not UTF-8, under either content type.
    st.tuples(
        st.sampled_from(["application/json", "application/x-www-form-urlencoded"]),
        st.binary(min_size=1, max_size=300).map(lambda b: b + b"\xff\xfe\xc3("),
    ),
)
auth_headers = st.sampled_from(
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer x"}, {"Authorization": "Basic !!"},
     {"Authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()},
     {"Authorization": "Basic " + base64.b64encode(b"1:2").decode()}, {"Authorization": "Digest"}]
)  # fmt: skip


def test_body_parsers_of_both_dialects_never_fail(app, client):
    @given(
        path=st.sampled_from(RFC_POSTS + COZE_POSTS),
        body=bodies,
        headers=auth_headers,
    )
    @settings(FUZZ, max_examples=250)
    def check(path, body, headers):
        content_type, data = body
        response = client.post(path, data=data, headers={**headers, "Content-Type": content_type})
        assert_dialect_error(response, path)

    check()


@pytest.mark.parametrize("path", RFC_POSTS + COZE_POSTS)
def test_bodies_over_64_kib_are_refused_in_the_dialects_shape(client, path):
    for content_type, data in (
        ("application/x-www-form-urlencoded", b"grant_type=" + b"A" * (65 * 1024)),
        ("application/json", json.dumps({"grant_type": "A" * (65 * 1024)}).encode()),
    ):
        response = client.post(path, data=data, headers={"Content-Type": content_type})
        if path.startswith("/oauth/") and content_type == "application/json":
            # Refused for its content type before a byte of it is read.
            assert response.status_code == 400, path
        else:
            assert response.status_code == 413, path
        assert_dialect_error(response, path)
