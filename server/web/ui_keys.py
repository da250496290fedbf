"""Admin UI pages for keys: the dashboard, one key, add, edit, rotate and delete (DESIGN §12)."""
from __future__ import annotations

from datetime import datetime

from flask import current_app, flash, redirect, render_template, request, url_for

from ..domain import banners, expiry, runbook
from ..domain.keys import EDITABLE_FIELDS, ValidationError, escalation_text
from ..domain.times import format_time, parse_time
from ..domain.words import counted
from ..notify import deliveries
from ..sync import service as sync_service
from .ui_common import scimwatch, ui, utc_text
from .ui_forms import field_errors, form_values, key_body

SEVERITY_LABELS = {"expired": "Expired", "critical": "Critical", "warning": "Warning", "info": "Info", "ok": "OK"}
# "other" reads "your identity provider" in the steps; in a list of choices it is the last resort.
IDENTITY_PROVIDER_CHOICES = [(code, "Other (not listed)" if code == "other" else provider.name)
                             for code, provider in runbook.IDENTITY_PROVIDERS.items()]
FIELD_LABELS = {"org_id": "Org id", "org_name": "Org name", "directory_name": "Directory name",
                "directory_id": "Directory id", "identity_provider": "Identity provider", "kind": "Kind of key",
                "label": "Label", "expires_at": "Expires", "notify": "Email reminders to",
                "thresholds": "Reminder stages", "notes": "Notes", "channels": "Channels",
                "escalation": "Escalation"}
KIND_CHOICES = [(code, runbook.KIND_NAMES.get(code, code)) for code in runbook.KINDS]


def key_name(key) -> str:
    """Return what people call a key: its directory, else its label or directory id."""
    return key.get("directory_name") or key.get("label") or key.get("directory_id") or "Unnamed key"


def key_status(key, now: datetime) -> dict:
    """Return how urgent a key is at `now`: severity, days left in words, and its next reminder stage."""
    settings = scimwatch().settings
    expires_at = parse_time(key["expires_at"])
    level = expiry.severity(expires_at, now) or "ok"
    days = expiry.days_left(expires_at, now)
    if level == "expired":
        ago = expiry.days_since(expires_at, now)
        days_text = "expired today" if ago == 0 else f"expired {counted(ago, 'day')} ago"
    else:
        days_text = "less than a day" if days == 0 else counted(days, "day")
    upcoming = expiry.next_stage(expires_at, now, key.get("thresholds") or settings["THRESHOLDS"],
                                 settings["EXPIRED_REPEAT_DAYS"])
    return {"severity": level, "label": SEVERITY_LABELS[level], "days_left": days, "days_text": days_text,
            "next_stage": upcoming[0] if upcoming else None,
            "next_at": format_time(upcoming[1]) if upcoming else None}


@ui.get("/")
def dashboard():
    """Every key grouped by org, most urgent first (the org with the most urgent key first)."""
    context = scimwatch()
    now = context.now()
    orgs: dict[str, dict] = {}
    counts = dict.fromkeys(SEVERITY_LABELS, 0)
    for key in context.registry.list():  # soonest expiry first: the most urgent first
        org = orgs.setdefault(key["org_id"], {"org_id": key["org_id"], "org_name": key.get("org_name"), "rows": []})
        org["org_name"] = org["org_name"] or key.get("org_name")
        status = key_status(key, now)
        counts[status["severity"]] += 1
        org["rows"].append({"key": key, "name": key_name(key), "status": status,
                            "identity_provider": runbook.identity_provider(key["identity_provider"]).name})
    service = deliveries.service_for(current_app)
    failing = sum(1 for record in service.log.records.all() if record["status"] == "failed")
    untracked = sync_service.service_for(current_app).state()["untracked"]
    return render_template("ui/dashboard.html", title="Keys", orgs=list(orgs.values()), counts=counts,
                           untracked=untracked, org_url=runbook.org_url,
                           labels=SEVERITY_LABELS, health=service.health(), failing=failing,
                           settings=context.settings, now=format_time(now))


def _key_page(key, status: int = 200, rotate_errors: dict | None = None, rotate_value: str = "",
              acknowledge_errors: dict | None = None, acknowledge_value: str = ""):
    context = scimwatch()
    return render_template(
        "ui/key.html", title=key_name(key), key=key, name=key_name(key), status=key_status(key, context.now()),
        identity_provider=runbook.identity_provider(key["identity_provider"]).name,
        kind=runbook.KIND_NAMES.get(key["kind"], key["kind"]), steps=runbook.rotation_steps(key),
        docs_url=runbook.docs_url(key["kind"]), org_url=runbook.org_url(key["org_id"]),
        deliveries=deliveries.service_for(current_app).log.list(key["id"]),
        thresholds=key.get("thresholds") or context.settings["THRESHOLDS"],
        default_channels=context.settings["CHANNELS"],
        rotate_errors=rotate_errors or {}, rotate_value=rotate_value,
        acknowledged=banners.acknowledgement_text(key),
        acknowledge_errors=acknowledge_errors or {}, acknowledge_value=acknowledge_value), status


