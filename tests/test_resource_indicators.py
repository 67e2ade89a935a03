"""RFC 8707 resource indicators: resource servers own resource URIs, tokens carry an audience,
and introspection shows a token only to the resource server that owns its audience."""

from __future__ import annotations

import json

import pytest
from werkzeug.datastructures import MultiDict

from tests.conftest import PASSWORD
from tests.oauth_support import (
    DEVICE_CODE,
    JWT_BEARER,
    REDIRECT_URI,
    Browser,
    assertion,
    authorize_url,
    basic,
    code_form,
    query,
    resource_server,
    service_app,
)

# Users are made with cheap password hashing: these tests are about clients, not the KDF.
pytestmark = pytest.mark.usefixtures("fast_passwords")

A = "https://mcp-a.example.com/mcp"
A2 = "https://mcp-a.example.com/other"
B = "https://mcp-b.example.com/mcp"


@pytest.fixture
def servers(app):
    """Resource servers: A owns two URIs, B one, C none."""
    return {
        "A": resource_server(app, A, A2),
        "B": resource_server(app, B),
        "C": resource_server(app),
    }


@pytest.fixture
def person(client, make_user, make_app):
    user = make_user()
    browser = Browser(client=client)
    browser.login(user.email, PASSWORD)
    created, secret = make_app(user, "web")
    return user, browser, created.client_id, secret


def _exchange(client, client_id, secret, code, *resources):
    return client.post(
        "/oauth/token", data=code_form(code, *resources), headers=basic(client_id, secret)
    )


def _coze_exchange(client, person, code, resource):
    """The Coze dialect's code exchange, `resource` as given in its JSON body."""
    _, _, client_id, secret = person
    body = {"grant_type": "authorization_code", "code": code, "client_id": client_id,
            "redirect_uri": REDIRECT_URI, "resource": resource}  # fmt: skip
    return client.post(
        "/api/permission/oauth2/token", json=body, headers={"Authorization": f"Bearer {secret}"}
    )


def _refresh(client, client_id, secret, refresh_token, *resources):
    data = MultiDict(
        [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            *(("resource", r) for r in resources),
        ]
    )
    return client.post("/oauth/token", data=data, headers=basic(client_id, secret))


def _introspect(client, headers, token):
    return client.post("/oauth/introspect", data={"token": token}, headers=headers).json


def _grant(client, person, *resources):
    _, browser, client_id, secret = person
    code = query(browser.authorize(authorize_url(client_id, *resources)))["code"]
    return code


def test_a_token_for_one_resource_server_is_inactive_for_another(client, person, servers):
    _, _, client_id, secret = person
    code = _grant(client, person, A)
    issued = _exchange(client, client_id, secret, code)
    assert issued.status_code == 200, issued.json
    token = issued.json["access_token"]
    seen = _introspect(client, servers["A"], token)
    assert seen["active"] is True and seen["aud"] == A
    # Exactly what an unknown token gets: nothing more.
    assert _introspect(client, servers["B"], token) == {"active": False}
    assert _introspect(client, servers["C"], token) == {"active": False}
    # The refresh token is bound the same way.
    assert _introspect(client, servers["B"], issued.json["refresh_token"]) == {"active": False}
    assert _introspect(client, servers["A"], issued.json["refresh_token"])["active"] is True


def test_a_token_without_audience_is_seen_by_every_resource_server(client, person, servers):
    _, _, client_id, secret = person
    issued = _exchange(client, client_id, secret, _grant(client, person))
    token = issued.json["access_token"]
    for name in ("A", "B", "C"):
        seen = _introspect(client, servers[name], token)
        assert seen["active"] is True and "aud" not in seen


def test_several_resources_give_a_list_and_code_exchange_may_narrow(client, person, servers):
    _, _, client_id, secret = person
    both = _exchange(client, client_id, secret, _grant(client, person, A, B))
    seen = _introspect(client, servers["B"], both.json["access_token"])
    assert seen["aud"] == [A, B]
    assert _introspect(client, servers["A"], both.json["access_token"])["active"] is True

    narrowed = _exchange(client, client_id, secret, _grant(client, person, A, B), B)
    assert narrowed.status_code == 200, narrowed.json
    assert _introspect(client, servers["B"], narrowed.json["access_token"])["aud"] == B
    assert _introspect(client, servers["A"], narrowed.json["access_token"]) == {"active": False}

    # The refresh token remembers the grant: the next token may be for A after one for B.
    again = _refresh(client, client_id, secret, narrowed.json["refresh_token"], A)
    assert again.status_code == 200, again.json
    assert _introspect(client, servers["A"], again.json["access_token"])["aud"] == A
    # Omitting resource gives all the grant's resources.
    full = _refresh(client, client_id, secret, again.json["refresh_token"])
    assert _introspect(client, servers["A"], full.json["access_token"])["aud"] == [A, B]


