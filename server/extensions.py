"""Flask extensions, created unbound and bound to the app inside create_app; and the one unit of
work that commits or rolls back around a domain call."""

from collections.abc import Iterator
from contextlib import contextmanager

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from server.models import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()


@contextmanager
def transaction() -> Iterator[None]:
    """Commit what the block changed; if the block (or the commit) raises, roll back and let
    the error through, so a refused action never leaves half its writes in the session."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
