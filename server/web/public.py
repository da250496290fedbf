"""Routes without a token: health and the widget script."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, jsonify, request, send_file

from ..domain import tokens
from .api import scimwatch

public = Blueprint("public", __name__)

# widget/scim-banner.js, linked into the package so an installed scimwatch serves it too.
WIDGET_FILE = Path(__file__).parent / "static" / "scim-banner.js"


@public.get("/healthz")
def healthz():
    """Report whether the server, its data file and its reminder loop are well; details only to an admin token."""
    detailed = _admin_token_sent()
    report = scimwatch().health(detailed=detailed)
    # 503 so a monitor that reads only the status code notices a scimwatch that stopped watching.
    response = jsonify(report)
    if report["status"] == "failing":
        response.status_code = 503
    # The answer depends on the token: a shared cache must never hand an admin's details to a stranger.
    response.vary.add("Authorization")
    if detailed:
        response.headers["Cache-Control"] = "no-store"
    return response


def _admin_token_sent() -> bool:
    # A missing or wrong token is not an error here: monitors without one still get the states.
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return False
    granted = scimwatch().scope_of(presented.strip())
    return granted is not None and tokens.allows(granted, "admin")


@public.get("/widget/scim-banner.js")
def widget():
    """Serve the embeddable banner widget, cacheable for five minutes and revalidated by ETag."""
    response = send_file(WIDGET_FILE, mimetype="text/javascript", conditional=True, etag=True, max_age=300)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
