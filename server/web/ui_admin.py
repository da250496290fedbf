"""Admin UI pages beside the keys: deliveries and "run a check now", tokens, settings, the banner preview."""
from __future__ import annotations

import re
from pathlib import Path

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from ..domain import tokens
from ..domain.key_files import ImportInvalid
from ..domain.keys import ValidationError, check_fields, escalation_text
from ..domain.words import counted
from ..notify import deliveries, mail_check
from ..notify.channels import Channels
from ..notify.mail import MailError
from ..store import exchange
from ..store.tokens import TokenNotFound
from .ui_common import scimwatch, ui
from .ui_keys import key_name

STATUSES = ("pending", "sent", "failed", "cancelled")
DELIVERY_ROWS = 500
SCOPE_HELP = {"read": "banners (widget, extension)", "admin": "everything, this UI too",
              "track": "banners and observations", "calendar": "the calendar feed", "metrics": "the /metrics page"}
SCOPE_CHOICES = [(scope, f"{scope}: {SCOPE_HELP[scope]}" if scope in SCOPE_HELP else scope) for scope in tokens.SCOPES]
SECRET_NAME = re.compile(r"TOKEN|PASSWORD|SECRET|KEY", re.IGNORECASE)


def _service():
    return deliveries.service_for(current_app)


@ui.get("/deliveries")
def deliveries_page():
    """The delivery log, newest first, filtered by key and status; with "run a check now"."""
    key_id, status = request.args.get("key_id", ""), request.args.get("status", "")
    errors = {}
    if status and status not in STATUSES:
        errors["status"] = f"must be one of {', '.join(STATUSES)}"
    if len(key_id) > 200 or not key_id.isprintable():
        errors["key_id"] = "is not a valid key id"
    records = [] if errors else [record for record in _service().log.list(key_id or None)
                                 if not status or record["status"] == status]
    keys = {key["id"]: key for key in scimwatch().registry.list()}
    return render_template(
        "ui/deliveries.html", title="Deliveries", records=records[:DELIVERY_ROWS], total=len(records),
        keys=keys, key_names={key_id: key_name(key) for key_id, key in keys.items()}, statuses=STATUSES,
        chosen_key=key_id, chosen_status=status, errors=errors,
        health=_service().health()), 400 if errors else 200


@ui.post("/deliveries/run")
def run_check():
    """Run one reminder cycle now and say what it did."""
    try:
        report = _service().run_cycle()
    except deliveries.CycleRunning as busy:
        flash(f"{str(busy).capitalize()}; its results appear here when it ends.", "error")
        return redirect(url_for("ui.deliveries_page"), 303)
    if report["due"]:
        flash(f"Check done: {counted(report['sent'], 'reminder')} sent and {report['failed']} failed, "
              f"in {deliveries.messages_text(report)}.", "error" if report["failed"] else "ok")
    else:
        flash("Check done: no reminder was due.", "ok")
    return redirect(url_for("ui.deliveries_page"), 303)


def _tokens_page(status: int = 200, values: dict | None = None, errors: dict | None = None):
    return render_template("ui/tokens.html", title="Tokens", tokens=scimwatch().tokens.list(), scopes=SCOPE_CHOICES,
                           values=values or {"scope": "read", "label": ""}, errors=errors or {},
                           current=g.bearer.record["id"] if g.bearer.record else None), status


@ui.get("/tokens")
def tokens_page():
    """Tokens by scope, label and last use; never a token itself."""
    return _tokens_page()


@ui.post("/tokens")
def create_token():
    """Make a token and show it this once (the page is never stored; only its hash is kept)."""
    values = {"scope": request.form.get("scope", ""), "label": request.form.get("label", "")}
    try:
        token, view = scimwatch().tokens.issue(values)
    except ValidationError as error:
        return _tokens_page(400, values, error.fields)
    base = scimwatch().settings["PUBLIC_URL"] or request.host_url.rstrip("/")
    return render_template("ui/token_created.html", title="Token created", token=token, view=view, base=base), 201


@ui.post("/tokens/<token_id>/revoke")
def revoke_token(token_id):
    """Revoke a token: refused from the next request on (a session signed in with it ends too)."""
    try:
        scimwatch().tokens.revoke(token_id)
    except TokenNotFound:
        flash("That token was already revoked.", "error")
    else:
        flash("Token revoked: it is refused from now on.", "ok")
    return redirect(url_for("ui.tokens_page"), 303)


