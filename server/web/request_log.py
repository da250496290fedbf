"""One log line per request: method, path (never the query string), status and duration."""
from __future__ import annotations

import logging
import time

from flask import Flask, g, request

log = logging.getLogger("scimwatch.request")


def logged_path() -> str:
    """Return the request's path, with the route's pattern instead when a path part is a token (/r/<token>)."""
    # The query string is never logged: calendar.ics takes ?token=.
    if request.url_rule is not None and "token" in (request.view_args or {}):
        return request.url_rule.rule
    return request.path


def install(app: Flask) -> None:
    """Log every request the app answers (errors included) once it has its status."""

    @app.before_request
    def start_clock():
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response):
        started = g.get("request_started")
        duration = round((time.perf_counter() - started) * 1000, 2) if started is not None else None
        path = logged_path()
        log.info("%s %s %s %s ms", request.method, path, response.status_code, duration,
                 extra={"method": request.method, "path": path, "status": response.status_code,
                        "duration_ms": duration})
        return response
