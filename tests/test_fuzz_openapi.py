"""Schemathesis against both OpenAPI documents: the management API's and the OAuth endpoints'
(both dialects), stateless and along the documented links. No 5xx, every answer documented and
matching its schema, and the database consistent afterwards.

Generated values are mostly nonsense; a share of them is swapped for real client ids, resource
server credentials and path ids, chosen from the generated value itself so that every run is the
same run (derandomized), and so that the fuzzer reaches past client authentication.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from server.oauth.openapi import document
from tests.api_helpers import make_team, personal_id
from tests.conftest import PASSWORD
from tests.invariants import assert_consistent
from tests.oauth_support import (
    JWT_BEARER,
    REDIRECT_URI,
    Browser,
    assertion,
    query,
    resource_server,
    service_app,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 25


def _settings(examples: int = EXAMPLES) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )


def _pick(seed: Any, choices: list[Any]) -> Any:
    """A choice made from the generated value itself: the last slot keeps the fuzzed value."""
    index = zlib.crc32(repr(seed).encode()) % (len(choices) + 1)
    return choices[index] if index < len(choices) else seed


@pytest.fixture
def world(app, make_user, make_app, auth_header):
    owner = make_user()
    web, secret = make_app(owner, "web")
    pkce, _ = make_app(owner, "pkce")
    device, _ = make_app(owner, "device")
    service_id, kid, pem = service_app(app, owner, make_app)
    return {
        "service": (service_id, kid, pem),
        "owner": owner,
        "headers": auth_header(owner),
        "client_ids": [web.client_id, pkce.client_id, device.client_id, service_id],
        "web": (web.client_id, secret),
        "rs": resource_server(app),
    }


def _run_operations(schema: Any, prepare: Any, examples: int = EXAMPLES) -> int:
    """Every operation of `schema`, `examples` cases each; returns how many calls were made."""
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @_settings(examples)
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            nonlocal calls
            headers = prepare(case)
            case.call_and_validate(headers=headers, checks=CHECKS)
            calls += 1

        fuzz()
    return calls


def _oauth_prepare(world: dict[str, Any]):
    web_id, secret = world["web"]
    rs_header = world["rs"]
    service_id, kid, pem = world["service"]

    def signed() -> str:
        return assertion(service_id, kid, pem, "localhost")

    def prepare(case: Any) -> dict[str, str]:
        path = case.operation.path
        body = case.body if isinstance(case.body, dict) else None
        key = f"{path} {case.body!r} {case.query!r}"
        # Real client ids for a share of the calls (the device app twice as often: its
        # endpoints are the ones that answer without a browser's consent first).
        ids = [*world["client_ids"], world["client_ids"][2]]
        if body is not None and ("client_id" in body or "device" in path):
            body["client_id"] = _pick(key, ids) if _pick(key, ids) != key else body.get("client_id")
            if body["client_id"] is None:
                del body["client_id"]
        if case.query and "client_id" in case.query:
            case.query["client_id"] = _pick(case.query["client_id"], world["client_ids"])
        if path == "/oauth/introspect":
            return dict(rs_header)
        jwt = body is not None and body.get("grant_type") == JWT_BEARER
        real = _pick(key, [True, True]) is True
        if path == "/oauth/token" and jwt and real:
            # A real assertion now and then: a token, whose answer the links lead on from.
            body["assertion"] = signed()
        if path.endswith("/token") and body is not None:
            if jwt and real:
                return {"Authorization": f"Bearer {signed()}"}
            return _pick(str(body.get("grant_type")), [{"Authorization": f"Bearer {secret}"}, {}])
        return {}

    return prepare


def test_oauth_endpoints_of_both_dialects_hold_under_fuzzing(app, world):
    raw = document("http://localhost")
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = app
    calls = _run_operations(schema, _oauth_prepare(world))
    assert calls >= EXAMPLES * 5
    assert_consistent(app)


def _resolve(expression: Any, answer: dict[str, Any]) -> Any:
    """A link's runtime expression ($response.body#/name) against a JSON answer."""
    prefix = "$response.body#/"
    if isinstance(expression, str) and expression.startswith(prefix):
        return answer.get(expression[len(prefix) :])
    return expression


def _follow(target: Any, linked: dict[str, Any], prepare: Any) -> None:
    @_settings(10)
    @given(case=target.as_strategy())
    def follow(case: Any) -> None:
        if not isinstance(case.body, dict):
            case.body = {}
        headers = prepare(case)
        case.body.update(linked)
        case.call_and_validate(headers=headers, checks=CHECKS)

    follow()


