"""Observations (DESIGN §13): what the extension saw on a directory page, matched to a key record. Pure, no I/O.

`page_url` is written only through observations (the extension saw that page; nobody types it) and is
dropped when a key moves to another org; `last_seen_at` is written by the server when a page shows the
same expiry again. Both are optional on a stored record: records made before §13 have neither.
"""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import unquote, urlsplit

from . import keys
from .times import format_time

FIELDS = ("org_id", "directory_id", "directory_name", "expires_at", "page_url", "kind")
PAGE_URL_LIMIT = 1000
RESULTS = ("created", "unchanged", "rotated", "corrected")
# A clean URL: RFC 3986 characters only (no spaces, quotes, angle brackets or backslashes), no fragment.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*\Z")


def page_url_prefix(org_id: str) -> str:
    """Return how every page URL of an org starts: https://admin.atlassian.com/o/{org_id}/."""
    return f"https://admin.atlassian.com/o/{org_id}/"


def check_page_url(value, org_id: str) -> str:
    """Return a directory page URL inside the org's part of admin.atlassian.com, or raise ValueError."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > PAGE_URL_LIMIT:
        raise ValueError(f"must be at most {PAGE_URL_LIMIT} characters (got {len(value)})")
    prefix = page_url_prefix(org_id)
    if not value.startswith(prefix):
        raise ValueError(f"must start with {prefix} (the org's own pages in admin.atlassian.com)")
    if not _URL_CHARACTERS.match(value):
        raise ValueError("must be a clean URL: no spaces, quotes, angle brackets, backslashes or fragment")
    parts = urlsplit(value)
    # Dot segments, even percent-encoded, would move the link out of /o/{org_id}/ once a browser resolves it;
    # an encoded slash or backslash would make segments that only look inside it.
    segments = unquote(parts.path).split("/")
    if any(segment in (".", "..") for segment in segments) or re.search(r"%(?:2f|5c)", parts.path, re.I):
        raise ValueError("must not contain . or .. segments or encoded slashes")
    return value


def check_observation(data) -> dict:
    """Validate an observation body; return its cleaned fields (absent or null optional ones left out)."""
    if not isinstance(data, dict):
        raise keys.ValidationError({"body": "must be a JSON object with org_id, expires_at and the directory"})
    problems: dict[str, str] = {}
    for name in data:
        if name.lower() in keys.SECRET_FIELDS:
            problems[name] = keys.NEVER_STORED
        elif name not in FIELDS:
            problems[name] = f"unknown field; an observation has {', '.join(FIELDS)}"
    key_fields = {name: value for name, value in data.items() if name in FIELDS and name != "page_url"}
    try:
        cleaned = keys.check_fields(key_fields, partial=False)
    except keys.ValidationError as error:
        problems.update(error.fields)
        cleaned = {}
    cleaned = {name: value for name, value in cleaned.items() if value is not None}
    page_url = data.get("page_url")
    if page_url is not None and "org_id" in cleaned:
        try:
            cleaned["page_url"] = check_page_url(page_url, cleaned["org_id"])
        except ValueError as error:
            problems["page_url"] = str(error)
    if not problems and not cleaned.get("directory_id") and not cleaned.get("directory_name"):
        problems["directory_id"] = "give directory_id or directory_name: the directory the page shows"
    if problems:
        raise keys.ValidationError(problems)
    return cleaned


def find_match(records, seen: dict) -> dict | None:
    """Return the record an observation is about: same org and kind, then directory id, else name."""
    kind = seen.get("kind", "scim")
    same = sorted((r for r in records if r["org_id"] == seen["org_id"] and r.get("kind", "scim") == kind),
                  key=lambda r: (r["created_at"], r["id"]))
    directory_id = seen.get("directory_id")
    if directory_id:
        hit = next((r for r in same if r.get("directory_id") == directory_id), None)
        if hit is not None:
            return hit
    name = seen.get("directory_name", "").casefold()
    if name:
        # A record naming another directory id is another directory, whatever its name.
        return next((r for r in same if (r.get("directory_name") or "").casefold() == name
                     and not (directory_id and r.get("directory_id"))), None)
    return None


def result_for(record: dict | None, seen: dict) -> str:
    """Return which result an observation has against the record it matched (None: none)."""
    if record is None:
        return "created"
    if seen["expires_at"] == record["expires_at"]:
        return "unchanged"
    return "rotated" if seen["expires_at"] > record["expires_at"] else "corrected"


def apply(record: dict | None, seen: dict, now: datetime) -> tuple[str, dict]:
    """Return (result, the record to store) for an observation and the record it matched (None: none)."""
    stamp = format_time(now)
    if record is None:
        fields = {name: value for name, value in seen.items() if name != "page_url"}
        created = keys.new_key(fields, now, source="extension")
        if "page_url" in seen:
            created["page_url"] = seen["page_url"]
        created["last_seen_at"] = stamp
        return "created", created
    changed = dict(record)
    # What the page tells and the record lacks is filled in; names the admin chose are kept.
    if seen.get("directory_id") and not changed.get("directory_id"):
        changed["directory_id"] = seen["directory_id"]
    if seen.get("directory_name") and not changed.get("directory_name"):
        changed["directory_name"] = seen["directory_name"]
    if "page_url" in seen:
        changed["page_url"] = seen["page_url"]
    changed["last_seen_at"] = stamp
    result = result_for(record, seen)
    if result == "unchanged":
        return result, changed
    if result == "rotated":
        return result, keys.rotated_key(changed, stamp, seen["expires_at"], now)
    changed["history"] = [*record.get("history", []),
                          {"corrected_at": stamp, "previous_expires_at": record["expires_at"]}]
    changed.update(expires_at=seen["expires_at"], updated_at=stamp)
    return "corrected", changed
