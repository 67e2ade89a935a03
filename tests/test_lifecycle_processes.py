"""No stale window across processes: tokens obtained through one server process, changes made
through another, and the very next introspection on each agrees with the access rule."""

from __future__ import annotations

import pytest
import requests

from server.accounts import personal_tenant
from tests.conftest import PASSWORD
from tests.live import LiveServer
from tests.oauth_support import (
    JWT_BEARER,
    Browser,
    assertion,
    authorize_url,
    basic,
    code_form,
    query,
    resource_server,
    service_app,
)


@pytest.fixture(scope="module")
def second_server(base_config, _schema, tmp_path_factory):
    server = LiveServer(base_config, tmp_path_factory.mktemp("live-b") / "server.log")
    yield server
    server.stop()


class Platform:
    """Server A issues; server B takes the admin's changes; both are asked right after."""

    def __init__(self, app, a, b, owner, headers, make_app):
        self.a, self.b, self.headers = a, b, headers
        self.rs = resource_server(app)
        self.owner = owner
        with app.app_context():
            self.personal = personal_tenant(owner.id).id
        team = self.api("post", "/api/v1/tenants", json={"name": "Team", "edition": "team"})
        self.team = team["id"]
        web, self.secret = make_app(owner, "web")
        self.web = web.client_id
        self.api(
            "put", f"/api/v1/tenants/{self.team}/installations/{self.web}", json={"kind": "obo"}
        )
        self.team_workspace = next(
            w["id"]
            for w in self.api("get", f"/api/v1/tenants/{self.team}/workspaces")["items"]
            if w["is_default"]
        )
        self.service, self.kid, self.pem = service_app(app, owner, make_app)
        self.browser = Browser(base_url=a.url)
        self.browser.login(owner.email, PASSWORD)

    def api(self, method, path, **kwargs):
        response = getattr(requests, method)(
            self.b.url + path, headers=self.headers, timeout=10, **kwargs
        )
        assert response.status_code in (200, 201, 204), (path, response.text)
        return response.json() if response.status_code != 204 else None

    def obo_tokens(self):
        url = self.a.url + authorize_url(self.web)
        code = query(self.browser.authorize(url, workspace_id=self.team_workspace))["code"]
        response = requests.post(
            self.a.url + "/oauth/token",
            data=code_form(code),
            headers=basic(self.web, self.secret),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return [body["access_token"], body["refresh_token"]]

    def service_token(self):
        audience = self.a.url.split("//")[1]
        response = requests.post(
            self.a.url + "/api/permission/oauth2/token",
            json={"grant_type": JWT_BEARER},
            headers={
                "Authorization": "Bearer " + assertion(self.service, self.kid, self.pem, audience)
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return [response.json()["access_token"]]

    def assert_active(self, tokens, expected: bool, step: str):
        for server in (self.a, self.b):
            for token in tokens:
                answer = requests.post(
                    server.url + "/oauth/introspect",
                    data={"token": token},
                    headers=self.rs,
                    timeout=10,
                ).json()
                assert answer["active"] is expected, (step, server.url, token[:8], answer)


def test_changes_through_one_process_are_seen_by_the_next_call_on_every_process(
    app, live_server, second_server, make_user, make_app, auth_header
):
    owner = make_user()
    p = Platform(app, live_server, second_server, owner, auth_header(owner), make_app)
    obo, service = p.obo_tokens(), p.service_token()
    tokens = obo + service
    p.assert_active(tokens, True, "issued")

    for client_id in (p.web, p.service):
        p.api("post", f"/api/v1/apps/{client_id}/disable")
    p.assert_active(tokens, False, "disable")
    for client_id in (p.web, p.service):
        p.api("post", f"/api/v1/apps/{client_id}/enable")
    p.assert_active(tokens, True, "enable")

    p.api("delete", f"/api/v1/tenants/{p.team}/installations/{p.web}")
    p.api("delete", f"/api/v1/tenants/{p.personal}/installations/{p.service}")
    p.assert_active(tokens, False, "uninstall")
    p.api("put", f"/api/v1/tenants/{p.team}/installations/{p.web}", json={"kind": "obo"})
    p.api("post", f"/api/v1/apps/{p.service}/authorize")
    p.assert_active(tokens, False, "reinstall")

    obo, service = p.obo_tokens(), p.service_token()
    p.assert_active(obo + service, True, "issued after reinstall")
    p.api("delete", f"/api/v1/me/authorized-apps/{p.web}")
    p.assert_active(obo, False, "revoke")
    fresh = p.obo_tokens()
    p.assert_active(obo, False, "re-consent")
    p.assert_active(fresh, True, "issued after re-consent")

    p.api("delete", f"/api/v1/apps/{p.web}")
    p.api("delete", f"/api/v1/apps/{p.service}")
    p.assert_active(fresh + service, False, "delete")
