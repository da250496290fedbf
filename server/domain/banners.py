"""Banner payload (DESIGN §5): what a key's warning says at a given moment. Pure, no I/O."""
from __future__ import annotations

from datetime import datetime

from . import expiry, runbook
from .times import format_time, parse_time


def describe_time_left(days: int, severity: str) -> str:
    """Return 'expires in 6 days', 'expires within a day' or 'has expired'."""
    if severity == "expired":
        return "has expired"
    if days < 1:
        return "expires within a day"
    return f"expires in {days} day{'s' if days != 1 else ''}"


def directory_label(key) -> str:
    """Return how a key's directory and org are named in sentences."""
    directory = key.get("directory_name") or key.get("label") or key.get("directory_id") or "A directory"
    org = key.get("org_name") or key.get("org_id")
    return f"{directory} ({org})"


def title(key, days: int, severity: str) -> str:
    """Return the one-line banner title, e.g. 'SCIM API key expires in 6 days'."""
    kind = runbook.KIND_NAMES.get(key.get("kind", "scim"), "SCIM API key")
    return f"{kind} {describe_time_left(days, severity)}"


def message(key, expires_at: datetime, severity: str) -> str:
    """Return the sentence that says what breaks, when, and for whom."""
    when = f"{format_time(expires_at).replace('T', ' ').replace('Z', ' UTC')}"
    where = directory_label(key)
    if key.get("kind", "scim") != "scim":
        verb = "stopped working" if severity == "expired" else "stops working"
        return f"{where}: the key {verb} at {when}. Replace it in every integration that uses it."
    if severity == "expired":
        return (f"{where}: the SCIM key expired at {when}. Provisioning and deprovisioning have stopped, "
                "so leavers keep access until the key is regenerated.")
    return (f"{where}: at {when} the identity provider can no longer provision or deprovision users, "
            "so leavers would keep access. Rotate the key before then.")


def banner_for(key, now: datetime) -> dict | None:
    """Return the banner for one key record at `now`, or None when it needs none."""
    expires_at = parse_time(key["expires_at"])
    level = expiry.severity(expires_at, now)
    if level is None:
        return None
    days = expiry.days_left(expires_at, now)
    return {
        "id": f"{key['id']}:{key['expires_at']}:{level}",
        "key_id": key["id"],
        "severity": level,
        "title": title(key, days, level),
        "message": message(key, expires_at, level),
        "org_id": key["org_id"],
        "org_name": key.get("org_name", ""),
        "directory_id": key.get("directory_id", ""),
        "directory_name": key.get("directory_name", ""),
        "identity_provider": key.get("identity_provider", "other"),
        "kind": key.get("kind", "scim"),
        "label": key.get("label", ""),
        "expires_at": key["expires_at"],
        "days_left": days,
        "steps": runbook.rotation_steps(key),
        "docs_url": runbook.docs_url(key.get("kind", "scim")),
        "action_url": runbook.org_url(key["org_id"]),
        "dismissible": level != "expired",
    }


def banner_payload(keys, now: datetime) -> dict:
    """Return the banner payload for key records: most urgent first, then soonest expiry."""
    banners = [b for b in (banner_for(key, now) for key in keys) if b is not None]
    banners.sort(key=lambda b: (expiry.urgency_rank(b["severity"]), b["expires_at"], b["key_id"]))
    return {"generated_at": format_time(now), "banners": banners}
