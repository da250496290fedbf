"""HTTP API for reminders (DESIGN §4): the delivery log and running a cycle now."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..notify import deliveries
from .api import query_id, require
from .errors import ApiError

reminders_api = Blueprint("reminders_api", __name__, url_prefix="/api/v1")

_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


@reminders_api.get("/deliveries")
@require("admin")
def list_deliveries():
    """Return the delivery log, most recently changed first, optionally for one key."""
    service = deliveries.service_for(current_app)
    return jsonify(deliveries=service.log.list(query_id("key_id")))


@reminders_api.post("/reminders/run")
@require("admin")
def run_reminders():
    """Run one reminder cycle now; with dry_run=true, send nothing and return what is due."""
    dry_run = request.args.get("dry_run", "false").lower()
    if dry_run not in _TRUE + _FALSE:
        raise ApiError(400, "dry_run must be true or false", code="invalid",
                       fields={"dry_run": "must be true or false"})
    return jsonify(deliveries.service_for(current_app).run_cycle(dry_run=dry_run in _TRUE))
