"""The one JSON error shape, and the one place that makes it."""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ..domain.key_files import ImportInvalid
from ..domain.keys import ValidationError
from ..store.registry import KeyNotFound
from ..store.storage import WriteFailed
from .ui_common import UI_PREFIX, error_page

log = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
          500: "internal_error", 503: "unavailable", 507: "insufficient_storage"}


class ApiError(Exception):
    """An error answered to the client as `{"error": {"code", "message", "fields"}}`."""

    def __init__(self, status: int, message: str, *, code: str | None = None, fields: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, fields: dict | None = None, headers: dict | None = None,
                   rows: list | None = None):
    """Return the JSON error response in the one shape; an import's refusal also lists its bad `rows`."""
    error = {"code": code, "message": message, "fields": fields or {}}
    if rows is not None:
        error["rows"] = rows
    response = jsonify({"error": error})
    response.status_code = status
    response.headers.extend(headers or {})
    return response


_HTTP_MESSAGES = {
    404: "no such resource; see the API paths in the README",
    405: "method not allowed on this path",
    413: "request body is larger than the 64 KiB limit",
    500: "internal error; the server log has the details",
}


def register(app: Flask) -> None:
    """Answer every error, including Flask's own, in the one JSON shape."""

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error_response(error.status, error.code, error.message, error.fields, error.headers)

    @app.errorhandler(ValidationError)
    def invalid(error: ValidationError):
        return error_response(400, "invalid", "some fields are not valid: " + str(error), error.fields)

    @app.errorhandler(ImportInvalid)
    def import_invalid(error: ImportInvalid):
        return error_response(400, "import_invalid", error.message, rows=error.rows)

    @app.errorhandler(KeyNotFound)
    def missing(error: KeyNotFound):
        return error_response(404, "not_found", f"no key with id {str(error.args[0])[:100]!r}")

    @app.errorhandler(WriteFailed)
    def write_failed(error: WriteFailed):
        # The disk refused the write: say so; reads keep being served from memory.
        return error_response(507, "storage_unavailable", str(error))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        headers = {"Allow": error.response.headers["Allow"]} if status == 405 and error.response else {}
        if status == 405 and not headers:
            headers = dict(h for h in error.get_headers() if h[0] == "Allow")
        if request.path.startswith(UI_PREFIX):
            # An address of the admin UI that no page answers: a small HTML page (web/ui.py handles the rest).
            return error_page(status, headers=headers)
        message = _HTTP_MESSAGES.get(status) or (error.description or "request failed")
        return error_response(status, _CODES.get(status, "error"), message, headers=headers)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", _HTTP_MESSAGES[500])

    @app.after_request
    def protocol_edges(response: Response) -> Response:
        # Werkzeug's routing redirects (RequestRedirect, e.g. for a missing trailing slash) bypass the
        # error handlers and answer an HTML page: under /api/ every answer is JSON. A 304 (the calendar
        # feed's revalidation) has no body at all, so it passes as it is.
        if (response.status_code >= 300 and response.status_code != 304 and response.mimetype != "application/json"
                and request.path.lstrip("/").startswith("api/")):
            location = response.headers.get("Location")
            message = f"this resource is at {location}" if location else _HTTP_MESSAGES.get(
                response.status_code, "request failed")
            response = error_response(response.status_code, _CODES.get(response.status_code, "moved"), message,
                                      headers={"Location": location} if location else None)
        # Browsers must take every answer (JSON, errors, the widget) for the type it declares.
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
