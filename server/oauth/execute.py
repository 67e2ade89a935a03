"""The hot statements: each declared once, with the dataclass its rows come back as, and run
with the least work per request.

A `Hot` holds its statement, its row type and its compiled form per dialect (never a cache
keyed by anything but the object itself), and runs in one of two ways:

- Inside the session's transaction (issuance, or any read after a write in the request):
  SQLAlchemy Core on the session's connection, rows turned into the dataclass.
- Outside any transaction (introspection, the app read that starts an issuance): one statement
  in autocommit mode, which is its own fresh snapshot, sees every commit made before it by any
  process, and costs one round trip instead of three (BEGIN, the statement, COMMIT). On
  PostgreSQL it runs on the pooled psycopg connection with the SQL compiled here once, the
  parameters through the types' own bind processors and the rows through their result
  processors into the dataclass (a psycopg row factory). Measured against plain autocommit
  Core, this saves about 0.4 ms of CPU per statement, most of it psycopg building
  `cursor.description` for SQLAlchemy's result (bench/README.md, "Hot path and round trips").
  SQLAlchemy's `before_cursor_execute` and `after_cursor_execute` events are dispatched for
  it as for any statement, so listeners count and time it like the others. A driver error is
  logged, the connection invalidated, and the statement run once more through Core on a fresh
  connection: a connection the database dropped answers, a database that is down raises
  SQLAlchemy's error (a 503). A statement that changes rows (`write`, `change_one`) takes the
  same driver path, about 0.3 ms cheaper than Core's autocommit per statement, but is never run
  twice, since it may have been applied: its driver error is raised as SQLAlchemy raises it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import BindParameter, Select, exc
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.sql import visitors

from server.extensions import db

log = logging.getLogger(__name__)

R = TypeVar("R")

Params = Mapping[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class _DriverForm:
    """A statement compiled for one dialect, with the conversions SQLAlchemy would apply."""

    sql: str
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]  # parameter name, its bind processor
    results: tuple[Callable[[Any], Any] | None, ...]  # one per column, None: as it comes


def _columns(statement: Any) -> list[Any]:
    if isinstance(statement, Select):
        return list(statement.selected_columns)
    returning = getattr(statement, "_returning", ())
    return list(returning)


class Hot(Generic[R]):
    """One hot statement and the dataclass its rows are (None for a statement without rows).

    A select's columns are put in the dataclass's field order; a RETURNING must already be in
    it. Either way the names must match the fields exactly, checked here at import.
    """

    def __init__(self, statement: Any, row: type[R] | None = None) -> None:
        self.row = row
        if row is not None:
            names = [f.name for f in dataclasses.fields(row)]  # type: ignore[arg-type]
            by_key = {c.key: c for c in _columns(statement)}
            if set(by_key) != set(names) or len(by_key) != len(_columns(statement)):
                raise TypeError(f"{row.__name__}: columns {sorted(by_key)} != fields {names}")
            if isinstance(statement, Select):
                statement = statement.with_only_columns(
                    *(by_key[n] for n in names), maintain_column_froms=False
                )
            elif [c.key for c in _columns(statement)] != names:
                raise TypeError(f"{row.__name__}: RETURNING is not in the fields' order")
        self.statement = statement
        self._forms: dict[str, _DriverForm] = {}
        # Expanding parameters (IN lists) are rendered per execution: Core only.
        self._driver_ok = not any(
            isinstance(e, BindParameter) and e.expanding for e in visitors.iterate(statement)
        )

    # In the session's transaction --------------------------------------------------------

    def first(self, params: Params) -> R | None:
        """The first row, in the session's transaction (begun if need be)."""
        found = _connection().execute(self.statement, dict(params)).first()
        return self._make(found) if found is not None else None

    def all(self, params: Params) -> list[R]:
        return [self._make(r) for r in _connection().execute(self.statement, dict(params))]

    def run(self, params: Params) -> int:
        """A statement without rows, in the session's transaction: the rows it changed."""
        return int(_connection().execute(self.statement, dict(params)).rowcount)

    # Outside any transaction --------------------------------------------------------------

    def write(self, params: Params) -> int:
        """A statement without rows, in the session's transaction when one is open, else on its
        own in autocommit mode: one round trip instead of three (BEGIN, it, COMMIT), and as
        atomic, being one statement. The rows it changed."""
        if _in_transaction():
            return self.run(params)
        changed = self._once(params, fetch=False)
        assert isinstance(changed, int)
        return changed

    def change_one(self, params: Params) -> R | None:
        """The first row of a statement that changes rows (an UPDATE ... RETURNING, or a WITH
        holding one), run as `write` runs one."""
        if _in_transaction():
            return self.first(params)
        rows = self._once(params, fetch=True)
        assert isinstance(rows, list)
        return rows[0] if rows else None

    def _once(self, params: Params, *, fetch: bool) -> list[R] | int:
        engine = db.engine
        if self._driver_ok and engine.dialect.driver == "psycopg":
            dbapi_error = engine.dialect.loaded_dbapi.Error
            try:
                return self._driver(engine, params, fetch=fetch)
            except dbapi_error as error:
                # Not run again: it may have been applied. Raised as Core raises it (a database
                # out of reach answers 503), its parameters (digests) kept out of the message.
                sql = self.driver_form(engine.dialect).sql
                raise exc.DBAPIError.instance(
                    sql, None, error, dbapi_error, hide_parameters=True
                ) from error
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            result = connection.execute(self.statement, dict(params))
            return [self._make(r) for r in result] if fetch else int(result.rowcount)

    def read_one(self, params: Params) -> R | None:
        """The first row of this read-only statement, outside any transaction when the session
        has none open (else inside it, so that it sees the session's own changes)."""
        if _in_transaction():
            return self.first(params)
        found = self._read(params)
        return found[0] if found else None

    def read_all(self, params: Params) -> list[R]:
        """Every row, as read_one reads one. Outside a transaction the statement sees every
        commit made before it, as it would inside one at READ COMMITTED."""
        return self.all(params) if _in_transaction() else self._read(params)

    def _read(self, params: Params) -> list[R]:
        engine = db.engine
        if self._driver_ok and engine.dialect.driver == "psycopg":
            try:
                rows = self._driver(engine, params, fetch=True)
                assert isinstance(rows, list)
                return rows
            except Exception:
                log.warning(
                    "driver read failed; running it again through SQLAlchemy", exc_info=True
                )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return [self._make(r) for r in connection.execute(self.statement, dict(params))]

    def _make(self, values: Sequence[Any]) -> R:
        assert self.row is not None, "a statement without rows"
        return self.row(*values)

    def driver_form(self, dialect: Dialect) -> _DriverForm:
        """The SQL and conversions for this dialect, compiled on first use and kept here."""
        form = self._forms.get(dialect.name)
        if form is None:
            compiled = self.statement.compile(dialect=dialect)
            binds = []
            for name, bind in compiled.binds.items():
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    binds.append((name, process))
            results = tuple(
                c.type.dialect_impl(dialect).result_processor(dialect, None)
                for c in _columns(self.statement)
            )
            form = _DriverForm(compiled.string, tuple(binds), results)
            self._forms[dialect.name] = form
        return form

    def _driver(self, engine: Engine, params: Params, *, fetch: bool) -> list[R] | int:
        """The statement on the pooled psycopg connection in autocommit mode: its rows, or
        (`fetch` false) how many rows it changed."""
        form = self.driver_form(engine.dialect)
        values = dict(params)
        for name, process in form.binds:
            if name in values:
                values[name] = process(values[name])
        # A Connection only when someone listens to the cursor events: it is what they receive,
        # and it costs a tenth of the read.
        listened = bool(
            engine.dispatch.before_cursor_execute or engine.dispatch.after_cursor_execute
        )
        connection = engine.connect() if listened else None
        pooled = connection.connection if connection is not None else engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert driver is not None
            driver.autocommit = True
            cursor = (
                driver.cursor(row_factory=self._row_factory(form)) if fetch else driver.cursor()
            )
            with cursor:
                if connection is not None:  # as SQLAlchemy sends them (no execution context)
                    connection.dispatch.before_cursor_execute(
                        connection, cursor, form.sql, values, None, False
                    )
                cursor.execute(form.sql, values)
                if connection is not None:
                    connection.dispatch.after_cursor_execute(
                        connection, cursor, form.sql, values, None, False
                    )
                found: list[R] | int = cursor.fetchall() if fetch else cursor.rowcount
            driver.autocommit = False
            return found
        except Exception:
            pooled.invalidate()  # never hand a connection in an unknown state to the next request
            raise
        finally:
            (connection or pooled).close()

    def _row_factory(self, form: _DriverForm) -> Callable[[Any], Callable[[Sequence[Any]], R]]:
        make = self.row
        assert make is not None
        # Only the columns that have a conversion: most come from psycopg as they are.
        conversions = tuple((i, f) for i, f in enumerate(form.results) if f is not None)
        if not conversions:
            return lambda _cursor: lambda values: make(*values)

        def convert(values: Sequence[Any]) -> R:
            row = list(values)
            for i, f in conversions:
                row[i] = f(row[i])
            return make(*row)

        return lambda _cursor: convert


def _connection() -> Connection:
    session = db.session()
    if session.new or session.dirty or session.deleted:
        session.flush()  # what the ORM's autoflush would have done before a query
    return session.connection()


def commit_if_open() -> None:
    """Commit the session's transaction if this request opened one. An issuance whose statements
    each ran on their own opened none, and an empty commit still builds a session and its
    bookkeeping (about 0.09 ms)."""
    if _in_transaction():
        db.session.commit()


def _in_transaction() -> bool:
    if not db.session.registry.has():  # no session yet in this request, so no transaction
        return False
    session = db.session()
    return bool(session.in_transaction() or session.new or session.dirty or session.deleted)