def test_code_exchange_cannot_widen(client, person, servers):
    _, _, client_id, secret = person
    answer = _exchange(client, client_id, secret, _grant(client, person, A), B)
    assert answer.status_code == 400
    assert answer.json["error"] == "invalid_target"
    # Nor can a grant made without resource gain one.
    answer = _exchange(client, client_id, secret, _grant(client, person), A)
    assert answer.json["error"] == "invalid_target"


def test_refresh_cannot_widen_and_the_refused_refresh_token_stays_usable(client, person, servers):
    _, _, client_id, secret = person
    issued = _exchange(client, client_id, secret, _grant(client, person, A))
    refused = _refresh(client, client_id, secret, issued.json["refresh_token"], B)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_target"
    unknown = _refresh(client, client_id, secret, issued.json["refresh_token"], "https://x.test/")
    assert unknown.json["error"] == "invalid_target"
    ok = _refresh(client, client_id, secret, issued.json["refresh_token"])
    assert ok.status_code == 200
    assert _introspect(client, servers["A"], ok.json["access_token"])["aud"] == A


@pytest.mark.parametrize(
    "resource",
    [
        "https://unknown.example.com/mcp",  # unknown
        "/mcp",  # relative
        A + "#frag",  # fragment
        "mcp-a.example.com",  # no scheme
    ],
)
def test_a_bad_resource_at_authorize_redirects_invalid_target(client, person, servers, resource):
    _, browser, client_id, _ = person
    status, headers, _ = browser.get(authorize_url(client_id, resource))
    assert status == 302
    answer = query(headers["Location"])
    assert headers["Location"].startswith(REDIRECT_URI)
    assert answer["error"] == "invalid_target"
    assert answer["state"] == "t"
    assert answer["iss"] == "http://localhost"


def test_a_bad_resource_with_a_bad_redirect_uri_is_shown_not_redirected(client, person, servers):
    _, browser, client_id, _ = person
    url = authorize_url(client_id, "/relative").replace("127.0.0.1%3A8765", "evil.example.com")
    status, headers, _ = browser.get(url)
    assert status == 400 and "Location" not in headers


def test_jwt_grant_and_device_authorization_take_resource(
    app, client, make_user, make_app, servers
):
    owner = make_user()
    client_id, kid, pem = service_app(app, owner, make_app)
    data = {"grant_type": JWT_BEARER, "assertion": assertion(client_id, kid, pem, "localhost")}
    bad = client.post("/oauth/token", data={**data, "resource": "https://nope.example.com/"})
    assert bad.status_code == 400 and bad.json["error"] == "invalid_target"
    data["assertion"] = assertion(client_id, kid, pem, "localhost")
    good = client.post("/oauth/token", data={**data, "resource": B})
    assert good.status_code == 200, good.json
    assert _introspect(client, servers["B"], good.json["access_token"])["aud"] == B
    assert _introspect(client, servers["A"], good.json["access_token"]) == {"active": False}

    device, _ = make_app(owner, "device")
    refused = client.post(
        "/oauth/device_authorization",
        data={"client_id": device.client_id, "resource": "https://nope.example.com/"},
    )
    assert refused.status_code == 400 and refused.json["error"] == "invalid_target"
    accepted = client.post(
        "/oauth/device_authorization", data={"client_id": device.client_id, "resource": A}
    )
    assert accepted.status_code == 200


