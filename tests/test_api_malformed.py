"""Management API: a battery of malformed requests against every endpoint with a body or a
path id. Each must get a clear 4xx in the API's error shape and leave the database unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from server import clients
from server.extensions import db
from server.models import Authorization
from tests.api_helpers import API, add_member, assert_error, make_team, rsa_public_pem, snapshot

pytestmark = pytest.mark.usefixtures("fast_passwords")

LOOPBACK = "http://127.0.0.1:8765/callback"
KEYS = [rsa_public_pem(), rsa_public_pem()]

# What each path placeholder names, for the bad-id cases.
PLACEHOLDER_KIND = {
    "team": "int",
    "member": "int",
    "web": "client",
    "service": "client",
    "vendor_pkce": "client",
    "kid": "kid",
}
BAD_IDS = {
    "int": [
        "abc",
        "-1",
        "0",
        "01",
        "1.5",
        "1e3",
        " 1",
        "%20",
        "1%0A",
        "\u0661\u0662",
        "9223372036854775808",
        "99999999999999999999999",
        "999999",
    ],
    "client": [
        "abc",
        "-1",
        "123",
        "1000000000000000001%0A",
        "0123456789012345678",
        "12345678901234567890",
        "99999999999999999999999",
        "1000000000000000001",
    ],
    "kid": ["abc", "A" * 44, "A" * 42 + "!", "A" * 43],
}


@dataclass
class Endpoint:
    method: str
    path: str
    body: dict[str, Any] | None = None  # a valid body, for endpoints that take one
    body_optional: bool = False
    ok: int = 200
    long_fields: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("POST", "/tenants", {"name": "Acme", "edition": "team"}, ok=201),
    Endpoint("GET", "/tenants/{team}"),
    Endpoint("GET", "/tenants/{team}/members"),
    Endpoint(
        "POST",
        "/tenants/{team}/members",
        {"email": "newcomer@example.com", "role": "admin"},
        ok=202,
    ),
    Endpoint("PATCH", "/tenants/{team}/members/{member}", {"role": "admin"}),
    Endpoint("DELETE", "/tenants/{team}/members/{member}", ok=204),
    Endpoint("GET", "/tenants/{team}/workspaces"),
    Endpoint("POST", "/tenants/{team}/workspaces", {"name": "Research"}, ok=201),
    Endpoint("GET", "/tenants/{team}/apps"),
    Endpoint(
        "POST",
        "/tenants/{team}/apps",
        {
            "name": "New",
            "client_type": "web",
            "description": "words",
            "redirect_uris": [LOOPBACK],
            "permissions": ["Bot.read"],
        },
        ok=201,
    ),
    Endpoint("GET", "/apps/{web}"),
    Endpoint(
        "PATCH",
        "/apps/{web}",
        {
            "name": "Renamed",
            "description": "other words",
            "redirect_uris": [LOOPBACK],
            "permissions": ["Workflow.run"],
            "client_type": "web",
        },
    ),
    Endpoint("DELETE", "/apps/{web}", ok=204),
    Endpoint("POST", "/apps/{web}/enable"),
    Endpoint("POST", "/apps/{web}/disable"),
    Endpoint("POST", "/apps/{web}/secret"),
    Endpoint("GET", "/apps/{service}/keys"),
    Endpoint(
        "POST",
        "/apps/{service}/keys",
        {"public_key": KEYS[1]},
        body_optional=True,
        ok=201,
        long_fields={"public_key": "A" * 20_000},
    ),
    Endpoint("DELETE", "/apps/{service}/keys/{kid}", ok=204),
    Endpoint("POST", "/apps/{service}/authorize"),
    Endpoint("GET", "/tenants/{team}/installations"),
    Endpoint("PUT", "/tenants/{team}/installations/{vendor_pkce}", {"kind": "obo"}),
    Endpoint("DELETE", "/tenants/{team}/installations/{vendor_pkce}", ok=204),
    Endpoint("GET", "/tenants/{team}/audit"),
    Endpoint("DELETE", "/me/authorized-apps/{web}", ok=204),
]


@pytest.fixture
def world(app, make_user, make_app, auth_header):
    owner, member, vendor = make_user(), make_user(), make_user()
    make_user("newcomer@example.com")
    team = make_team(app, owner)
    add_member(app, team, member, "member")
    web, _ = make_app(owner, "web", tenant_id=team)
    service, _ = make_app(owner, "service", tenant_id=team)
    vendor_pkce, _ = make_app(vendor, "pkce")
    with app.app_context():
        key, _ = clients.add_key(owner, service.client_id, KEYS[0])
        kid = key.kid
        clients.install(owner, team, vendor_pkce.client_id, "obo")
        db.session.add(
            Authorization(
                user_id=owner.id,
                client_id=web.client_id,
                permissions=["Bot.read"],
                created_at=datetime.now(UTC),
            )
        )
        db.session.commit()
    ids = {
        "team": str(team),
        "member": str(member.id),
        "web": web.client_id,
        "service": service.client_id,
        "vendor_pkce": vendor_pkce.client_id,
        "kid": kid,
    }
    return ids, auth_header(owner)


def _type_cases(body: dict[str, Any]) -> list[tuple[str, Any, int]]:
    """Wrong types, nulls, unknown fields and over-long values, derived from a valid body."""
    cases: list[tuple[str, Any, int]] = [("unknown field", {**body, "unexpected": 1}, 400)]
    for name, value in body.items():
        cases.append((f"{name}: null", {**body, name: None}, 400))
        cases.append((f"{name}: object", {**body, name: {"a": 1}}, 400))
        cases.append((f"{name}: boolean", {**body, name: True}, 400))
        if isinstance(value, str):
            cases.append((f"{name}: number", {**body, name: 12345}, 400))
            cases.append((f"{name}: list", {**body, name: [value]}, 400))
            cases.append((f"{name}: too long", {**body, name: "x" * 5000}, 422))
        if isinstance(value, list):
            cases.append((f"{name}: string", {**body, name: "text"}, 400))
            cases.append((f"{name}: list of numbers", {**body, name: [1, 2]}, 400))
            cases.append((f"{name}: long item", {**body, name: ["x" * 5000]}, 422))
            cases.append((f"{name}: too many", {**body, name: [value[0]] * 50}, 422))
    return cases


def _raw_cases(endpoint: Endpoint, limit: int) -> list[tuple[str, dict[str, Any], int]]:
    """Bodies that are not a JSON object at all, as keyword arguments to client.open."""
    json_type = "application/json"
    cases = [
        ("not JSON", {"data": '{"name": ', "content_type": json_type}, 400),
        ("invalid UTF-8", {"data": b'{"name": "\xff\xfe"}', "content_type": json_type}, 400),
        ("form body", {"data": {"name": "x", "edition": "team"}}, 400),
        (
            "JSON as text/plain",
            {"data": json.dumps(endpoint.body or {}), "content_type": "text/plain"},
            400,
        ),
        ("JSON array", {"json": [endpoint.body or {}]}, 400),
        ("JSON string", {"json": "hello"}, 400),
        ("JSON number", {"data": "42", "content_type": json_type}, 400),
        ("JSON null", {"data": "null", "content_type": json_type}, 400),
        ("deep nesting", {"data": "[" * 30_000, "content_type": json_type}, 400),
        ("lone surrogate", {"data": '{"name": "\\ud800"}', "content_type": json_type}, 400),
        (
            "oversized",
            {"data": '{"name": "' + "x" * (limit + 1) + '"}', "content_type": json_type},
            413,
        ),
    ]
    if endpoint.body is not None and not endpoint.body_optional:
        cases.append(("empty body", {"data": "", "content_type": json_type}, 400))
    return cases


def _bad_id_paths(endpoint: Endpoint, ids: dict[str, str]) -> list[tuple[str, str]]:
    paths = []
    for name, kind in PLACEHOLDER_KIND.items():
        if "{" + name + "}" not in endpoint.path:
            continue
        for bad in BAD_IDS[kind]:
            paths.append((f"{name}={bad!r}", endpoint.path.format(**{**ids, name: bad})))
    return paths


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_malformed_requests_are_refused_cleanly(app, client, world, endpoint):
    ids, headers = world
    url = API + endpoint.path.format(**ids)
    limit = app.config["MAX_CONTENT_LENGTH"]
    before = snapshot(app)
    failures = []

    def check(label: str, status: int, target: str = url, **kwargs: Any) -> None:
        response = client.open(target, method=endpoint.method, headers=headers, **kwargs)
        try:
            assert_error(response, status)
            assert snapshot(app) == before, "database changed"
        except AssertionError as exc:
            failures.append(f"{label}: {exc}")

    if endpoint.method != "GET":
        for label, kwargs, status in _raw_cases(endpoint, limit):
            check(label, status, **kwargs)
    if endpoint.body is not None:
        long_fields = endpoint.long_fields
        for label, body, status in _type_cases(endpoint.body):
            name = label.split(":")[0]
            if label.endswith("too long") and name in long_fields:
                body = {**body, name: long_fields[name]}
            check(label, status, json=body)
    elif endpoint.method != "GET":
        check("a body where none is taken", 400, json={"unexpected": 1})
    for label, path in _bad_id_paths(endpoint, ids):
        check(label, 404, target=API + path, json=endpoint.body)

    assert not failures, "\n".join(failures)
    # The well-formed request succeeds, so the refusals above were about the malformations.
    response = client.open(url, method=endpoint.method, headers=headers, json=endpoint.body)
    assert response.status_code == endpoint.ok, response.get_data(as_text=True)


def test_unknown_api_paths_and_methods_answer_in_the_api_shape(client, world):
    _, headers = world
    assert_error(client.get(f"{API}/nothing-here", headers=headers), 404)
    assert_error(client.put(f"{API}/tenants", headers=headers, json={}), 405)
    assert_error(client.get(f"{API}/tenants/1/apps/2/extra", headers=headers), 404)


def test_oversized_body_is_413_before_authentication_matters(app, client, world):
    _, headers = world
    before = snapshot(app)
    body = '{"name": "' + "x" * app.config["MAX_CONTENT_LENGTH"] + '"}'
    response = client.post(
        f"{API}/tenants", data=body, content_type="application/json", headers=headers
    )
    assert_error(response, 413, "request_too_large")
    assert snapshot(app) == before


def test_query_parameters_are_validated(client, world):
    ids, headers = world
    url = f"{API}/tenants/{ids['team']}/audit"
    for query, status in [
        ("limit=abc", 400),
        ("limit=1.5", 400),
        ("limit=0", 422),
        ("limit=201", 422),
        ("limit=-5", 422),
        ("before=abc", 400),
        ("before=0", 422),
        ("before=99999999999999999999999", 422),
    ]:
        assert_error(client.get(f"{url}?{query}", headers=headers), status)