def test_oauth_document_links_hold_statefully(app, client, world, make_user, make_app):
    """Every link of the OAuth document, followed from real answers: device authorization to
    polling, a token to its introspection, its refresh and its revocation. The linked values
    come from the answer; the rest of each request is fuzzed."""
    raw = document("http://localhost")
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = app
    by_id = {
        operation["operationId"]: (path, method)
        for path, operations in raw["paths"].items()
        for method, operation in operations.items()
    }
    prepare = _oauth_prepare(world)
    service_id, kid, pem = world["service"]
    person = make_user()
    pkce, _ = make_app(person, "pkce")
    Browser(client=client).login(person.email, PASSWORD)

    def source(source_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The source call, itself checked against the document."""
        path, method = by_id[source_id]
        case = schema[path][method].Case(body=body, media_type="application/x-www-form-urlencoded")
        response = case.call_and_validate(checks=CHECKS)
        assert response.status_code == 200, response.text
        return response.json()

    def obo_answer() -> dict[str, Any]:
        url = "/oauth/authorize?" + urlencode(
            {"response_type": "code", "client_id": pkce.client_id, "redirect_uri": REDIRECT_URI,
             "code_challenge": "c" * 43, "code_challenge_method": "plain"}
        )  # fmt: skip
        code = query(Browser(client=client).authorize(url))["code"]
        return source(
            "rfcToken",
            {"grant_type": "authorization_code", "code": code, "client_id": pkce.client_id,
             "redirect_uri": REDIRECT_URI, "code_verifier": "c" * 43},
        )  # fmt: skip

    sources = {
        "rfcToken": [
            (obo_answer, {"client_id": pkce.client_id}),
            (
                lambda: source(
                    "rfcToken",
                    {
                        "grant_type": JWT_BEARER,
                        "assertion": assertion(service_id, kid, pem, "localhost"),
                    },
                ),  # fmt: skip
                {"client_id": service_id},
            ),
        ],
        "rfcDeviceAuthorization": [
            (
                lambda: source("rfcDeviceAuthorization", {"client_id": world["client_ids"][2]}),
                {"client_id": world["client_ids"][2]},
            )
        ],
    }
    followed = Counter()
    for source_id, makers in sources.items():
        path, method = by_id[source_id]
        links = raw["paths"][path][method]["responses"]["200"]["links"]
        for make, client_fields in makers:
            for name, link in links.items():
                answer = make()
                linked = {k: _resolve(v, answer) for k, v in link["requestBody"].items()}
                if None in linked.values():
                    continue  # e.g. no refresh token in an AppAuth answer
                if link["operationId"] != "rfcIntrospect":
                    linked |= client_fields  # the app the answer went to calls next
                target = schema[by_id[link["operationId"]][0]][by_id[link["operationId"]][1]]

                _follow(target, linked, prepare)
                followed[name] += 1
    assert set(followed) == {
        "IntrospectAccessToken", "RefreshToken", "RevokeRefreshToken", "PollDeviceCode"
    }  # fmt: skip
    assert_consistent(app)


def test_management_api_holds_under_fuzzing(app, world, make_user):
    owner = world["owner"]
    headers = world["headers"]
    team = make_team(app, owner)
    other = make_user()
    tenant_ids = [str(team), str(personal_id(app, owner))]
    paths = {
        "tenant_id": tenant_ids,
        "client_id": world["client_ids"],
        "user_id": [str(owner.id), str(other.id)],
    }
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)

    def prepare(case: Any) -> dict[str, str]:
        for name, choices in paths.items():
            if case.path_parameters and name in case.path_parameters:
                case.path_parameters[name] = _pick(case.path_parameters[name], choices)
        return dict(headers)

    calls = _run_operations(schema, prepare, examples=15)
    assert calls >= 15 * 25
    assert_consistent(app)


def test_oauth_document_is_served_valid_and_complete(app, client):
    from openapi_spec_validator import validate

    served = client.get("/oauth/openapi.json")
    assert served.status_code == 200
    validate(served.json)
    metadata = client.get("/.well-known/oauth-authorization-server").json
    assert metadata["service_documentation"] == "http://localhost/oauth/openapi.json"
    documented = {(path, method) for path, ops in served.json["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in ("rfc", "coze"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (path, method.lower()) in documented, (path, method)
