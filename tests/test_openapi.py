"""The OpenAPI document: valid, complete, and true to what the API accepts and returns."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from server import clients
from server.extensions import db
from server.models import Authorization
from tests.api_helpers import API, add_member, make_team, rsa_public_pem

pytestmark = pytest.mark.usefixtures("fast_passwords")

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def document(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def test_document_is_valid_openapi(document):
    validate(document)
    assert document["openapi"].startswith("3.")


def test_document_lists_every_route_of_the_api_blueprint(app, document):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, method.lower()))
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert documented == routes
    assert len(routes) >= 30


def test_every_operation_documents_its_errors_and_security(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if path.endswith("/openapi.json"):
                assert operation["security"] == []
                continue
            assert "401" in responses, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            if method.upper() in UNSAFE:
                assert {"400", "413"} <= set(responses), (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorOut")


def test_request_bodies_are_closed_objects(document):
    schemas = document["components"]["schemas"]
    bodies = 0
    for operations in document["paths"].values():
        for operation in operations.values():
            if "requestBody" in operation:
                ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                schema = schemas[ref.rsplit("/", 1)[1]]
                assert schema["additionalProperties"] is False
                bodies += 1
    assert bodies == 13


def _operation(document, method: str, url: str):
    for template, operations in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, url.split("?")[0]) and method.lower() in operations:
            return operations[method.lower()]
    raise AssertionError(f"{method} {url} is not documented")


def _validator(document, ref: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": ref, "components": document["components"]})


def _check(document, method: str, url: str, response, body=None) -> None:
    operation = _operation(document, method, url)
    if body is not None:
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        _validator(document, ref).validate(body)
    documented = operation["responses"]
    status = str(response.status_code)
    assert status in documented, (method, url, status, response.get_data(as_text=True))
    content = documented[status].get("content")
    if content is None:
        assert response.get_data() == b""
        return
    ref = content["application/json"]["schema"]["$ref"]
    _validator(document, ref).validate(response.get_json())


def test_real_responses_match_the_document(app, client, document, make_user, make_app, auth_header):
    owner, member = make_user(), make_user()
    team = make_team(app, owner)
    add_member(app, team, member, "member")
    vendor = make_user()
    vendor_web, _ = make_app(vendor, "web")
    with app.app_context():
        db.session.add(
            Authorization(
                user_id=owner.id,
                client_id=vendor_web.client_id,
                permissions=["Bot.read"],
                created_at=datetime.now(UTC),
            )
        )
        db.session.commit()
    headers = auth_header(owner)
    member_headers = auth_header(member)

    def call(method: str, path: str, body=None, as_member: bool = False):
        url = API + path
        response = client.open(
            url, method=method, json=body, headers=member_headers if as_member else headers
        )
        _check(document, method, url, response, body)
        return response

    web = call(
        "POST",
        f"/tenants/{team}/apps",
        {
            "name": "Web",
            "client_type": "web",
            "description": "d",
            "redirect_uris": ["https://app.example.com/cb"],
            "permissions": ["Bot.read"],
        },
    ).json["client_id"]
    service = call("POST", f"/tenants/{team}/apps", {"name": "Svc", "client_type": "service"}).json[
        "client_id"
    ]
    kid = call("POST", f"/apps/{service}/keys").json["kid"]
    call("POST", f"/apps/{service}/keys", {"public_key": rsa_public_pem()})
    call("POST", f"/apps/{service}/authorize")
    call("PUT", f"/tenants/{team}/installations/{vendor_web.client_id}", {"kind": "obo"})
    with app.app_context():
        clients.request_installation(member, team, make_app(vendor, "pkce")[0].client_id)
        db.session.commit()
    call("POST", "/tenants", {"name": "Other", "edition": "enterprise"})
    call("POST", f"/tenants/{team}/workspaces", {"name": "WS"})
    newcomer = make_user()
    invited = call("POST", f"/tenants/{team}/members", {"email": newcomer.email, "role": "admin"})
    call("GET", f"/tenants/{team}/invitations")
    call("DELETE", f"/tenants/{team}/invitations/{invited.json['invitation']['id']}")
    again = call("POST", f"/tenants/{team}/members", {"email": newcomer.email, "role": "admin"})
    newcomer_headers = auth_header(newcomer)
    mine = client.get(f"{API}/me/invitations", headers=newcomer_headers)
    _check(document, "GET", f"{API}/me/invitations", mine)
    accept = f"{API}/me/invitations/{again.json['invitation']['id']}/accept"
    _check(document, "POST", accept, client.post(accept, headers=newcomer_headers))
    other = call("POST", f"/tenants/{team}/members", {"email": "x@example.com", "role": "member"})
    decline = f"{API}/me/invitations/{other.json['invitation']['id']}/decline"
    _check(document, "POST", decline, client.post(decline, headers=newcomer_headers))
    call("PATCH", f"/tenants/{team}/members/{newcomer.id}", {"role": "member"})
    call("PATCH", f"/apps/{web}", {"name": "Web 2", "client_type": "web"})
    call("POST", f"/apps/{web}/disable")
    call("POST", f"/apps/{web}/enable")
    call("POST", f"/apps/{web}/secret")
    for path in (
        "/me",
        "/permissions",
        "/tenants",
        f"/tenants/{team}",
        f"/tenants/{team}/members",
        f"/tenants/{team}/workspaces",
        f"/tenants/{team}/apps",
        f"/tenants/{team}/installations",
        f"/tenants/{team}/audit",
        f"/tenants/{team}/audit?limit=2",
        f"/apps/{web}",
        f"/apps/{service}/keys",
        "/me/authorized-apps",
    ):
        assert call("GET", path).status_code == 200, path
    # Errors are documented too.
    call("POST", f"/apps/{web}/disable", as_member=True)
    call("GET", f"/tenants/{team}/audit", as_member=True)
    call("PATCH", f"/apps/{web}", {"client_type": "pkce"})
    call("GET", "/apps/1000000000000000001")
    malformed = client.post(
        f"{API}/tenants/{team}/apps", json={"name": "x", "extra": 1}, headers=headers
    )
    _check(document, "POST", f"{API}/tenants/{team}/apps", malformed)
    call("DELETE", f"/apps/{service}/keys/{kid}")
    call("DELETE", f"/tenants/{team}/installations/{vendor_web.client_id}")
    call("DELETE", f"/me/authorized-apps/{vendor_web.client_id}")
    call("DELETE", f"/tenants/{team}/members/{newcomer.id}")
    call("DELETE", f"/apps/{web}")
    response = client.get(f"{API}/me")
    _check(document, "GET", f"{API}/me", response)
