"""Bearer tokens: made at random, stored only as hashes, compared in constant time."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from .keys import ValidationError, check_fields
from .times import format_time

# admin: everything; read: banners; track: banners and observations (§13); calendar: the ICS feed (§15);
# metrics: /metrics (§17).
SCOPES = ("admin", "read", "track", "calendar", "metrics")
# What each scope grants beyond its own name.
_IMPLIES = {"track": ("read",)}


def new_token() -> str:
    """Return a fresh random bearer token."""
    return "sw_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Return the stored form of a token (SHA-256 hex; tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_record(token: str, scope: str, label: str, now: datetime) -> dict:
    """Return the record stored for a token: its hash, never the token."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    return {"id": str(uuid.uuid4()), "hash": token_hash(token), "scope": scope, "label": label,
            "created_at": format_time(now)}


class Bearer(NamedTuple):
    """Who presented a valid token: its scope and its stored record (None for SCIMWATCH_ADMIN_TOKEN)."""

    scope: str
    record: Mapping | None


def match(token: str, records, extra_admin_hashes=()) -> Bearer | None:
    """Return who a presented token is, or None when no stored or configured token matches.

    Every hash is compared in constant time, with no early exit: the time taken does not depend on
    which stored token matched.
    """
    presented = token_hash(token)
    found: Bearer | None = None
    for stored_hash in extra_admin_hashes:
        if hmac.compare_digest(presented, stored_hash):
            found = Bearer("admin", None)
    for record in records:
        if hmac.compare_digest(presented, record["hash"]) and found is None:
            found = Bearer(record["scope"], record)
    return found


def allows(scope: str | None, needed: str) -> bool:
    """Return whether a token's scope covers the needed one (admin covers all, track covers read)."""
    return scope is not None and (scope == "admin" or scope == needed or needed in _IMPLIES.get(scope, ()))


def check_request(data) -> tuple[str, str]:
    """Validate a request to create a token (`{"scope", "label"}`); return (scope, label) or raise."""
    if not isinstance(data, dict):
        raise ValidationError({"body": 'must be a JSON object such as {"scope": "read", "label": "intranet"}'})
    problems = {name: "unknown field; a token request has scope and label" for name in data
                if name not in ("scope", "label")}
    scope = data.get("scope")
    if not isinstance(scope, str) or scope not in SCOPES:
        problems["scope"] = f"is required and must be one of {', '.join(SCOPES)}"
    label: str = ""
    try:
        # None means no label; anything else (even {} or 0) must pass the key label's rules.
        if data.get("label") is not None:
            label = check_fields({"label": data["label"]}, partial=True)["label"]
    except ValidationError as error:
        problems["label"] = error.fields["label"]
    if problems or not isinstance(scope, str):
        raise ValidationError(problems)
    return scope, label


def public_view(record: Mapping, last_used_at: str | None) -> dict:
    """Return what the API shows of a token: never the token or its hash."""
    return {"id": record["id"], "scope": record["scope"], "label": record.get("label", ""),
            "created_at": record["created_at"], "last_used_at": last_used_at}
