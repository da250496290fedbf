"""Banner payload (DESIGN §5, §5b): what a key's warning says at a given moment. Pure, no I/O."""
from __future__ import annotations

import hashlib
from datetime import datetime

from . import expiry, runbook
from .times import DAY, format_time, parse_time
from .words import counted

# English names whatever the server's locale: strftime's %a and %b follow it.
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# The summary sentence names this many of the most urgent keys; the list shows the rest.
SUMMARY_NAMES = 2


def short_date(moment: datetime) -> str:
    """Return 'Fri 4 Dec' for a UTC moment."""
    return f"{WEEKDAYS[moment.weekday()]} {moment.day} {MONTHS[moment.month - 1]}"


def expires_text(moment: datetime) -> str:
    """Return the deadline for people: 'Fri 4 Dec 2026, 09:00 UTC'."""
    return f"{short_date(moment)} {moment.year}, {moment:%H:%M} UTC"


def relative_text(expires_at: datetime, now: datetime) -> str:
    """Return 'in 2 days', 'in 1 day', 'today' or '3 days ago', counting whole days as days_left does."""
    if expires_at > now:
        days = expiry.days_left(expires_at, now)
        ago = False
    else:
        days = (now - expires_at) // DAY
        ago = True
    if days < 1:
        return "today"
    count = counted(days, "day")
    return f"{count} ago" if ago else f"in {count}"


def directory_name(key) -> str:
    """Return the name a warning leads with: the directory (or the key's label, or its id)."""
    return key.get("directory_name") or key.get("label") or key.get("directory_id") or "A directory"


def directory_label(key) -> str:
    """Return how a key's directory and org are named in sentences: 'Okta production (Acme)'."""
    return f"{directory_name(key)} ({key.get('org_name') or key.get('org_id')})"


def kind_name(key) -> str:
    """Return what kind of key this is, in words: 'SCIM API key'."""
    return runbook.KIND_NAMES.get(key.get("kind", "scim"), "SCIM API key")


def status_text(key, expires_at: datetime, now: datetime) -> str:
    """Return what is happening to the key: 'SCIM API key expires in 2 days', 'SCIM API key expired today'."""
    verb = "expired" if expires_at <= now else "expires"
    return f"{kind_name(key)} {verb} {relative_text(expires_at, now)}"


def title(key, expires_at: datetime, now: datetime) -> str:
    """Return the one-line title, directory first: 'Okta production: SCIM API key expires in 2 days'."""
    return f"{directory_name(key)}: {status_text(key, expires_at, now)}"


def message(key, severity: str) -> str:
    """Return the sentence that says what breaks and for whom (the deadline is in expires_text)."""
    where = directory_label(key)
    if key.get("kind", "scim") != "scim":
        if severity == "expired":
            return f"{where}: the key has stopped working. Replace it in every integration that uses it."
        return f"{where}: the key stops working at the deadline. Replace it in every integration that uses it."
    if severity == "expired":
        return (f"{where}: the SCIM key has expired. Provisioning and deprovisioning have stopped, "
                "so leavers keep access until the key is regenerated.")
    return (f"{where}: once the key expires the identity provider can no longer provision or deprovision "
            "users, so leavers would keep access. Rotate the key before then.")


def acknowledgement_text(key) -> str:
    """Return 'Alice is on it since 3 Dec' for an acknowledged key (DESIGN §14), else ''."""
    by, at = key.get("acknowledged_by"), key.get("acknowledged_at")
    if not by or not at:
        return ""
    moment = parse_time(at)
    return f"{by} is on it since {moment.day} {MONTHS[moment.month - 1]}"


def action_url(key) -> str:
    """Return where the fix happens: the directory's own page once observations record it (§13), else the org."""
    return key.get("page_url") or runbook.org_url(key["org_id"])


def banner_id(key, level: str, days: int) -> str:
    """Return the id a dismissal is kept by; a critical banner's changes with each day of the countdown."""
    base = f"{key['id']}:{key['expires_at']}:{level}"
    return f"{base}:{days}" if level == "critical" else base


