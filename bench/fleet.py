"""Seed data folders with many key records, written straight to the TinyDB file format.

Seeding through the API would take one HTTP request and one fsynced write per key; the bench needs 50,000 keys in
seconds, so it builds the same documents with the server's own pure record builder and writes them once.
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from server.domain import keys, tokens
from server.domain.runbook import IDENTITY_PROVIDERS
from server.domain.times import format_time, utcnow
from server.store.storage import DATA_FILE

READ_TOKEN = "bench-read-token"
ADMIN_TOKEN = "bench-admin-token"
PROVIDERS = tuple(IDENTITY_PROVIDERS)


def org_id(number: int) -> str:
    """Return the org id used for org `number` (UUID-shaped, as on admin.atlassian.com)."""
    return f"00000000-0000-4000-8000-{number:012d}"


def key_fields(number: int, orgs: int, now: datetime, rng: random.Random) -> dict:
    """Return valid API input for key `number`: spread over `orgs` orgs, expiring from -20 to +400 days."""
    org = number % orgs
    return {
        "org_id": org_id(org),
        "org_name": f"Org {org}",
        "directory_id": f"dir-{number:06d}",
        "directory_name": f"Directory {number}",
        "identity_provider": PROVIDERS[number % len(PROVIDERS)],
        "label": f"key {number}",
        "expires_at": format_time(now + timedelta(days=rng.uniform(-20, 400))),
        "notify": [f"admin{org}@example.com", "it-ops@example.com"],
        "notes": "seeded by bench",
    }


def seed(data_dir: Path, count: int, orgs: int = 1000, now: datetime | None = None, seed_value: int = 6,
         fields=key_fields) -> Path:
    """Write a data file with `count` keys over `orgs` orgs and a read token; return the file's path."""
    now = now or utcnow()
    rng = random.Random(seed_value)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    records = {}
    for number in range(count):
        record = keys.new_key(keys.check_fields(fields(number, orgs, now, rng), partial=False), now)
        records[str(number + 1)] = record
    token = tokens.token_record(READ_TOKEN, "read", "bench", now)
    path = data_dir / DATA_FILE
    path.write_text(json.dumps({"keys": records, "tokens": {"1": token}}, separators=(",", ":")), encoding="utf-8")
    return path