@ui.get("/keys/<key_id>")
def key_page(key_id):
    """One key: its fields, history, deliveries and its identity provider's rotation steps."""
    return _key_page(scimwatch().registry.get(key_id))


def _form_page(values: dict, *, key=None, errors: dict | None = None, others: list | None = None,
               status: int = 200):
    return render_template(
        "ui/key_form.html", title=f"Edit {key_name(key)}" if key else "Add a key", key=key, values=values,
        errors=errors or {}, others=others or [], labels=FIELD_LABELS, identity_providers=IDENTITY_PROVIDER_CHOICES,
        kinds=KIND_CHOICES,
        default_thresholds=", ".join(str(days) for days in scimwatch().settings["THRESHOLDS"]),
        channel_tags=", ".join(sorted(scimwatch().registry.channel_tags)),
        default_channels=", ".join(scimwatch().settings["CHANNELS"])), status


def record_values(key) -> dict[str, str]:
    """Return a key record's fields as the form shows them."""
    values = {name: key.get(name) or "" for name in EDITABLE_FIELDS}
    values["notify"] = "\n".join(key.get("notify", []))
    values["thresholds"] = ", ".join(str(days) for days in key.get("thresholds", []))
    values["channels"] = ", ".join(key.get("channels", []))
    values["escalation"] = escalation_text(key.get("escalation") or {}).replace(";", "\n")
    return values


@ui.route("/keys/new", methods=["GET", "POST"])
def new_key():
    """Add a key: the API's fields and the API's validation, each message next to its field."""
    if request.method == "GET":
        # A link may fill in what is already known (the dashboard's untracked directories); shown as text.
        known = {name: request.args[name] for name in ("org_id", "directory_id", "directory_name")
                 if name in request.args}
        return _form_page({**dict.fromkeys(EDITABLE_FIELDS, ""), "identity_provider": "other", "kind": "scim", **known})
    context = scimwatch()
    try:
        key = context.registry.add(key_body(request.form, partial=False), context.now())
    except ValidationError as error:
        errors, others = field_errors(error)
        return _form_page(form_values(request.form), errors=errors, others=others, status=400)
    flash(f"Added {key_name(key)}.", "ok")
    return redirect(url_for("ui.key_page", key_id=key["id"]), 303)


@ui.route("/keys/<key_id>/edit", methods=["GET", "POST"])
def edit_key(key_id):
    """Change a key's fields; an emptied optional field goes back to its default."""
    context = scimwatch()
    key = context.registry.get(key_id)
    if request.method == "GET":
        return _form_page(record_values(key), key=key)
    try:
        key = context.registry.update(key_id, key_body(request.form, partial=True), context.now())
    except ValidationError as error:
        errors, others = field_errors(error)
        return _form_page(form_values(request.form), key=key, errors=errors, others=others, status=400)
    flash(f"Saved {key_name(key)}.", "ok")
    return redirect(url_for("ui.key_page", key_id=key_id), 303)


@ui.post("/keys/<key_id>/rotate")
def rotate_key(key_id):
    """Record a rotation: regenerated now (expires in 365 days), or a new expiry date as Atlassian shows it."""
    context = scimwatch()
    key = context.registry.get(key_id)
    typed = request.form.get("expires_at", "")
    body = {} if request.form.get("rotation") == "now" else {"expires_at": typed.strip()}
    try:
        key = context.registry.rotate(key_id, body, context.now())
    except ValidationError as error:
        return _key_page(key, 400, rotate_errors=error.fields, rotate_value=typed)
    flash(f"Recorded the rotation of {key_name(key)}: it now expires {utc_text(key['expires_at'])}. "
          "Reminders re-arm for the new date.", "ok")
    return redirect(url_for("ui.key_page", key_id=key_id), 303)


@ui.post("/keys/<key_id>/acknowledge")
def acknowledge_key(key_id):
    """Record who is on a key ("I'm on it", §14): later emails and banners say so; it silences nothing."""
    context = scimwatch()
    key = context.registry.get(key_id)
    typed = request.form.get("by", "")
    try:
        key = context.registry.acknowledge(key_id, {"by": typed.strip()}, context.now())
    except ValidationError as error:
        return _key_page(key, 400, acknowledge_errors=error.fields, acknowledge_value=typed)
    flash(f"Noted: {banners.acknowledgement_text(key)}. Reminders continue until the rotation is recorded.", "ok")
    return redirect(url_for("ui.key_page", key_id=key_id), 303)


@ui.route("/keys/<key_id>/delete", methods=["GET", "POST"])
def delete_key(key_id):
    """Ask before deleting a key (GET), then delete it (POST)."""
    context = scimwatch()
    key = context.registry.get(key_id)
    if request.method == "GET":
        return render_template("ui/key_delete.html", title=f"Delete {key_name(key)}", key=key, name=key_name(key))
    context.registry.remove(key_id)
    flash(f"Deleted {key_name(key)}.", "ok")
    return redirect(url_for("ui.dashboard"), 303)
