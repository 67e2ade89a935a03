"""The samples under examples/, each run end to end against a live server: the web back end and
the device CLI as the commands the README prints, the service app, and the resource server with
its introspection cache dropped by a signed event the worker delivers to it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from types import SimpleNamespace

import pytest
import requests
from werkzeug.serving import make_server

from server.events import subscriptions
from server.events.worker import Worker
from server.extensions import db
from server.models import EventDelivery, User
from tests.conftest import PASSWORD
from tests.live import ROOT, free_port
from tests.oauth_support import Browser, query, service_app

pytestmark = pytest.mark.usefixtures("fast_passwords")
LIVE_SECRET_KEY = "live-test-secret-key-0123456789abcdef"  # tests/live.py's


@pytest.fixture
def person(live_server, make_user, auth_header):
    user = make_user()
    browser = Browser(base_url=live_server.url)
    browser.login(user.email, PASSWORD)
    browser.user = user
    browser.api = auth_header(user)
    return browser


def start(module: str, env: dict[str, str], *args: str) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DEMO")}
    environment.update(env, DEMO_CREDENTIALS="/nonexistent", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            requests.get(f"http://localhost:{port}/", timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError("the sample did not start")


@pytest.fixture
def web_sample(live_server, person, make_app) -> Iterator[tuple[str, str]]:
    port = free_port()
    callback = f"http://localhost:{port}/callback"
    created, secret = make_app(
        person.user, "web", redirect_uris=[callback], permissions=["Bot.read"]
    )
    env = {
        "OAUTH_SERVER": live_server.url,
        "CLIENT_ID": created.client_id,
        "CLIENT_SECRET": secret,
        "REDIRECT_URI": callback,
    }
    process = start("examples.web_flask.app", env, "--port", str(port))
    try:
        wait_for_port(port, process)
        yield f"http://localhost:{port}", created.client_id
    finally:
        process.terminate()
        process.wait(10)


def test_web_sample_signs_in_refreshes_and_handles_denial_and_revocation(
    live_server, person, web_sample
):
    base, client_id = web_sample
    app_session = requests.Session()

    def sign_in(decision: str = "approve") -> str:
        to_server = app_session.get(base + "/login", allow_redirects=False)
        back = person.authorize(to_server.headers["Location"], decision)
        return app_session.get(back, timeout=30).text

    assert "Signed in. Scope: <code>Bot.read</code>" in sign_in()
    assert "Signed in" in app_session.post(base + "/refresh", timeout=30).text

    revoked = requests.delete(
        f"{live_server.url}/api/v1/me/authorized-apps/{client_id}", headers=person.api, timeout=10
    )
    assert revoked.status_code == 204
    page = app_session.post(base + "/refresh", timeout=30).text
    assert "Your access was revoked or has expired" in page and "Sign in" in page

    assert "You declined" in sign_in("deny")


def test_device_sample_prints_the_code_and_polls_until_approved(live_server, person, make_app):
    created, _ = make_app(person.user, "device", permissions=["Bot.read"])
    env = {"OAUTH_SERVER": live_server.url, "CLIENT_ID": created.client_id}
    process = start("examples.device_cli.device", env)
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        assert lines[0].startswith(f"To sign in, open {live_server.url}/device"), lines
        user_code = lines[1].rsplit(" ", 1)[1].strip()
        status, _ = person.approve_device(user_code)
        assert status == 200
        out, _ = process.communicate(timeout=40)
    finally:
        process.kill()
    assert process.returncode == 0, out
    assert "Signed in: scope 'Bot.read'" in out


def test_service_sample_in_both_dialects(app, live_server, make_user, make_app):
    from examples.service_app.service import coze_token, rfc_token
    from tests.oauth_support import resource_server

    client_id, kid, pem = service_app(app, make_user(), make_app)
    rs = resource_server(app)
    for get in (coze_token, rfc_token):
        token = get(live_server.url, client_id, kid, pem)
        info = requests.post(
            live_server.url + "/oauth/introspect", data={"token": token}, headers=rs, timeout=10
        ).json()
        assert info["active"] and info["auth_type"] == "appauth", get.__name__


class Served:
    """A WSGI app or handler class on a free loopback port, in a thread of this process."""

    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_resource_server_cache_is_dropped_by_the_event(
    app, live_server, person, make_app, monkeypatch
):
    from examples.events_receiver.receiver import make_handler
    from examples.resource_server.app import create_app as resource_app
    from server.credentials import create_resource_server

    app.config.update(SECRET_KEY=LIVE_SECRET_KEY, EVENTS_ALLOW_PRIVATE_HOSTS=True)
    created, secret = make_app(person.user, "web", permissions=["Bot.read"])
    with app.app_context():
        rs, rs_secret = create_resource_server("sample")
        db.session.commit()
        rs_id = rs.id
    monkeypatch.setenv("OAUTH_SERVER", live_server.url)
    monkeypatch.setenv("RESOURCE_SERVER_ID", rs_id)
    monkeypatch.setenv("RESOURCE_SERVER_SECRET", rs_secret)
    monkeypatch.setenv("DEMO_CREDENTIALS", "/nonexistent")

    # The resource server and a plain event receiver, each subscribed to all the app's events.
    seen: list[dict] = []
    with app.app_context():
        owner = db.session.get(User, person.user.id)
        for_rs, rs_events_secret = subscriptions.create_subscription(
            owner, created.client_id, "http://127.0.0.1:9/", ["*"]
        )
        for_receiver, receiver_secret = subscriptions.create_subscription(
            owner, created.client_id, "http://127.0.0.1:9/", ["*"]
        )
        monkeypatch.setenv("EVENTS_SECRET", rs_events_secret)
        served = Served(resource_app())
        receiver = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(receiver_secret, seen.append))
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{receiver.server_address[1]}/"
        for_rs.url, for_receiver.url = served.url + "/events", url
        db.session.commit()
        receiver_sub = for_receiver.id
    try:
        api = served.url + "/hello"
        location = person.authorize(
            live_server.url
            + f"/oauth/authorize?response_type=code&client_id={created.client_id}"
            + "&redirect_uri=http://127.0.0.1:8765/callback&scope=Bot.read"
        )
        token = requests.post(
            live_server.url + "/oauth/token",
            data={"grant_type": "authorization_code", "code": query(location)["code"]}
            | {"redirect_uri": "http://127.0.0.1:8765/callback"},
            auth=(created.client_id, secret),
            timeout=10,
        ).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert requests.get(api, headers=bearer, timeout=10).json()["hello"] == str(person.user.id)

        revoked = requests.delete(
            f"{live_server.url}/api/v1/me/authorized-apps/{created.client_id}",
            headers=person.api,
            timeout=10,
        )
        assert revoked.status_code == 204
        # Cached: still answered from the cache until the event arrives...
        assert requests.get(api, headers=bearer, timeout=10).status_code == 200
        worker = Worker(app)
        worker.run(burst=True)
        worker.close()
        # ...and refused at once after it.
        assert requests.get(api, headers=bearer, timeout=10).status_code == 401
        types = [e["type"] for e in seen]
        assert "authorization.revoked" in types and "authorization.granted" in types

        # The receiver refuses a forged delivery and handles a redelivered event only once.
        forged = requests.post(url, data=b"{}", headers={"X-Signature": "t=1,v1=00"}, timeout=5)
        assert forged.status_code == 401
        before = len(seen)
        with app.app_context():
            owner = db.session.get(User, person.user.id)
            delivery = db.session.query(EventDelivery).filter_by(subscription_id=receiver_sub)
            subscriptions.redeliver(owner, receiver_sub, delivery.first().id)
            db.session.commit()
        worker = Worker(app)
        worker.run(burst=True)
        worker.close()
        assert len(seen) == before
    finally:
        served.close()
        receiver.shutdown()


def test_samples_read_the_demo_credentials_unless_the_environment_says(tmp_path, monkeypatch):
    import json

    from examples.demo import setting

    saved = {"url": "http://127.0.0.1:5000", "apps": {"web": {"client_id": "123"}}}
    (tmp_path / "demo.json").write_text(json.dumps(saved))
    monkeypatch.setenv("DEMO_CREDENTIALS", str(tmp_path / "demo.json"))
    monkeypatch.delenv("CLIENT_ID", raising=False)
    assert setting("CLIENT_ID", "apps", "web", "client_id") == "123"
    assert setting("OAUTH_SERVER", "url") == "http://127.0.0.1:5000"
    assert setting("SCOPE", default="Bot.read") == "Bot.read"
    assert setting("CLIENT_ID", "apps", "pkce", "client_id") == ""
    monkeypatch.setenv("CLIENT_ID", "456")
    assert setting("CLIENT_ID", "apps", "web", "client_id") == "456"


def test_only_the_browser_facing_oauth_endpoints_answer_other_origins(client):
    open_to_all = [
        client.post("/oauth/token", data={"grant_type": "refresh_token"}),
        client.post("/oauth/revoke", data={"token": "x", "client_id": "1"}),
        client.get("/.well-known/oauth-authorization-server"),
    ]
    for response in open_to_all:
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in response.headers
    for response in (
        client.post("/oauth/introspect", data={"token": "x"}),
        client.get("/api/v1/permissions"),
        client.get("/login"),
        client.post("/api/permission/oauth2/token", json={}),
    ):
        assert "Access-Control-Allow-Origin" not in response.headers


def test_device_sample_honours_slow_down(live_server, person, make_app, monkeypatch, capsys):
    from examples.device_cli import device

    created, _ = make_app(person.user, "device", permissions=["Bot.read"])
    asked: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        """Skip the first two waits (so the second poll comes too early and is told to slow
        down), then approve and wait only as long as the server's own pace needs."""
        asked.append(seconds)
        if len(asked) == 3:
            user_code = capsys.readouterr().out.split("enter the code ")[1].split()[0]
            assert person.approve_device(user_code)[0] == 200
            real_sleep(5.2)

    monkeypatch.setattr(device, "time", SimpleNamespace(sleep=sleep, monotonic=time.monotonic))
    token = device.sign_in(live_server.url, created.client_id, "Bot.read")
    assert token["scope"] == "Bot.read"
    assert asked == [5, 5, 10]  # five seconds more after the slow_down, as RFC 8628 says
