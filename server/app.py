"""The Flask application factory and the resources one app holds."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime

from flask import Flask

from . import settings as settings_module
from .domain.times import format_time, utcnow
from .notify import deliveries
from .store.registry import Registry
from .store.storage import Store
from .store.tokens import TokenBook
from .sync import service as sync
from .web import cors, errors, links, metrics, request_log, ui
from .web.api import api
from .web.calendar_api import calendar_api
from .web.exchange_api import exchange_api
from .web.json import InlineSafeJSONProvider
from .web.public import public
from .web.reminders_api import reminders_api
from .web.sync_api import sync_api
from .web.tokens_api import tokens_api

MAX_BODY = 64 * 1024


# What /healthz shows without an admin token: states and times only. Hosts, paths and counts help an
# attacker, and a relay's last error usually names recipients. A part maps to the members it may show.
PUBLIC_HEALTH: dict[str, frozenset | None] = {
    "status": None, "failing": None, "service": None, "time": None, "started_at": None, "last_check": None,
    "db": frozenset({"status"}), "scheduler": frozenset({"status", "next_check"}),
    "mail": frozenset({"status", "failing_since", "last_sent_at"})
}


def _public_health(report: dict) -> dict:
    return {name: report[name] if members is None else {k: v for k, v in report[name].items() if k in members}
            for name, members in PUBLIC_HEALTH.items() if name in report}


class Scimwatch:
    """What one running app holds: settings, the data folder, the key registry and the clock."""

    def __init__(self, config: dict, store: Store, clock: Callable[[], datetime] = utcnow):
        self.settings = config
        self.store = store
        self.registry = Registry(store)
        channels = config["APPRISE_CONFIG"]
        # A key may name only the channels the Apprise configuration defines (none when it is unset).
        self.registry.channel_tags = frozenset(channels.tags if channels else ())
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
        return self.tokens.issue({"scope": scope, "label": label})[0]

    def ensure_admin_token(self) -> str | None:
        """On a first start without SCIMWATCH_ADMIN_TOKEN, make an admin token and return it once."""
        if self.tokens.has_admin():
            return None
        return self.issue_token("admin", "generated on first start")

    def health(self, detailed: bool = False) -> dict:
        """Return the /healthz document: every detail, or only what PUBLIC_HEALTH lets a stranger see."""
        quarantined = self.store.quarantined
        # Where each set-aside record came from (the first 20), never its values: quarantine/ has the rest.
        db: dict = {"status": "ok", "keys": len(self.registry.keys),
                    "quarantine": {"count": len(quarantined), "records": [
                        {name: entry[name] for name in ("table", "doc_id", "field")}
                        for entry in quarantined[:20]]}}
        if quarantined:
            # Still 200: every other record is served and watched, but records are not, until someone acts.
            db.update(status="degraded", reason=(
                f"{len(quarantined)} malformed record(s) were set aside in the data folder's quarantine/ files and "
                "are not watched: fix each one, add it again, then delete its file"))
        report = {"status": db["status"], "service": "scimwatch", "time": format_time(self.now()),
                  "started_at": format_time(self.started_at), "db": db}
        if self.store.write_failure:
            db.update(status="failing", reason=f"{self.store.write_failure}; this clears when a write succeeds")
        for reporter in self.health_reporters:
            report.update(reporter())
        # Short categories only: a stranger learns what is wrong, never the details (paths, relays).
        failing = [category for category, found in (
            ("data_folder_unwritable", db["status"] == "failing"),
            ("reminders_stalled", report.get("scheduler", {}).get("status") == "stalled"),
            ("mail_failing", report.get("mail", {}).get("alert")),
            ("channel_failing", any(channel["alert"] for channel in report.get("channels", ())))) if found]
        if failing:
            report.update(status="failing", failing=failing)
        return report if detailed else _public_health(report)

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
    app.url_map.merge_slashes = False  # "//" is a 404 in JSON, not werkzeug's HTML redirect
    app.json = InlineSafeJSONProvider(app)
    app.extensions["scimwatch"] = Scimwatch(config, store, clock)
    # First, so its clock starts before any other hook can answer, and its line sees the final status.
    request_log.install(app)
    errors.register(app)
    cors.register(app, config["BANNER_ORIGINS"])
    app.register_blueprint(api)
    app.register_blueprint(public)
    app.register_blueprint(reminders_api)
    app.register_blueprint(tokens_api)
    app.register_blueprint(exchange_api)
    app.register_blueprint(sync_api)
    app.register_blueprint(calendar_api)
    ui.register(app)
    links.register(app)  # after the UI: it exempts its route from the UI's CSRF check
    # The reminder service is made here; its scheduler thread starts only in `python -m server`.
    deliveries.install(app)
    metrics.install(app)
    # The same for the Atlassian sync: its periodic thread starts only in `python -m server`.
    sync.install(app)
    return app
