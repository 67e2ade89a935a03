"""The migrations build exactly the schema the models describe, and step down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from server.extensions import db
from server.models import Base


def _differences() -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_migrations_match_the_models(app):
    with app.app_context():
        assert _differences() == []


def test_the_latest_migrations_step_down_and_up(app):
    with app.app_context():
        db.session.remove()
        downgrade(revision="0002")
        try:
            assert "invitations" not in inspect(db.engine).get_table_names()
            assert "resource_uris" not in inspect(db.engine).get_table_names()
            columns = {c["name"] for c in inspect(db.engine).get_columns("oauth_tokens")}
            assert "audience" not in columns
            downgrade(revision="0001")
            names = {i["name"] for i in inspect(db.engine).get_indexes("oauth_tokens")}
            assert "ix_oauth_tokens_client_user" in names
            assert "ix_oauth_tokens_user_client" not in names
        finally:
            upgrade()
        names = {i["name"] for i in inspect(db.engine).get_indexes("oauth_tokens")}
        assert "ix_oauth_tokens_user_client" in names
        assert "invitations" in inspect(db.engine).get_table_names()
        assert "resource_uris" in inspect(db.engine).get_table_names()
        assert _differences() == []
