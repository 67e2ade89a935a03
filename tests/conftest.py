"""Fixtures in the Flask tutorial's style: app, client, runner, and factories for users and apps.

The suite runs on the embedded default (a SQLite file, in-process stores) unless DATABASE_URL
and REDIS_URL point at real services, as .ci/run does for PostgreSQL and Redis. The schema is
built once per run by the real migrations, and so is the app; every test starts from empty
tables and stores and the app's settings as built.
"""

from __future__ import annotations

import copy
import itertools
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy import Engine, event, text

from server import create_app
from server.extensions import db
from server.models import Base, User
from server.store import MemoryStore
from tests.api_helpers import API, snapshot
from tests.oauth_support import Browser, hidden, resource_server

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


@event.listens_for(Engine, "connect")
def _sqlite_without_fsync(connection: Any, _record: Any) -> None:
    """The tests' SQLite files are thrown away after the run, so no commit waits for the disk
    (a wait of about a hundredth of a second each, more on a busy machine)."""
    if isinstance(connection, sqlite3.Connection):
        connection.execute("PRAGMA synchronous = OFF")


@pytest.fixture(scope="session")
def base_config(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Settings shared by the in-process app and any server process a test starts."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "RATELIMIT_ENABLED": False,
        "OAUTH_ISSUER": "http://localhost",
        "WTF_CSRF_ENABLED": True,
    }


@pytest.fixture(scope="session")
def _schema(base_config: dict[str, Any]) -> None:
    app = create_app(
        {**base_config, "SQLALCHEMY_DATABASE_URI": base_config["SQLALCHEMY_DATABASE_URI"]}
    )
    with app.app_context():
        upgrade()


def _empty_tables() -> None:
    """Every table emptied by DELETE (far cheaper than TRUNCATE on PostgreSQL for tables this
    small) and, on PostgreSQL, every sequence restarted, as a fresh database would be."""
    for table in reversed(Base.metadata.sorted_tables):
        db.session.execute(table.delete())
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            text(
                "SELECT setval(c.oid, 1, false) FROM pg_class c"
                " WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"
            )
        )
    db.session.commit()


@pytest.fixture(scope="session")
def _shared_app(base_config: dict[str, Any], _schema: None) -> tuple[Flask, dict[str, Any]]:
    """One app for the whole run (building one costs far more than most tests), with its
    settings and extensions as built, for each test to start from."""
    app = create_app(dict(base_config))
    return app, {"config": copy.deepcopy(dict(app.config)), "extensions": dict(app.extensions)}


@pytest.fixture
def app(_shared_app: tuple[Flask, dict[str, Any]]) -> Iterator[Flask]:
    """The app as create_app built it, over empty tables and empty stores: what a test changed
    in its settings or extensions is put back, whatever the test before did."""
    app, built = _shared_app
    app.config.clear()
    app.config.update(copy.deepcopy(built["config"]))
    app.extensions.clear()
    app.extensions.update(built["extensions"])
    with app.app_context():
        _empty_tables()
        store = app.extensions["store"]
        if isinstance(store, MemoryStore):
            app.extensions["store"] = MemoryStore()
            app.extensions["ratelimit"].storage.reset()
        else:
            store._redis.flushdb()  # the rate limits' counters too: the same database
    yield app
    with app.app_context():
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def make_user(app: Flask):
    """make_user(email=None, password=PASSWORD, name=None) -> User (committed)."""
    from server.accounts import create_user

    def factory(
        email: str | None = None, password: str = PASSWORD, name: str | None = None
    ) -> User:
        with app.app_context():
            user = create_user(email or f"user{next(_counter)}@example.com", password, name)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return factory


@pytest.fixture
def make_app(app: Flask):
    """make_app(owner, client_type="web", tenant_id=None, **fields) -> (App, clear secret or None).

    The app is committed and detached. The default tenant is the owner's personal tenant; web
    and pkce apps get one loopback redirect URI unless given; service apps get no keys.
    """
    from server.accounts import personal_tenant
    from server.clients import register_app

    def factory(owner: User, client_type: str = "web", tenant_id: int | None = None, **fields):
        with app.app_context():
            if tenant_id is None:
                tenant_id = personal_tenant(owner.id).id
            fields.setdefault("name", f"App {next(_counter)}")
            if client_type in ("web", "pkce"):
                fields.setdefault("redirect_uris", ["http://127.0.0.1:8765/callback"])
            created, secret = register_app(owner, tenant_id, client_type=client_type, **fields)
            db.session.commit()
            db.session.refresh(created)
            db.session.expunge(created)
            return created, secret

    return factory


@pytest.fixture
def auth_header(app: Flask):
    """auth_header(user) -> {"Authorization": "Bearer <personal access token>"}."""
    from server.credentials import create_personal_access_token

    def factory(user: User) -> dict[str, str]:
        with app.app_context():
            _, token = create_personal_access_token(user, name="test")
            db.session.commit()
            return {"Authorization": f"Bearer {token}"}

    return factory


