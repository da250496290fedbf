"""Routes without a token: health and the widget script."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, send_file

public = Blueprint("public", __name__)

# widget/scim-banner.js, linked into the package so an installed scimwatch serves it too.
WIDGET_FILE = Path(__file__).parent / "static" / "scim-banner.js"


@public.get("/healthz")
def healthz():
    """Report whether the server, its data file and its reminder loop are well."""
    context = current_app.extensions["scimwatch"]
    return jsonify(context.health())


@public.get("/widget/scim-banner.js")
def widget():
    """Serve the embeddable banner widget, cacheable for five minutes and revalidated by ETag."""
    response = send_file(WIDGET_FILE, mimetype="text/javascript", conditional=True, etag=True, max_age=300)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
