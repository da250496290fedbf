"""HTTP API for reminders (DESIGN §4): the delivery log and running a cycle now."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..notify import deliveries
from .api import query_id, require
from .errors import ApiError

reminders_api = Blueprint("reminders_api", __name__, url_prefix="/api/v1")

# What a refused run suggests waiting: most cycles end within seconds, and polling faster gains nothing.
RETRY_AFTER_SECONDS = 10
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
    try:
        report = deliveries.service_for(current_app).run_cycle(dry_run=dry_run in _TRUE)
    except deliveries.CycleRunning as running:
        raise ApiError(409, f"{running}; try again when it has finished", code="cycle_running",
                       headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
    return jsonify(report)
