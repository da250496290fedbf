"""The Flask application factory and the resources one app holds."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import cast

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from . import settings as settings_module
from .domain.times import format_time, utcnow
from .notify import deliveries
from .store.registry import Registry
from .store.storage import Store
from .store.tokens import TokenBook
from .web import cors, errors, ui
from .web.api import api
from .web.public import public
from .web.reminders_api import reminders_api
from .web.tokens_api import tokens_api

MAX_BODY = 64 * 1024


class Scimwatch:
    """What one running app holds: settings, the data folder, the key registry and the clock."""

    def __init__(self, config: dict, store: Store, clock: Callable[[], datetime] = utcnow):
        self.settings = config
        self.store = store
        self.registry = Registry(store)
        self.tokens = TokenBook(store, config["ADMIN_TOKEN"], clock)
        self.now = clock
        self.started_at = clock()
        # Other concerns (the reminder loop) report their state here for /healthz.
        self.health_reporters: list[Callable[[], dict]] = []

    def scope_of(self, presented: str) -> str | None:
        """Return the scope of a bearer token, or None when it is not valid."""
        bearer = self.tokens.identify(presented)
        return bearer.scope if bearer else None

    def issue_token(self, scope: str, label: str = "") -> str:
        """Create a token, store its hash and return the token itself (shown once)."""
        return self.tokens.issue(scope, label)[0]

    def ensure_admin_token(self) -> str | None:
        """On a first start without SCIMWATCH_ADMIN_TOKEN, make an admin token and return it once."""
        if self.tokens.has_admin():
            return None
        return self.issue_token("admin", "generated on first start")

    def health(self) -> dict:
        """Return the /healthz document."""
        report = {"status": "ok", "service": "scimwatch", "time": format_time(self.now()),
                  "started_at": format_time(self.started_at),
                  "db": {"status": "ok", "keys": len(self.registry.keys)}}
        for reporter in self.health_reporters:
            report.update(reporter())
        return report

    def close(self) -> None:
        """Write what is left (token uses) and release the data folder."""
        try:
            self.tokens.close()
        finally:
            self.store.close()


def create_app(test_config: Mapping | None = None, store: Store | None = None) -> Flask:
    """Build the app; settings come from the environment, or from `test_config` (names without prefix).

    `test_config` may also carry `CLOCK`, a callable returning the current UTC time. `store` is an
    already open data folder (the CLI opens it itself to choose read-only or locked).
    """
    environ: Mapping[str, str]
    if test_config is None:
        environ, clock = os.environ, utcnow
    else:
        test_config = dict(test_config)
        clock = test_config.pop("CLOCK", utcnow)
        environ = {settings_module.PREFIX + name: str(value) for name, value in test_config.items()}
    config = settings_module.load(environ)
    if store is None:
        store = Store(config["DATA_DIR"])

    app = Flask(__name__, static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY)
    cast(DefaultJSONProvider, app.json).sort_keys = False
    # JSON stays ASCII-escaped (Flask's default) so any string, even an unpaired surrogate, can be answered.
    app.extensions["scimwatch"] = Scimwatch(config, store, clock)
    errors.register(app)
    cors.register(app, config["BANNER_ORIGINS"])
    app.register_blueprint(api)
    app.register_blueprint(public)
    app.register_blueprint(reminders_api)
    app.register_blueprint(tokens_api)
    ui.register(app)
    # The reminder service is made here; its scheduler thread starts only in `python -m server`.
    deliveries.install(app)
    return app
