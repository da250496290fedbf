"""Stored records as the server writes them: one check per table, used when the data file is loaded. Pure.

A check returns None for a good record, or (field, reason) for the first thing wrong with it; the field
is None when the record as a whole is wrong. Reasons name what is expected and never quote a token hash.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from . import keys as key_rules
from . import observations
from .reminders import delivery_id
from .times import EARLIEST_YEAR, LATEST_YEAR
from .tokens import SCOPES

Problem = tuple[str | None, str] | None

# Every field `keys.new_key` writes; `thresholds`, `channels` and `escalation` are optional.
KEY_FIELDS = ("id", *(name for name in key_rules.EDITABLE_FIELDS if name not in key_rules.OPTIONAL_FIELDS),
              "created_at", "updated_at", "rotated_at", "history")
TOKEN_FIELDS = ("id", "hash", "scope", "label", "created_at")
# Every field `notify.deliveries.pending_record` and `outcome_record` write.
DELIVERY_FIELDS = ("id", "key_id", "expires_at", "stage", "recipient", "status", "attempts", "error",
                   "message_id", "created_at", "updated_at", "sent_at")
DELIVERY_STATUSES = ("pending", "sent", "failed", "cancelled")
# TinyDB numbers documents from 1; the length cap keeps int() far from Python's digit limit.
_DOC_ID = re.compile(r"[1-9][0-9]{0,17}\Z")
_HASH = re.compile(r"[0-9a-f]{64}\Z")
_STAGE = re.compile(r"(?:[1-9][0-9]*d|expired(?:\+[1-9][0-9]*d)?)\Z")
_BAD_TEXT = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# Exactly what times.format_time writes; checked without parse_time, which costs most of a load.
_STORED_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")
_TIME_FORMAT = "a UTC time as the server writes it, such as 2026-12-06T00:00:00Z"


def doc_id(text: str) -> str | None:
    """Return why a table's document id is unusable, or None for a decimal positive whole number."""
    if _DOC_ID.match(text):
        return None
    return "the doc id must be a whole number from 1 to 999999999999999999 written in plain digits"


def keys(record) -> Problem:
    """Check a stored key record."""
    problem = _fields(record, KEY_FIELDS, nullable=("rotated_at",)) or _text("id", record["id"])
    if problem:
        return problem
    # Key records are answered whole by the API: one holding a key value must not be served.
    secret = next((name for name in record if name.lower() in key_rules.SECRET_FIELDS), None)
    if secret:
        return secret, key_rules.NEVER_STORED
    # Indexes sort expiry strings, which is time order only in the one form the server writes; that form
    # is a valid input time too, so check_fields need not parse it again.
    problem = _times(record, ("expires_at", "created_at", "updated_at"), nullable=("rotated_at",))
    if problem:
        return problem
    # An unset directory is stored as "", which input cannot send: check it as absent.
    editable = {name: record[name] for name in key_rules.EDITABLE_FIELDS
                if name in record and name != "expires_at" and not (name == "directory_id" and record[name] == "")}
    try:
        key_rules.check_fields(editable, partial=True)
    except key_rules.ValidationError as error:
        return next(iter(error.fields.items()))
    history = record["history"]
    if not isinstance(history, list) or not all(
            isinstance(entry, dict) and not _time("", entry.get("rotated_at", entry.get("corrected_at")))
            and not _time("", entry.get("previous_expires_at")) for entry in history):
        return ("history", "must be a list of {rotated_at or corrected_at, previous_expires_at}, "
                f"each {_TIME_FORMAT}")
    return _optional_key_fields(record)


def _optional_key_fields(record: dict) -> Problem:
    # Written by observations (§13) and acknowledgements (§14); records made before them lack them.
    if "page_url" in record:
        try:
            observations.check_page_url(record["page_url"], record["org_id"])
        except ValueError as error:
            return "page_url", str(error)
    for name in ("last_seen_at", "acknowledged_at"):
        if name in record:
            problem = _time(name, record[name])
            if problem:
                return problem
    if "acknowledged_by" in record:
        try:
            key_rules.check_acknowledgement({"by": record["acknowledged_by"]})
        except key_rules.ValidationError:
            return "acknowledged_by", "must be a name of 1 to 200 characters without control characters"
    if ("acknowledged_by" in record) != ("acknowledged_at" in record):
        return "acknowledged_at", "acknowledged_by and acknowledged_at are written together"
    return None


