"""HTTP API for importing and exporting key records as CSV or JSON (DESIGN §16)."""
from __future__ import annotations

from flask import Blueprint, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..store import exchange
from .api import query_flag, require, scimwatch
from .errors import ApiError

exchange_api = Blueprint("exchange_api", __name__, url_prefix="/api/v1")

@exchange_api.post("/import")
@require("admin")
def import_keys():
    """Create or update key records from a CSV or JSON file, all rows or none."""
    dry_run = query_flag("dry_run")
    if request.mimetype not in exchange.FORMATS.values():
        raise ApiError(415, "send the file as text/csv or application/json")
    # This route alone reads more than the app's 64 KiB: 10,000 rows do not fit in that. Admins only, and the
    # declared length is checked before a byte is read.
    if (request.content_length or 0) > exchange.MAX_IMPORT_BYTES:
        raise ApiError(413, exchange.TOO_LARGE)
    request.max_content_length = exchange.MAX_IMPORT_BYTES
    try:
        data = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise ApiError(413, exchange.TOO_LARGE) from None
    context = scimwatch()
    return exchange.import_keys(context.registry, data, request.mimetype, context.now(), dry_run=dry_run)


@exchange_api.get("/export")
@require("admin")
def export_keys():
    """Return every key record as CSV (formula-safe cells) or JSON."""
    # No default: the caller says which of the two files it wants, and every other answer here stays JSON.
    file_format = request.args.get("format")
    if file_format not in exchange.FORMATS:
        raise ApiError(400, "format must be csv or json", code="invalid", fields={"format": "must be csv or json"})
    text = exchange.export_keys(scimwatch().registry, file_format)
    return current_app.response_class(text, mimetype=exchange.FORMATS[file_format], headers={
        "Content-Disposition": f'attachment; filename="scimwatch-keys.{file_format}"'})
