"""Import and export of key records (DESIGN §16): read a file, plan it against the stored records, apply it
in one atomic write or not at all. The formats and the matching rules are in domain/key_files.py."""
from __future__ import annotations

import json
from datetime import datetime

from ..domain import key_files
from ..domain.key_files import ImportInvalid
from .registry import Registry

FORMATS = {"csv": "text/csv", "json": "application/json"}
# A full export of 10,000 typical keys is about 2.5 MiB as CSV and 6.5 MiB as JSON; this leaves room for notes.
MAX_IMPORT_BYTES = 16 * 1024 * 1024
TOO_LARGE = f"the file is larger than the {MAX_IMPORT_BYTES // (1024 * 1024)} MiB import limit; split it"


def read_rows(data: bytes, media_type: str) -> list[key_files.Row]:
    """Decode an uploaded file (UTF-8, with or without a BOM) into rows; raise ImportInvalid."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportInvalid(TOO_LARGE)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportInvalid(f"the file is not UTF-8 text (byte {error.start + 1}); save it as CSV UTF-8") from None
    if media_type == FORMATS["csv"]:
        return key_files.rows_from_csv(text)
    try:
        document = json.loads(text)
    except RecursionError:
        raise ImportInvalid("the JSON body is nested too deeply") from None
    except ValueError as error:
        raise ImportInvalid(f"the body is not valid JSON: {error}") from None
    return key_files.rows_from_json(document)


def import_keys(registry: Registry, data: bytes, media_type: str, now: datetime, *, dry_run: bool) -> dict:
    """Import a CSV or JSON file of key records; return {"dry_run", "created", "updated", "unchanged"}.

    Every row is checked before anything is written; the changes go to the data file in one atomic write.
    Raises ImportInvalid (nothing changed) when any row is bad.
    """
    rows = read_rows(data, media_type)
    if dry_run:
        return key_files.plan_import(rows, registry.keys.all(), now, registry.channel_tags).counts(dry_run=True)
    # Planning inside the batch holds the store lock, so no other write can slip between plan and apply.
    with registry.store.batch():
        plan = key_files.plan_import(rows, registry.keys.all(), now, registry.channel_tags)
        if plan.created or plan.updated:
            registry.put_many(plan.created + plan.updated)
    return plan.counts(dry_run=False)


def export_keys(registry: Registry, file_format: str) -> str:
    """Return every key record, soonest expiry first, as CSV or JSON text."""
    records = registry.list()
    return key_files.to_csv(records) if file_format == "csv" else key_files.to_json(records)