def _setting_text(name: str, value) -> str:
    if SECRET_NAME.search(name):
        return "set (hidden)" if value else "not set"
    if isinstance(value, Channels):
        return value.path  # the file, never its URLs: the channels section lists tags and services
    if isinstance(value, dict):
        return escalation_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _settings_page(status: int = 200, address: str = "", error: str = ""):
    settings = scimwatch().settings
    rows = [("SCIMWATCH_" + name, _setting_text(name, value)) for name, value in settings.items()]
    base = settings["PUBLIC_URL"] or request.host_url.rstrip("/")
    return render_template("ui/settings.html", title="Settings", rows=rows, health=_service().health(),
                           settings=settings, address=address, error=error, base=base), status


@ui.get("/settings")
def settings_page():
    """The effective configuration (secrets masked), mail and scheduler state, and a test email form."""
    return _settings_page()


@ui.post("/settings/test-email")
def send_test_email():
    """Send one test message through the configured transport to the address typed."""
    address = request.form.get("address", "")
    try:
        # The same address rule as a key's notify list.
        recipient = check_fields({"notify": [address]}, partial=True)["notify"][0]
    except ValidationError as error:
        return _settings_page(400, address, error.fields["notify"])
    context, service = scimwatch(), _service()
    settings = context.settings
    email = mail_check.build(recipient, sender=settings["MAIL_FROM"], now=context.now(),
                             backend=service.transport.describe(), public_url=settings["PUBLIC_URL"])
    try:
        mail_check.send(service.transport, email)
    except MailError as failure:
        return _settings_page(502, address, f"The test email did not go: {failure}")
    where = ("written to the outbox folder (nothing is emailed in outbox mode)"
             if settings["MAIL_BACKEND"] == "outbox" else f"sent through {service.transport.describe()}")
    flash(f"Test email to {recipient} {where}.", "ok")
    return redirect(url_for("ui.settings_page"), 303)


@ui.post("/settings/calendar-token")
def create_calendar_token():
    """Make a `calendar` token for subscribing to the feed and show its feed address this once."""
    token, view = scimwatch().tokens.issue({"scope": "calendar", "label": "calendar feed (made on the settings page)"})
    base = scimwatch().settings["PUBLIC_URL"] or request.host_url.rstrip("/")
    return render_template("ui/token_created.html", title="Token created", token=token, view=view, base=base), 201


@ui.get("/preview")
def preview():
    """The banners as the widget itself draws them, from the same payload the banner API serves."""
    orgs = {key["org_id"]: key.get("org_name") or key["org_id"] for key in scimwatch().registry.list()}
    base = scimwatch().settings["PUBLIC_URL"] or request.host_url.rstrip("/")
    return render_template("ui/preview.html", title="Banner preview", orgs=orgs, base=base)


@ui.get("/preview.json")
def preview_payload():
    """The banner payload for the preview page, for all orgs or `org_id` (signed-in session: no token in the page)."""
    context = scimwatch()
    org_id = request.args.get("org_id") or None
    if org_id is not None and org_id not in {key["org_id"] for key in context.registry.list()}:
        org_id = None  # the select only offers recorded orgs; anything else previews them all
    payload = context.registry.banners_json(context.now(), org_id)
    return current_app.response_class(payload, mimetype="application/json")


@ui.get("/import")
def exchange_page():
    """Import a CSV or JSON file of keys (all rows or none), or download every key as one."""
    return render_template("ui/import.html", title="Import and export", result=None, problem=None, rows=[])


@ui.post("/import")
def import_file():
    """Apply an uploaded key file through the API's own import: every row or none, a dry run on request."""
    upload = request.files.get("file")
    dry_run = request.form.get("dry_run") == "on"
    media_type = {".csv": "text/csv", ".json": "application/json"}.get(
        Path(upload.filename or "").suffix.lower()) if upload else None
    if upload is None or not upload.filename:
        return _import_page(400, "Choose a .csv or .json file to import.")
    if media_type is None:
        return _import_page(400, "The file must end in .csv or .json.")
    context = scimwatch()
    try:
        result = exchange.import_keys(context.registry, upload.read(), media_type, context.now(), dry_run=dry_run)
    except ImportInvalid as refused:
        return _import_page(400, refused.message, refused.rows)
    return render_template("ui/import.html", title="Import and export", result=result, problem=None, rows=[])


def _import_page(status: int, problem: str, rows: list | None = None):
    return render_template("ui/import.html", title="Import and export", result=None, problem=problem,
                           rows=rows or []), status


@ui.get("/export.<file_format>")
def export_file(file_format):
    """Download every key record as CSV (opens in spreadsheets) or JSON; importing it back changes nothing."""
    if file_format not in exchange.FORMATS:
        abort(404)
    text = exchange.export_keys(scimwatch().registry, file_format)
    stamp = scimwatch().now().strftime("%Y%m%d")
    return current_app.response_class(text, mimetype=exchange.FORMATS[file_format], headers={
        "Content-Disposition": f'attachment; filename="scimwatch-keys-{stamp}.{file_format}"'})
