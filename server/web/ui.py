"""The admin web UI (DESIGN §12): server-rendered pages under /ui/, signed in with an admin token.

The pages live in ui_keys (keys) and ui_admin (deliveries, tokens, settings, preview), sign-in in
ui_auth, the shared parts in ui_common. Everything here runs for /ui/ requests only: the API and the
banner route carry no session, CSRF check or UI header.
"""
from __future__ import annotations

import logging

from flask import Flask, redirect
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from ..domain.keys import ValidationError
from ..store.registry import KeyNotFound
from ..store.secrets import folder_secret
from ..store.storage import WriteFailed
from . import ui_admin, ui_keys  # noqa: F401 (their routes join the blueprint)
from .ui_auth import SESSION_HOURS, THROTTLE_EXTENSION, SignInThrottle, UiSessions, cookie_settings
from .ui_common import error_page, secure, ui

log = logging.getLogger(__name__)

SECRET_FILE = "ui.secret"  # noqa: S105 (a file name, not a secret)


@ui.errorhandler(HTTPException)
def http_error(error: HTTPException):
    """Answer an HTTP error of a UI page (a refused CSRF token among them) with a small HTML page."""
    status = error.code or 500
    headers = dict(h for h in error.get_headers() if h[0] in ("Allow", "Retry-After"))
    message = None
    if status == 400:
        message = ("The form was refused: it carried no valid security token (it may be older than the session). "
                   "Nothing was changed. Go back, reload the page and try again.")
    return error_page(status, message, headers)


@ui.errorhandler(KeyNotFound)
def key_not_found(error: KeyNotFound):
    """A key that does not exist (or was just deleted)."""
    return error_page(404, "There is no key with this id; it may have been deleted.")


@ui.errorhandler(ValidationError)
def invalid(error: ValidationError):
    """Input a page did not expect to be refused (forms show their own messages next to their fields)."""
    return error_page(400, "Some values are not valid: " + str(error))


@ui.errorhandler(WriteFailed)
def write_failed(error: WriteFailed):
    """The disk refused a write: nothing was changed, and pages keep reading from memory."""
    return error_page(507, f"The data folder refused the write, so nothing was changed: {error}")


@ui.errorhandler(Exception)
def unexpected(error: Exception):
    """Anything else: logged with its stack, answered with a page that shows none of it."""
    log.exception("unhandled error in the admin UI")
    return error_page(500)


def register(app: Flask) -> None:
    """Install the UI: its blueprint, sessions scoped to /ui/, CSRF on its forms, and `GET /` to it."""
    context = app.extensions["scimwatch"]
    if not context.store.readonly:
        # A read-only opening (the CLI beside a running server) serves no pages, and may not write the folder.
        app.secret_key = folder_secret(context.settings["DATA_DIR"], SECRET_FILE)
    app.session_interface = UiSessions()
    app.config.update(cookie_settings(context.settings["PUBLIC_URL"]))
    # CSRFProtect checks only where the UI asks (its before_request); the API uses bearer tokens, not cookies.
    app.config.update(WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600)
    CSRFProtect(app)
    app.extensions[THROTTLE_EXTENSION] = SignInThrottle()
    app.register_blueprint(ui)
    app.add_url_rule("/", "root", lambda: secure(redirect("/ui/", 302)))
