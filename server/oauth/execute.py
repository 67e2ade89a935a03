"""Running the statements of server/oauth/statements.py with the least work per request.

- Inside the session's transaction (issuance): straight on its connection, as plain rows; the
  ORM's per-statement machinery has nothing to add to a row of columns.
- Outside any transaction (introspection): one statement in autocommit mode, which is its own
  fresh snapshot, sees every commit made before it by any process, and costs one round trip
  instead of three (BEGIN, the statement, COMMIT). On PostgreSQL the SQL, compiled once, runs
  straight on the pooled psycopg connection: SQLAlchemy's execution and result machinery would
  otherwise be a third of the request's Python work.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from sqlalchemy.engine import Row

from server.extensions import db

_DRIVER_SQL: dict[int, tuple[str, Any]] = {}


def first(statement: Any, params: dict[str, Any]) -> Row | None:
    """The first row of a statement, in the session's transaction (begun if need be)."""
    session = db.session()
    if session.new or session.dirty or session.deleted:
        session.flush()  # what the ORM's autoflush would have done before a query
    return session.connection().execute(statement, params).first()


def rows(statement: Any, params: dict[str, Any]) -> list[Row]:
    """Every row of a statement, in the session's transaction (begun if need be)."""
    session = db.session()
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection().execute(statement, params).all()


def read_row(statement: Any, params: dict[str, Any]) -> Any:
    """The first row of one read-only statement, outside any transaction when the session has
    none open (else inside it, so that it sees the session's own changes)."""
    found = _read(statement, params, many=False)
    return found if found is not _IN_SESSION else first(statement, params)


def read_rows(statement: Any, params: dict[str, Any]) -> list[Any]:
    """Every row of one read-only statement, as read_row reads one. Outside a transaction the
    statement sees every commit made before it, as it would inside one at READ COMMITTED."""
    found = _read(statement, params, many=True)
    return found if found is not _IN_SESSION else rows(statement, params)


_IN_SESSION = object()


def _read(statement: Any, params: dict[str, Any], *, many: bool) -> Any:
    if db.session.registry.has():  # else no session yet in this request, so no transaction
        session = db.session()
        if session.in_transaction() or session.new or session.dirty or session.deleted:
            return _IN_SESSION
    engine = db.engine
    if engine.dialect.driver == "psycopg":
        done, result = _driver_read(engine, statement, params, many)
        if done:
            return result
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        result = connection.execute(statement, params)
        return result.all() if many else result.first()


def _driver_sql(statement: Any, dialect: Any) -> tuple[str, Any]:
    compiled = _DRIVER_SQL.get(id(statement))
    if compiled is None:
        # Module-level statements only: they live as long as the process, so their id is theirs.
        columns = list(statement.selected_columns)
        make = namedtuple("Row", [c.key for c in columns])._make
        # The columns' own conversions (time zones on datetimes, say), as SQLAlchemy would apply.
        convert = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        if any(convert):
            plain = make

            def make(values: Any) -> Any:
                return plain(f(v) if f else v for f, v in zip(convert, values, strict=True))

        compiled = (str(statement.compile(dialect=dialect)), make)
        _DRIVER_SQL[id(statement)] = compiled
    return compiled


def _driver_read(
    engine: Any, statement: Any, params: dict[str, Any], many: bool
) -> tuple[bool, Any]:
    """(True, the row or None, or the list of rows); (False, None) when the driver failed, for
    the caller to run the statement again the ordinary way, on a fresh connection and with
    SQLAlchemy's handling of errors (a database that is down becomes a 503). Reading twice is
    harmless."""
    sql_text, make_row = _driver_sql(statement, engine.dialect)
    pooled = engine.raw_connection()
    try:
        connection = pooled.driver_connection
        connection.autocommit = True
        try:
            cursor = connection.execute(sql_text, params)
            values = cursor.fetchall() if many else cursor.fetchone()
        finally:
            connection.autocommit = False
    except Exception:
        pooled.invalidate()  # never hand a connection in an unknown state to the next request
        return False, None
    finally:
        pooled.close()
    if many:
        return True, [make_row(v) for v in values]
    return True, (make_row(values) if values is not None else None)