def test_device_flow_issues_for_its_resource(app, client, make_user, make_app, servers):
    owner = make_user()
    browser = Browser(client=client)
    browser.login(owner.email, PASSWORD)
    device, _ = make_app(owner, "device")
    started = client.post(
        "/oauth/device_authorization", data={"client_id": device.client_id, "resource": A}
    ).json
    status, _ = browser.approve_device(started["user_code"])
    assert status == 200
    poll = {
        "grant_type": DEVICE_CODE,
        "client_id": device.client_id,
        "device_code": started["device_code"],
    }
    wider = client.post("/oauth/token", data={**poll, "resource": B})
    assert wider.status_code == 400 and wider.json["error"] == "invalid_target"
    token = client.post("/oauth/token", data=poll)
    assert token.status_code == 200, token.json
    assert _introspect(client, servers["A"], token.json["access_token"])["aud"] == A
    assert _introspect(client, servers["B"], token.json["access_token"]) == {"active": False}


def test_the_coze_dialect_takes_resource_in_its_json_body(client, person, servers):
    answer = _coze_exchange(client, person, _grant(client, person, A, B), B)
    assert answer.status_code == 200, answer.json
    assert _introspect(client, servers["B"], answer.json["access_token"])["aud"] == B
    assert _introspect(client, servers["A"], answer.json["access_token"]) == {"active": False}


def test_resource_server_commands(runner):
    created = runner.invoke(
        args=["resource-servers", "create", "mcp", "--resource", A, "--resource", A2, "--json"]
    )
    assert created.exit_code == 0, created.output
    body = json.loads(created.output)
    assert body["resources"] == [A, A2] and body["secret"]
    added = runner.invoke(args=["resource-servers", "add-resource", body["id"], B, "--json"])
    assert json.loads(added.output)["resources"] == [A, A2, B]
    listed = json.loads(runner.invoke(args=["resource-servers", "list", "--json"]).output)
    assert listed["items"] == [{"id": body["id"], "name": "mcp", "resources": [A, A2, B]}]
    other = json.loads(runner.invoke(args=["resource-servers", "create", "b", "--json"]).output)
    taken = runner.invoke(args=["resource-servers", "add-resource", other["id"], A, "--json"])
    assert taken.exit_code == 1 and json.loads(taken.output)["error"] == "conflict"
    for bad in ("/relative", A + "#x", "no-scheme"):
        refused = runner.invoke(
            args=["resource-servers", "create", "x", "--resource", bad, "--json"]
        )
        assert refused.exit_code == 1 and json.loads(refused.output)["error"] == "invalid_value"


def test_audience_bound_introspection_is_still_one_statement(app, client, person, servers):
    from tests.test_hot_paths import statements

    _, _, client_id, secret = person
    token = _exchange(client, client_id, secret, _grant(client, person, B)).json["access_token"]
    for name, active in (("B", True), ("A", False)):
        with statements(app) as seen:
            answer = _introspect(client, servers[name], token)
        assert answer["active"] is active
        assert seen == ["SELECT"]


@pytest.mark.parametrize("value", [7, {"a": 1}, [{"a": 1}], [None], True, [A] * 11])
def test_hostile_resource_values_in_json_are_refused(client, person, servers, value):
    answer = _coze_exchange(client, person, _grant(client, person, A), value)
    # The Coze dialect refuses an object as a malformed parameter before the grant sees it.
    assert answer.status_code == 400, answer.json
    assert answer.json["error"] in ("invalid_target", "invalid_request")


def test_the_access_rule_reads_the_audience():
    from grants.access import AppView, Denial, TokenView, token_denial

    app = AppView("1", "web", "enabled")

    def denial(audience, caller):
        token = TokenView("obo", "personal", 100, False, None, 5, audience=audience)
        return token_denial(
            token,
            app,
            installation=None,
            authorization_id=5,
            member=True,
            now=1,
            caller_resources=caller,
        )

    assert denial((A,), [A, A2]) is None
    assert denial((A, B), [B]) is None  # one of its audience is enough
    assert denial((A,), [B]) == Denial.WRONG_AUDIENCE
    assert denial((A,), []) == Denial.WRONG_AUDIENCE  # a server without URIs
    assert denial((), []) is None  # no audience: as before
    assert denial((A,), None) is None  # no resource server asking


def test_the_coze_dialect_takes_several_resources_as_a_json_list(client, person, servers):
    code = _grant(client, person, A, B)
    for bad in ([], [A, 1], {"uri": A}):
        refused = _coze_exchange(client, person, code, bad)
        assert refused.status_code == 400 and refused.json["error_code"] == "invalid_request"
    answer = _coze_exchange(client, person, code, [A, B])
    assert answer.status_code == 200, answer.json
    assert _introspect(client, servers["B"], answer.json["access_token"])["aud"] == [A, B]