def tokens(record) -> Problem:
    """Check a stored token record (its hash is never quoted back)."""
    problem = _fields(record, TOKEN_FIELDS) or _text("id", record["id"])
    if problem:
        return problem
    if not isinstance(record["hash"], str) or not _HASH.match(record["hash"]):
        return "hash", "must be a SHA-256 hash written as 64 lower-case hex digits"
    if record["scope"] not in SCOPES:
        return "scope", f"must be one of {', '.join(SCOPES)}"
    if not isinstance(record["label"], str):
        return "label", "must be a string"
    return _time("created_at", record["created_at"])


def deliveries(record) -> Problem:
    """Check a stored delivery record."""
    problem = _fields(record, DELIVERY_FIELDS, nullable=("error", "sent_at"))
    for name in ("id", "key_id", "recipient", "message_id"):
        problem = problem or _text(name, record[name])
    if problem:
        return problem
    problem = _time("expires_at", record["expires_at"])
    if problem:
        return problem
    if not isinstance(record["stage"], str) or not _STAGE.match(record["stage"]):
        return "stage", "must be a reminder stage such as 7d, expired or expired+14d"
    if record["id"] != delivery_id(record["key_id"], record["expires_at"], record["stage"], record["recipient"]):
        return "id", "must be key_id|expires_at|stage|recipient (recipient in lower case), as the server writes it"
    if record["status"] not in DELIVERY_STATUSES:
        return "status", f"must be one of {', '.join(DELIVERY_STATUSES)}"
    attempts = record["attempts"]
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        return "attempts", "must be a whole number of at least 0"
    if record["error"] is not None and not isinstance(record["error"], str):
        return "error", "must be a string or null"
    return _times(record, ("created_at", "updated_at"), nullable=("sent_at",))


CHECKS: dict[str, Callable[[object], Problem]] = {"keys": keys, "tokens": tokens, "deliveries": deliveries}


def sort_out(name: str, table: dict) -> tuple[dict, list[tuple[str, object, str | None, str]]]:
    """Split one table into the records to keep and (doc id, record, field, reason) for each bad one.

    Tables without a check are kept whole. Of records sharing an `id`, the first in the file is kept.
    """
    check = CHECKS.get(name)
    if check is None:
        return table, []
    kept: dict = {}
    bad: list[tuple[str, object, str | None, str]] = []
    seen: dict = {}
    for number, record in table.items():
        reason = doc_id(number)
        problem = (None, reason) if reason else check(record)
        if problem is None and record["id"] in seen:
            problem = ("id", f"another record in this table has the same id (doc id {seen[record['id']]})")
        if problem is None:
            seen[record["id"]] = number
            kept[number] = record
        else:
            bad.append((number, record, *problem))
    return kept, bad


def _fields(record, names: tuple, nullable: tuple = ()) -> Problem:
    if not isinstance(record, dict):
        return None, "must be a JSON object"
    for name in names:
        if name not in record:
            return name, "is missing"
        if record[name] is None and name not in nullable:
            return name, "must not be null"
    return None


def _text(name: str, value) -> Problem:
    if not isinstance(value, str) or not value:
        return name, "must be a non-empty string"
    if len(value) > 1000 or _BAD_TEXT.search(value):
        return name, "must be at most 1000 characters, without control characters or unpaired surrogates"
    return None


def _times(record: dict, names: tuple, nullable: tuple) -> Problem:
    for name in names + nullable:
        if name in names or record[name] is not None:
            problem = _time(name, record[name])
            if problem:
                return problem
    return None


def _time(name: str, value) -> Problem:
    if isinstance(value, str) and _STORED_TIME.match(value):
        try:
            if EARLIEST_YEAR <= datetime.fromisoformat(value[:-1]).year <= LATEST_YEAR:
                return None
        except ValueError:
            pass
    return name, f"must be {_TIME_FORMAT}"
