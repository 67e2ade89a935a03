"""Fail closed when Redis is gone: nothing decided without it is guessed, nothing dead reads as
active, and the server recovers by itself when Redis returns."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis
import requests

from tests.conftest import PASSWORD
from tests.live import LiveServer, free_port
from tests.oauth_support import (
    JWT_BEARER,
    REDIRECT_URI,
    Browser,
    assertion,
    resource_server,
    service_app,
)


class PrivateRedis:
    def __init__(self) -> None:
        assert shutil.which("redis-server"), "redis-server is required for this test"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def outage(base_config, _schema, tmp_path):
    private = PrivateRedis()
    private.start()
    server = LiveServer(
        {**base_config, "REDIS_URL": private.url}, tmp_path / "server.log", workers=2
    )
    yield private, server
    server.stop()
    private.kill()


def test_redis_outage_fails_closed_and_recovers(app, outage, make_user, make_app, auth_header):
    private, server = outage
    owner = make_user()
    headers = auth_header(owner)
    rs = resource_server(app)
    client_id, kid, pem = service_app(app, owner, make_app)
    audience = server.url.split("//")[1]

    def mint():
        return requests.post(
            server.url + "/api/permission/oauth2/token",
            json={"grant_type": JWT_BEARER},
            headers={"Authorization": "Bearer " + assertion(client_id, kid, pem, audience)},
            timeout=10,
        )

    def active(token):
        response = requests.post(
            server.url + "/oauth/introspect", data={"token": token}, headers=rs, timeout=10
        )
        assert response.status_code == 200
        return response.json()["active"]

    token = mint().json()["access_token"]
    assert active(token)

    private.kill()
    refused = mint()
    assert refused.status_code == 503
    assert refused.json()["error_code"] == "temporarily_unavailable"
    assert refused.headers["Retry-After"]
    web, _ = make_app(owner, "web")
    browser = Browser(base_url=server.url)
    browser.login(owner.email, PASSWORD)
    status, _, _ = browser.get(
        f"/oauth/authorize?response_type=code&client_id={web.client_id}&redirect_uri={REDIRECT_URI}"
    )
    assert status == 503
    # What the database decides is still decided exactly: a disable is obeyed at once.
    assert active(token)
    assert (
        requests.post(
            f"{server.url}/api/v1/apps/{client_id}/disable", headers=headers, timeout=10
        ).status_code
        == 200
    )
    assert not active(token)
    requests.post(f"{server.url}/api/v1/apps/{client_id}/enable", headers=headers, timeout=10)

    private.start()
    deadline = time.monotonic() + 15
    while (response := mint()).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert response.status_code == 200, response.text
    assert active(response.json()["access_token"]) and active(token)
