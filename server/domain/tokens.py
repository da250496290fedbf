"""Bearer tokens: made at random, stored only as hashes, compared in constant time."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime

from .times import format_time

SCOPES = ("read", "admin")


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


def scope_of(token: str, records, extra_admin_hashes=()) -> str | None:
    """Return the scope of a presented token, or None; every hash is compared in constant time."""
    presented = token_hash(token)
    found = None
    # No early exit: the time taken does not depend on which stored token matched.
    for stored_hash in extra_admin_hashes:
        if hmac.compare_digest(presented, stored_hash):
            found = "admin"
    for record in records:
        if hmac.compare_digest(presented, record["hash"]) and found is None:
            found = record["scope"]
    return found


def allows(scope: str | None, needed: str) -> bool:
    """Return whether a token's scope covers the needed one (admin covers read)."""
    return scope == "admin" or (scope == needed and scope is not None)
