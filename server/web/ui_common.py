"""What every admin UI page shares (DESIGN §12): the blueprint, security headers, the error page, time text."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, render_template
from werkzeug.wrappers import Response

from ..domain.times import parse_time

log = logging.getLogger(__name__)

UI_PREFIX = "/ui/"
ui = Blueprint("ui", __name__, url_prefix="/ui", static_folder="static", static_url_path="/static",
               template_folder="templates")

# Only this server's own files; no inline script or style, no framing, forms post only here.
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                    "X-Frame-Options": "DENY"}


def scimwatch():
    """Return this app's scimwatch resources (store, registry, tokens, settings, clock)."""
    return current_app.extensions["scimwatch"]


def secure(response: Response, *, csp: str = CSP, cache: bool = False) -> Response:
    """Add the UI's security headers; pages (not static files) are never stored by a cache."""
    response.headers["Content-Security-Policy"] = csp
    response.headers.update(SECURITY_HEADERS)
    if not cache:
        response.headers["Cache-Control"] = "no-store"
    return response


def utc_text(value: str) -> str:
    """Return an RFC 3339 time for people: 'Sun 6 Dec 2026, 00:00 UTC'."""
    moment = parse_time(value)
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M} UTC"


ui.add_app_template_filter(utc_text, "utc_text")

ERROR_TITLES = {400: "Bad request", 401: "Not signed in", 403: "Forbidden", 404: "Page not found",
                405: "Method not allowed", 413: "Too much data", 429: "Too many attempts",
                500: "Something went wrong", 502: "Mail server problem", 507: "Storage unavailable"}
ERROR_TEXTS = {404: "There is no page at this address.",
               405: "This address does not accept that kind of request.",
               413: "The form sent more data than scimwatch accepts (64 KiB).",
               500: "scimwatch hit an unexpected error; the server log has the details. Nothing was changed."}


def error_page(status: int, message: str | None = None, headers: dict | None = None) -> Response:
    """Return a small HTML error page for a /ui/ address: a title and a sentence, never a stack trace."""
    title = ERROR_TITLES.get(status, "Error")
    text = message or ERROR_TEXTS.get(status) or title
    try:
        body = render_template("ui/error.html", title=title, status=status, message=text)
    except Exception:
        log.exception("could not render the error page")
        body = f"<!doctype html><title>{status}</title><p>{status}: request failed.</p>"
    response = current_app.response_class(body, status=status, mimetype="text/html")
    response.headers.update(headers or {})
    return secure(response)
