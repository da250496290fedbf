"""HTTP API for the Atlassian sync (DESIGN §16): its state, and one sync now."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..sync import service as sync
from .api import require
from .errors import ApiError

sync_api = Blueprint("sync_api", __name__, url_prefix="/api/v1")


@sync_api.get("/sync")
@require("admin")
def sync_state():
    """Return each org's sync status and the directories with no recorded SCIM expiry."""
    return jsonify(sync.service_for(current_app).state())


@sync_api.post("/sync/run")
@require("admin")
def run_sync():
    """Sync every configured org now and return the new state."""
    service = sync.service_for(current_app)
    if not service.configured:
        raise ApiError(409, sync.NOT_CONFIGURED, code="sync_not_configured")
    return jsonify(service.run())
