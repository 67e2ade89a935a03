"""The hot paths stay cheap and stay right: how many SQL statements introspection and each
issuance send, and that the cheaper connection handling (autocommit reads, a ping only after
idling, the driver-level read on PostgreSQL) survives connections the database dropped."""

from __future__ import annotations

import gc
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, event, select, text, update

from server import dbpool
from server.extensions import db
from server.oauth.execute import Hot
from tests.conftest import PASSWORD
from tests.oauth_support import (
    JWT_BEARER,
    Browser,
    assertion,
    authorize_url,
    code_tokens,
    exchange_code,
    query,
    refresh_with,
    resource_server,
    service_app,
)


@contextmanager
def statements(app):
    """Every statement sent, as SQLAlchemy's cursor event reports it (the hot reads on the
    PostgreSQL driver included: server/oauth/execute.py dispatches the event for them)."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement.split(None, 1)[0].upper())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def tokens(app, client, make_user, make_app):
    """A signed-in person's web app with a fresh token pair: (app, secret, tokens)."""
    user = make_user()
    browser = Browser(client=client)
    browser.login(user.email, PASSWORD)
    created, secret = make_app(user, "web")
    return created, secret, code_tokens(client, browser, created.client_id, secret), browser


def _is_postgresql(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def test_introspection_is_one_statement(app, client, tokens):
    _, _, issued, _ = tokens
    rs = resource_server(app)
    with statements(app) as seen:
        answer = client.post(
            "/oauth/introspect", data={"token": issued["access_token"]}, headers=rs
        )
    assert answer.json["active"] is True
    assert seen == ["SELECT"]


def test_refresh_and_code_exchange_statement_budget(app, client, tokens):
    created, secret, issued, browser = tokens
    with statements(app) as seen:
        refreshed = refresh_with(client, created.client_id, secret, issued["refresh_token"])
    assert refreshed.status_code == 200
    # The token with its app and standing; the rotation and the new token, one statement on
    # PostgreSQL. ("last used" was written a moment ago by the first issuance, so it is not
    # written again.)
    if _is_postgresql(app):
        assert seen == ["SELECT", "WITH"]
    else:
        assert seen == ["SELECT", "UPDATE", "INSERT"]

    code = query(browser.authorize(authorize_url(created.client_id)))["code"]
    with statements(app) as seen:
        exchanged = exchange_code(client, created.client_id, secret, code)
    assert exchanged.status_code == 200
    # The app; the claim with the standing (one statement on PostgreSQL, each on its own, so
    # no BEGIN or COMMIT either); the new token.
    if _is_postgresql(app):
        assert seen == ["SELECT", "WITH", "INSERT"]
    else:
        assert seen == ["SELECT", "UPDATE", "SELECT", "INSERT"]


def test_jwt_issuance_statement_budget(app, client, make_user, make_app):
    owner = make_user()
    client_id, kid, pem = service_app(app, owner, make_app)
    first = assertion(client_id, kid, pem, "localhost")
    assert client.post("/oauth/token", data={"grant_type": JWT_BEARER, "assertion": first}).json
    with statements(app) as seen:
        answer = client.post(
            "/oauth/token",
            data={
                "grant_type": JWT_BEARER,
                "assertion": assertion(client_id, kid, pem, "localhost"),
            },
        )
    assert answer.status_code == 200, answer.json
    # The app with its keys and its installation; the new token.
    assert seen == ["SELECT", "INSERT"]


@pytest.fixture
def own_app(base_config, _schema, app):
    """A second app on the same database whose connections carry a name of their own, so that
    dropping them leaves every other process's connections alone."""
    if not _is_postgresql(app):
        pytest.skip("needs PostgreSQL")
    from server import create_app
    from server.config import DEFAULTS

    options = {
        **DEFAULTS["SQLALCHEMY_ENGINE_OPTIONS"],
        "connect_args": {"application_name": "hot-path-test"},
    }
    instance = create_app({**base_config, "SQLALCHEMY_ENGINE_OPTIONS": options})
    yield instance
    with instance.app_context():  # close its connections now, not whenever it is collected
        db.session.remove()
        db.engine.dispose()


def _drop_connections(app) -> None:
    """What a database restart or a network cut does to own_app's pooled connections (run from
    `app`, whose connections are not named so)."""
    with app.app_context(), db.engine.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'hot-path-test' AND pid <> pg_backend_pid()"
            )
        )
        connection.commit()


