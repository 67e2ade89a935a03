"""Fixtures in the Flask tutorial's style: app, client, runner, and factories for users and apps.

The suite runs on the embedded default (a SQLite file, in-process stores) unless DATABASE_URL
and REDIS_URL point at real services, as .ci/run does for PostgreSQL and Redis. The schema is
built once per run by the real migrations; every test starts from empty tables.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy import text

from server import create_app
from server.extensions import db
from server.models import Base, User

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


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
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))  # noqa: S608 - our own table names
    db.session.commit()


@pytest.fixture
def app(base_config: dict[str, Any], _schema: None) -> Iterator[Flask]:
    app = create_app(dict(base_config))
    with app.app_context():
        _empty_tables()
        store = app.extensions["store"]
        if hasattr(store, "_redis"):
            store._redis.flushdb()
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
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheaper scrypt parameters for tests that make many users and never test the KDF."""
    from werkzeug.security import generate_password_hash

    monkeypatch.setattr(
        "server.accounts.hash_password",
        lambda password: generate_password_hash(password, method="scrypt:1024:8:1"),
    )


@pytest.fixture(scope="session")
def live_server(
    base_config: dict[str, Any], _schema: None, tmp_path_factory: pytest.TempPathFactory
):
    """A real server process (gunicorn) on a free loopback port, for real clients."""
    from tests.live import LiveServer

    server = LiveServer(base_config, tmp_path_factory.mktemp("live") / "server.log")
    yield server
    server.stop()


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
