"""Schemathesis against both OpenAPI documents: the management API's and the OAuth endpoints'
(both dialects), stateless and along the documented links. No 5xx, every answer documented and
matching its schema, and the database consistent afterwards.

Generated values are mostly nonsense; a share of them is swapped for real client ids, resource
server credentials and path ids, chosen from the generated value itself so that every run is the
same run (derandomized), and so that the fuzzer reaches past client authentication.
"""

from __future__ import annotations

import zlib
from typing import Any

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
from tests.invariants import assert_consistent
from tests.oauth_support import resource_server, service_app

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
    service_id, _, _ = service_app(app, owner, make_app)
    return {
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

    def prepare(case: Any) -> dict[str, str]:
        body = case.body if isinstance(case.body, dict) else None
        if body is not None and "client_id" in body:
            body["client_id"] = _pick(body["client_id"], world["client_ids"])
        if case.query and "client_id" in case.query:
            case.query["client_id"] = _pick(case.query["client_id"], world["client_ids"])
        path = case.operation.path
        if path == "/oauth/introspect":
            return dict(rs_header)
        if path.endswith("/token") and body is not None:
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


def test_oauth_document_links_hold_statefully(app, world):
    """Along the links: device authorization → polling, token → introspect, refresh, revoke."""
    raw = document("http://localhost")
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = app
    prepare = _oauth_prepare(world)

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": prepare(case)}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
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
            path = rule.rule.replace("<", "{").replace(">", "}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (path, method.lower()) in documented, (path, method)