def test_introspection_survives_dropped_connections(app, own_app, tokens):
    _, _, issued, _ = tokens
    rs = resource_server(own_app)
    client = own_app.test_client()
    ask = {"token": issued["access_token"]}
    assert client.post("/oauth/introspect", data=ask, headers=rs).json["active"] is True
    _drop_connections(app)
    answer = client.post("/oauth/introspect", data=ask, headers=rs)
    assert answer.status_code == 200 and answer.json["active"] is True


def test_an_idle_connection_is_checked_before_use(app, own_app, tokens, monkeypatch):
    created, secret, issued, _ = tokens
    client = own_app.test_client()
    assert client.get("/.well-known/oauth-authorization-server").status_code == 200
    with own_app.app_context():
        db.session.execute(text("SELECT 1"))  # a pooled connection to drop
        db.session.remove()
    monkeypatch.setattr(dbpool, "IDLE_BEFORE_PING", 0.0)
    _drop_connections(app)
    refreshed = refresh_with(client, created.client_id, secret, issued["refresh_token"])
    assert refreshed.status_code == 200, refreshed.json


def test_channel_and_sat_introspection_is_one_statement(app, client, make_user, make_app):
    from server import clients, connectors, service_tokens, tenants
    from server.models import User
    from tests.api_helpers import make_team

    owner = make_user()
    team = make_team(app, owner)
    client_id, kid, pem = service_app(
        app, owner, make_app, tenant_id=team, app_kind="channel", permissions=["Bot.read"]
    )
    with app.app_context():
        actor = db.session.get(User, owner.id)
        connector = connectors.create_connector(actor, team, name="Shop")
        clients.update_app(actor, client_id, connector_id=connector.id)
        workspace = next(w.id for w in tenants.list_workspaces(actor, team))
        _, sat = service_tokens.create_service_token(
            actor, team, name="s", permission_names=["Bot.read"], workspace_ids=[workspace],
            expires_in_days=None,
        )  # fmt: skip
        db.session.commit()
    token = client.post(
        "/oauth/token",
        data={"grant_type": JWT_BEARER, "assertion": assertion(client_id, kid, pem, "localhost"),
              "bot_id_list": "1 2"},
    ).json["access_token"]  # fmt: skip
    rs = resource_server(app)
    client.post("/oauth/introspect", data={"token": sat}, headers=rs)  # writes "last used"
    for presented in (token, sat):
        with statements(app) as seen:
            answer = client.post("/oauth/introspect", data={"token": presented}, headers=rs)
        assert answer.json["active"] is True
        assert seen == ["SELECT"]


# The statements themselves ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Name:
    name: str


@dataclass(frozen=True, slots=True)
class _Email:
    email: str


def test_statements_built_at_run_time_never_share_compiled_sql(app, make_user):
    """Each statement keeps its own compiled form: one built and dropped at run time cannot
    leave SQL behind for another that happens to reuse its memory (and its id())."""
    from server.models import User

    user = make_user(name="Ada")
    users = User.__table__
    with app.app_context():
        for _ in range(5):
            by_name = Hot(select(users.c.name).where(users.c.id == bindparam("id")), _Name)
            assert by_name.read_one({"id": user.id}) == _Name("Ada")
            del by_name
            gc.collect(1)  # young objects only: cheap, and these are young
            by_email = Hot(select(users.c.email).where(users.c.id == bindparam("id")), _Email)
            assert by_email.read_one({"id": user.id}) == _Email(user.email)
            del by_email
            gc.collect(1)  # young objects only: cheap, and these are young


def test_a_row_type_must_match_its_statement():
    from server.models import User

    users = User.__table__
    with pytest.raises(TypeError):
        Hot(select(users.c.name, users.c.email), _Name)


