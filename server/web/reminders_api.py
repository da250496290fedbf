"""HTTP API for reminders (DESIGN §4): the delivery log and running a cycle now."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..notify import deliveries
from .api import query_id, require
from .errors import ApiError

reminders_api = Blueprint("reminders_api", __name__, url_prefix="/api/v1")

# What a refused run suggests waiting: most cycles end within seconds, and polling faster gains nothing.
RETRY_AFTER_SECONDS = 10
_TRUE, _FALSE = ("true", "1", "yes", ""), ("false", "0", "no")


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
    dry_run = _dry_run()
    try:
        report = deliveries.service_for(current_app).run_cycle(dry_run=dry_run)
    except deliveries.CycleRunning as running:
        raise ApiError(409, f"{running}; try again when it has finished", code="cycle_running",
                       headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
    return jsonify(report)


def _dry_run() -> bool:
    """Return whether the request asks for a dry run, refusing anything that leaves it in doubt.

    A run sends mail, so whatever might have meant "dry run" and is not understood is refused rather
    than ignored: another query parameter (a misspelt dry_run), dry_run given twice, or a body.
    """
    unknown = sorted(name for name in request.args if name != "dry_run")
    if unknown:
        raise ApiError(400, f"unknown query parameter {unknown[0][:100]!r}; this takes only dry_run",
                       code="invalid", fields={name[:100]: "unknown query parameter" for name in unknown})
    if request.get_data(cache=True).strip():
        raise ApiError(400, "this takes no body; give dry_run in the query string (?dry_run=true)", code="invalid",
                       fields={"body": "not expected"})
    values = request.args.getlist("dry_run")
    if len(values) > 1:
        raise ApiError(400, "give dry_run once", code="invalid", fields={"dry_run": "given more than once"})
    # Absent means a real run; present with no value (?dry_run or ?dry_run=) means the caller asked for a dry run.
    value = values[0].lower() if values else "false"
    if value not in _TRUE + _FALSE:
        raise ApiError(400, "dry_run must be true or false", code="invalid",
                       fields={"dry_run": "must be true or false"})
    return value in _TRUE
