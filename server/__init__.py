"""The application factory: settings, extensions, stores and one blueprint per face."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from server import config as settings
from server import startup
from server.extensions import csrf, db, migrate
from server.store import make_store


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The app; a bad setting stops the process here, with one line naming it (tests: raises)."""
    try:
        return _create_app(test_config)
    except startup.ConfigError as error:
        if (test_config or {}).get("TESTING"):
            raise
        startup.refuse(error)


def _create_app(test_config: dict[str, Any] | None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(settings.DEFAULTS)
    app.config.update(settings.from_environment(os.environ))
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    settings.finish(app.config, app.instance_path)
    if not app.testing:
        startup.check_reachable(app.config)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
    csrf.init_app(app)
    app.extensions["store"] = make_store(app.config["REDIS_URL"])

    from server import (
        api,
        cli,
        console,
        i18n,
        logformat,
        logsafety,
        oauth,
        ops,
        pages,
        proxy,
        ratelimit,
        web,
    )
    from server.events import init_app as init_events

    logsafety.init_app(app)
    logformat.init_app(app)
    ops.init_app(app)
    proxy.init_app(app)
    web.init_app(app)
    i18n.init_app(app)
    ratelimit.init_app(app)
    oauth.init_app(app)
    pages.init_app(app)
    console.init_app(app)
    api.init_app(app)
    cli.init_app(app)
    init_events(app)
    return app