@dataclass(frozen=True, slots=True)
class _Used:
    id: int
    last_used_at: datetime | None


@pytest.fixture
def shanghai_app(base_config, _schema, app):
    """The same database through connections whose session time zone is not UTC, which is
    where a datetime bound without the column type's conversion lands hours off."""
    if not _is_postgresql(app):
        pytest.skip("needs PostgreSQL")
    from server import create_app
    from server.config import DEFAULTS

    options = {
        **DEFAULTS["SQLALCHEMY_ENGINE_OPTIONS"],
        "connect_args": {"options": "-c timezone=Asia/Shanghai"},
    }
    instance = create_app({**base_config, "SQLALCHEMY_ENGINE_OPTIONS": options})
    yield instance
    with instance.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_bind_processed_parameter_binds_as_the_column_type_says(
    app, shanghai_app, make_user, make_app
):
    """UTCDateTime stores naive UTC; an aware datetime in another zone must be converted on the
    way in (its bind processor) on the driver path too, and come back aware in UTC."""
    from server.models import Installation, UTCDateTime

    owner = make_user()
    client_id, _, _ = service_app(app, owner, make_app)  # installed in its own tenant
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    with app.app_context():
        db.session.execute(
            update(Installation).where(Installation.client_id == client_id).values(last_used_at=at)
        )
        db.session.commit()
    table = Installation.__table__
    used = Hot(
        select(table.c.id, table.c.last_used_at).where(
            table.c.client_id == bindparam("client_id"),
            table.c.last_used_at == bindparam("at", type_=UTCDateTime()),
        ),
        _Used,
    )
    same_instant = at.astimezone(timezone(timedelta(hours=-7)))
    with shanghai_app.app_context():
        row = used.read_one({"client_id": client_id, "at": same_instant})
        assert row is not None and row.last_used_at == at
        assert row.last_used_at.tzinfo is not None
        assert used.read_one({"client_id": client_id, "at": at + timedelta(hours=8)}) is None


def test_a_driver_error_on_the_read_path_is_logged_and_answers_503(
    app, base_config, _schema, caplog, tokens
):
    """A database out of reach: the hot read's failure is logged, not swallowed, and the
    request answers 503 as any other database failure does."""
    if not _is_postgresql(app):
        pytest.skip("needs PostgreSQL")
    from server import create_app

    _, _, issued, _ = tokens
    rs = resource_server(app)
    url = base_config["SQLALCHEMY_DATABASE_URI"].replace(":5432/", ":9/")  # nothing listens
    down = create_app({**base_config, "SQLALCHEMY_DATABASE_URI": url})
    with caplog.at_level(logging.WARNING, logger="server.oauth.execute"):
        answer = down.test_client().post(
            "/oauth/introspect", data={"token": issued["access_token"]}, headers=rs
        )
    assert answer.status_code == 503
    assert any(
        r.name == "server.oauth.execute" and r.exc_info is not None for r in caplog.records
    ), caplog.records


def test_a_write_is_never_run_twice_and_fails_as_sqlalchemy_fails(app):
    """A write on the driver path that the database refuses raises SQLAlchemy's own error (so
    the request answers as for any database failure) after running once."""
    from sqlalchemy.exc import IntegrityError

    from server.oauth import statements as sql

    values = {
        **{"new_" + name: None for name in sql.TOKEN_FIELDS},
        "new_access_token_hash": "d" * 64,
        "new_client_id": "no-such-app",
        "new_auth_type": "obo",
        "new_tenant_id": 1,
        "new_scope": "",
        "new_family_id": "f" * 32,
        "new_issued_at": 1,
        "new_expires_at": 2,
        "new_revoked": False,
        "new_refresh_revoked": False,
    }
    with app.app_context(), statements(app) as seen:
        assert sql.INSERT_TOKEN.write(values) == 1
        with pytest.raises(IntegrityError):
            sql.INSERT_TOKEN.write(values)
        db.session.rollback()
    assert seen == ["INSERT", "INSERT"]