@pytest.fixture
def post_to_own_app(app: Flask, client: FlaskClient, make_user, make_app, auth_header):
    """post_to_own_app(client_type, action) -> (answer, changed): a new user's management API
    POST to /apps/<their new app>/<action>, and whether it changed any row."""

    def call(client_type: str, action: str) -> tuple[Any, bool]:
        user = make_user()
        created, _ = make_app(user, client_type)
        headers = auth_header(user)
        before = snapshot(app)
        response = client.post(f"{API}/apps/{created.client_id}/{action}", headers=headers)
        return response, snapshot(app) != before

    return call


@pytest.fixture
def person_browser(client: FlaskClient) -> Browser:
    """Where `person` signs in: Flask's test client. A module of live tests overrides it with
    a Browser over HTTP to its server."""
    return Browser(client=client)


@pytest.fixture
def person(person_browser: Browser, make_user) -> Browser:
    """A signed-in person at a browser; `person.user` is their (detached) account."""
    user = make_user()
    person_browser.login(user.email, PASSWORD)
    person_browser.user = user
    return person_browser


class Console:
    """A signed-in person using the console through the test client."""

    def __init__(self, client, user) -> None:
        self.client = client
        self.user = user
        Browser(client=client).login(user.email, PASSWORD)

    def get(self, path: str):
        return self.client.get(path)

    def post(self, path: str, data: dict | None = None, page: str | None = None):
        """POST a console form with the CSRF token and a form nonce read from `page` (or the
        overview, which has no console form: then a fresh nonce)."""
        html = self.client.get(page or "/console/").get_data(as_text=True)
        nonce = hidden(html, "form_nonce") or secrets.token_urlsafe(16)
        form = {"csrf_token": hidden(html, "csrf_token"), "form_nonce": nonce, **(data or {})}
        return self.client.post(path, data=form)

    def post_and_follow(self, path: str, data: dict | None = None, page: str | None = None):
        """POST, expect a redirect (post/redirect/get), and GET where it leads."""
        response = self.post(path, data, page)
        assert response.status_code in (302, 303), response.status_code
        return self.client.get(response.headers["Location"])


@pytest.fixture
def owner(make_user) -> User:
    """A user: the one `console` signs in."""
    return make_user()


@pytest.fixture
def console(client: FlaskClient, owner: User) -> Console:
    return Console(client, owner)


def fast_password_hash(password: str) -> str:
    """scrypt at a hundredth of its strength: a fraction of a millisecond, where the server's
    full strength costs a seventh of a second per hash and again per sign-in."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password, method="scrypt:128:8:1")


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap password hashes for the accounts tests make. tests/test_accounts.py checks the
    real parameters (server.passwords.hash_password); a hash names its parameters, so checking
    one is as cheap as making it."""
    monkeypatch.setattr("server.accounts.hash_password", fast_password_hash)


_KEY_POOL: list[tuple[str, Any]] = []


@pytest.fixture(autouse=True)
def pooled_key_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Service-app key pairs drawn in turn from eight real RSA-2048 pairs made once per run
    (making one costs about a tenth of a second): the keys in one test differ as long as it
    makes fewer than nine. tests/test_keys.py checks keys.generate_key_pair itself."""
    from keys import generate_key_pair

    turn = itertools.count()

    def pooled() -> tuple[str, Any]:
        index = next(turn) % 8
        while len(_KEY_POOL) <= index:
            _KEY_POOL.append(generate_key_pair())
        return _KEY_POOL[index]

    monkeypatch.setattr("server.clients.generate_key_pair", pooled)


@pytest.fixture(scope="session")
def live_server(
    base_config: dict[str, Any], _schema: None, tmp_path_factory: pytest.TempPathFactory
):
    """A real server process (Granian) on a free loopback port, for real clients."""
    from tests.live import LiveServer

    server = LiveServer(base_config, tmp_path_factory.mktemp("live") / "server.log")
    yield server
    server.stop()


@pytest.fixture
def introspect(app: Flask, live_server) -> Callable[[str], dict[str, Any]]:
    """introspect(token) -> the live server's introspection answer, as a resource server."""
    headers = resource_server(app)

    def call(token: str) -> dict[str, Any]:
        response = requests.post(
            live_server.url + "/oauth/introspect",
            data={"token": token},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 200
        return response.json()

    return call


# Markers, so that `make check` can run the fast tests alone. Assigned here from what a test
# uses, so a new test is marked by its fixtures without having to remember to say so.
LIVE_FIXTURES = {"live_server", "browser"}
SLOW_MODULES = {
    "test_lifecycle_scale",
    "test_load_with_changes",
    "test_lifecycle_model",
    "test_many_nodes",
}
FUZZ_MODULES = {"test_fuzz_openapi", "test_fuzz_raw"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        fixtures = set(getattr(item, "fixturenames", ()))
        if "browser" in item.path.parts:
            item.add_marker(pytest.mark.browser)
        module_names = vars(getattr(item, "module", None) or object)
        starts_processes = "LiveServer" in module_names or "subprocess" in module_names
        if fixtures & LIVE_FIXTURES or starts_processes or item.get_closest_marker("live"):
            item.add_marker(pytest.mark.live)
        if module in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        if module in FUZZ_MODULES or item.get_closest_marker("fuzz"):
            item.add_marker(pytest.mark.fuzz)