def banner_for(key, now: datetime) -> dict | None:
    """Return the banner for one key record at `now`, or None when it needs none."""
    expires_at = parse_time(key["expires_at"])
    level = expiry.severity(expires_at, now)
    if level is None:
        return None
    days = expiry.days_left(expires_at, now)
    banner = {
        "id": banner_id(key, level, days),
        "key_id": key["id"],
        "severity": level,
        "title": title(key, expires_at, now),
        "message": " ".join(filter(None, (message(key, level), _sentence(acknowledgement_text(key))))),
        "org_id": key["org_id"],
        "org_name": key.get("org_name", ""),
        "directory_id": key.get("directory_id", ""),
        "directory_name": key.get("directory_name", ""),
        "identity_provider": key.get("identity_provider", "other"),
        "kind": key.get("kind", "scim"),
        "label": key.get("label", ""),
        "expires_at": key["expires_at"],
        "expires_text": expires_text(expires_at),
        "relative_text": relative_text(expires_at, now),
        "days_left": days,
        "steps": runbook.rotation_steps(key),
        "docs_url": runbook.docs_url(key.get("kind", "scim")),
        "action_url": action_url(key),
        "dismissible": level != "expired",
    }
    if key.get("page_url"):
        banner["page_url"] = key["page_url"]
    # Shown, never a reason to hide: an acknowledged key keeps its severity and reminders.
    if acknowledgement_text(key):
        banner["acknowledged_by"] = key["acknowledged_by"]
        banner["acknowledged_at"] = key["acknowledged_at"]
    return banner


def _sentence(text: str) -> str:
    return f"{text}." if text else ""


def at_least(banners: list[dict], min_severity: str) -> list[dict]:
    """Return the banners at `min_severity` or more urgent (banners are ordered most urgent first)."""
    limit = expiry.urgency_rank(min_severity)
    return [b for b in banners if expiry.urgency_rank(b["severity"]) <= limit]


def _summary_phrase(banner: dict) -> str:
    acknowledged = acknowledgement_text(banner)
    phrase = _plain_summary_phrase(banner)
    return f"{phrase}, {acknowledged}" if acknowledged else phrase


def _plain_summary_phrase(banner: dict) -> str:
    name = directory_name(banner)
    relative = banner["relative_text"]
    if banner["severity"] == "expired":
        if banner.get("kind", "scim") == "scim":
            return f"SCIM provisioning has stopped for {name} (expired {relative})"
        return f"{name} ({kind_name(banner)}) expired {relative}"
    when = short_date(parse_time(banner["expires_at"]))
    return f"{name} expires {relative} ({when})"


def summary(banners: list[dict]) -> dict | None:
    """Return the one-line summary of banners ordered most urgent first, or None when there are none.

    Its id is a digest of every banner id, so it changes whenever any of them does.
    """
    if not banners:
        return None
    count = len(banners)
    phrases = [_summary_phrase(b) for b in banners[:SUMMARY_NAMES]]
    text = "; ".join(phrases)
    if count > SUMMARY_NAMES:
        text += f"; and {count - SUMMARY_NAMES} more"
    digest = hashlib.sha256("\n".join(b["id"] for b in banners).encode("utf-8")).hexdigest()
    return {
        "id": digest[:20],
        "severity": banners[0]["severity"],
        "count": count,
        "title": f"{count} Atlassian key{'s need' if count != 1 else ' needs'} rotating",
        "text": text + ".",
    }


def banner_payload(keys, now: datetime, min_severity: str = "info") -> dict:
    """Return the banner payload for key records: most urgent first, then soonest expiry, with its summary."""
    banners = [b for b in (banner_for(key, now) for key in keys) if b is not None]
    banners.sort(key=lambda b: (expiry.urgency_rank(b["severity"]), b["expires_at"], b["key_id"]))
    shown = at_least(banners, min_severity)
    return {"generated_at": format_time(now), "banners": shown, "summary": summary(shown)}
