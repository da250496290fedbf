"""Import and export files of key records (DESIGN §16): CSV and JSON, and how rows match records. Pure, no I/O.

CSV: a header row of field names, one record per row, multi-value cells (`notify`, `thresholds`, `channels`)
separated by `;`, `escalation` as `3d=a@example.com,b@example.com;expired=c@example.com`. Cells that a
spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) are exported with a
leading `'`, which import takes off again; a cell that itself starts with `'` before one of those characters
(or before another `'`) gets one more, so every value survives the round trip.
JSON: `{"keys": [...]}`, the records as the API answers them.

Columns after the editable fields (`source`, `upstream_id`, `removed_upstream`, `created_at`, `updated_at`,
`rotated_at`, and `history` in JSON) are written by export for people to read; import ignores them, so an
export imports unchanged. A record created by an import has `source: "import"`.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from . import keys
from .words import counted

EXPORT_ONLY = ("source", "upstream_id", "removed_upstream", "created_at", "updated_at", "rotated_at")
CSV_COLUMNS = ("id", *keys.EDITABLE_FIELDS, *EXPORT_ONLY)
# Read by people, ignored on import; JSON also carries the rotation history.
# Observation and acknowledgement fields (§13, §14) ride along in a JSON export the same way.
IGNORED_ON_IMPORT = frozenset({*EXPORT_ONLY, "history", "page_url", "last_seen_at", "acknowledged_by",
                               "acknowledged_at"})
LIST_SEPARATOR = ";"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROW_LIMIT = 50_000
# Ids this server makes are UUIDs; an imported id must at least be one that links and URLs can carry.
_ID = re.compile(r"[A-Za-z0-9._~-]{1,200}\Z")


class ImportInvalid(ValueError):
    """A file that cannot be imported; `rows` lists every bad row as {"row", "fields"}. Nothing is applied."""

    def __init__(self, message: str, rows: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.rows = rows or []


@dataclass
class Row:
    """One record's fields as read from a file: `number` is its CSV line (header = 1) or JSON position (from 1)."""

    number: int
    fields: dict
    problems: dict[str, str] = field(default_factory=dict)


@dataclass
class ImportPlan:
    """What an import would do: the records to write and how many rows changed nothing."""

    created: list[dict]
    updated: list[dict]
    unchanged: int

    def counts(self, dry_run: bool) -> dict:
        """Return the answer: {"dry_run", "created", "updated", "unchanged"}."""
        return {"dry_run": dry_run, "created": len(self.created), "updated": len(self.updated),
                "unchanged": self.unchanged}


# --- cells ------------------------------------------------------------------------------------------

def escape_cell(text: str) -> str:
    """Return a cell a spreadsheet shows as text: a leading `'` before a formula start (and before an escape)."""
    if text.startswith(FORMULA_STARTS) or (text[:1] == "'" and text[1:2] in (*FORMULA_STARTS, "'")):
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    """Undo escape_cell."""
    if text[:1] == "'" and text[1:2] in (*FORMULA_STARTS, "'"):
        return text[1:]
    return text


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return LIST_SEPARATOR.join(str(item) for item in value)
    if isinstance(value, Mapping):
        return keys.escalation_text(value)
    return str(value)


def _field_from_cell(name: str, cell: str):
    """Return the API value of a CSV cell: lists split on `;`, an empty cell resets a field to its default."""
    # A spreadsheet may end the lines of a multi-line cell with CRLF; notes keep newlines only.
    text = unescape_cell(cell).replace("\r\n", "\n")
    if not text.strip() and name in keys.OPTIONAL_FIELDS:
        return None
    if name == "escalation":
        try:
            return keys.parse_escalation(text)
        except ValueError:
            return text  # the key rules name what is wrong
    if name in ("notify", "channels"):
        return [item.strip() for item in text.split(LIST_SEPARATOR) if item.strip()]
    if not text.strip() and name in ("identity_provider", "kind", "org_id", "expires_at", "directory_id"):
        return None
    if name == "thresholds":
        # Non-numbers stay text so the key rules name the problem.
        return [int(item) if item.strip().isdecimal() else item.strip()
                for item in text.split(LIST_SEPARATOR) if item.strip()]
    return text


# --- export -----------------------------------------------------------------------------------------

def to_csv(records: Iterable[Mapping]) -> str:
    """Return records as CSV text with a BOM (so spreadsheets read it as UTF-8) and formula-safe cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        writer.writerow([escape_cell(_cell(record.get(name))) for name in CSV_COLUMNS])
    return "\ufeff" + out.getvalue()


def to_json(records: Iterable[Mapping]) -> str:
    """Return records as the JSON document `{"keys": [...]}`."""
    return json.dumps({"keys": list(records)}, indent=2) + "\n"


# --- import: reading rows -----------------------------------------------------------------------------

def _column_problem(name: str) -> str | None:
    if name.lower() in keys.SECRET_FIELDS:
        return keys.NEVER_STORED
    if name not in CSV_COLUMNS and name not in IGNORED_ON_IMPORT:
        return f"unknown column; known columns are {', '.join(CSV_COLUMNS)}"
    return None


def rows_from_csv(text: str) -> list[Row]:
    """Read CSV text (header row first) into rows; raise ImportInvalid for a file that is not CSV."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    rows: list[Row] = []
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise ImportInvalid("the file is empty; the first row must name the columns, e.g. org_id,expires_at")
        header_line = reader.line_num
        names = [name.strip() for name in header]
        problems = {}
        for number, name in enumerate(names, 1):
            problem = _column_problem(name) if name else "this column has no name"
            if problem:
                problems[name or f"column {number}"] = problem
            elif names.count(name) > 1:
                problems[name] = "appears more than once in the header"
        if problems:
            raise ImportInvalid("the header row has unknown columns", [{"row": header_line, "fields": problems}])
        previous_line = header_line
        for cells in reader:
            number, previous_line = previous_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines and the empty rows spreadsheets leave at the end
            if len(rows) >= ROW_LIMIT:
                raise ImportInvalid(f"the file has more than {ROW_LIMIT:,} rows; split it")
            row = Row(number, {})
            if len(cells) != len(names):
                row.problems["row"] = f"has {len(cells)} cells; the header has {len(names)}"
            else:
                row.fields = {name: _field_from_cell(name, cell) for name, cell in zip(names, cells, strict=True)
                              if name not in IGNORED_ON_IMPORT}
            rows.append(row)
    except csv.Error as error:
        raise ImportInvalid(f"the file is not valid CSV at line {reader.line_num}: {error}",
                            [{"row": reader.line_num, "fields": {"row": f"not valid CSV: {error}"}}]) from None
    return rows


def rows_from_json(document) -> list[Row]:
    """Read a parsed JSON document `{"keys": [...]}` into rows; raise ImportInvalid for any other shape."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list) or set(document) != {"keys"}:
        raise ImportInvalid('the JSON body must be an object with one member, "keys": a list of key records')
    if len(document["keys"]) > ROW_LIMIT:
        raise ImportInvalid(f"the file has more than {ROW_LIMIT:,} keys; split it")
    rows = []
    for number, item in enumerate(document["keys"], 1):
        if not isinstance(item, dict):
            rows.append(Row(number, {}, {"row": "must be an object with the key's fields"}))
        else:
            rows.append(Row(number, {name: value for name, value in item.items() if name not in IGNORED_ON_IMPORT}))
    return rows


# --- import: matching and planning -----------------------------------------------------------------

class _Matcher:
    """Existing records by id and by (org_id, kind, directory_id) and (org_id, kind, directory_name casefolded)."""

    def __init__(self, records: Iterable[Mapping]):
        self.by_id: dict[str, Mapping] = {}
        self.by_directory_id: dict[tuple, list] = {}
        self.by_directory_name: dict[tuple, list] = {}
        for record in records:
            self.by_id[record["id"]] = record
            org, kind = record["org_id"], record.get("kind", "scim")
            if record.get("directory_id"):
                self.by_directory_id.setdefault((org, kind, record["directory_id"]), []).append(record)
            if record.get("directory_name"):
                self.by_directory_name.setdefault((org, kind, record["directory_name"].casefold()), []).append(record)

    def find(self, fields: dict) -> list:
        """Return the records a row without a known id matches: by directory_id, else by directory_name."""
        org, kind = fields.get("org_id"), fields.get("kind") or "scim"
        directory_id, name = fields.get("directory_id") or "", fields.get("directory_name") or ""
        found = self.by_directory_id.get((org, kind, directory_id), []) if directory_id else []
        if not found and name:
            # A row naming a directory id matches by name only records that have no directory id.
            found = [record for record in self.by_directory_name.get((org, kind, name.casefold()), [])
                     if not directory_id or not record.get("directory_id")]
        return found


def _natural_key(fields: dict):
    directory = fields.get("directory_id") or (fields.get("directory_name") or "").casefold()
    return (fields.get("org_id"), fields.get("kind") or "scim", directory) if directory else None


def _same(record: Mapping, other: Mapping) -> bool:
    """Whether two records (plain or read-only snapshots) have the same editable fields."""
    def comparable(value):
        if isinstance(value, Mapping):  # an escalation: {stage: addresses}
            return {stage: list(addresses) for stage, addresses in value.items()}
        return list(value) if isinstance(value, (list, tuple)) else value
    return all(comparable(record.get(name)) == comparable(other.get(name)) for name in keys.EDITABLE_FIELDS)


def _check(fields: dict, known_tags) -> tuple[dict, set[str], dict[str, str]]:
    """Return a row's cleaned fields, the required fields it lacks (fine for an update) and its problems."""
    try:
        return keys.check_fields(fields, partial=False, known_tags=known_tags), set(), {}
    except keys.ValidationError as error:
        missing = {name for name in error.fields if name not in fields}
        problems = {name: text for name, text in error.fields.items() if name in fields}
    return ({} if problems else keys.check_fields(fields, partial=True, known_tags=known_tags)), missing, problems


def plan_import(rows: list[Row], existing: Iterable[Mapping], now: datetime, known_tags=frozenset()) -> ImportPlan:
    """Match each row to a record (by id, else by org, kind and directory) and plan the writes.

    `known_tags` are the channel tags a row's `channels` may name (SCIMWATCH_APPRISE_CONFIG's).
    Raises ImportInvalid listing every bad row with its field messages; then nothing may be applied.
    """
    matcher = _Matcher(existing)
    claimed: dict[str, int] = {}  # record id -> the row that matched it
    new_rows: dict = {}  # natural key or id of a record to create -> its row
    plan, bad = ImportPlan([], [], 0), []

    def refuse(row: Row, problems: dict) -> None:
        bad.append({"row": row.number, "fields": problems})

    for row in rows:
        fields = dict(row.fields)
        row_id = fields.pop("id", None) or None
        if fields.get("directory_id") == "":
            fields["directory_id"] = None  # an export writes "" for "no directory id"
        problems = dict(row.problems)
        if row_id is not None and (not isinstance(row_id, str) or not _ID.match(row_id)):
            problems["id"] = "must be a record id: letters, digits and . _ ~ - (at most 200)"
            row_id = None
        cleaned, missing, field_problems = _check(fields, known_tags) if not row.problems else ({}, set(), {})
        problems.update(field_problems)
        target = matcher.by_id.get(row_id) if row_id else None
        if problems:
            if target is None and "org_id" in missing:
                problems["org_id"] = "is required"  # no record can match a row without one
            refuse(row, problems)
            continue
        if target is None:
            found = matcher.find(cleaned)
            if len(found) > 1:
                refuse(row, {"directory_id" if cleaned.get("directory_id") else "directory_name":
                             f"matches {len(found)} records; add the id column to say which"})
                continue
            target = found[0] if found else None
        if target is not None:
            if target["id"] in claimed:
                refuse(row, {"row": f"matches the same record as row {claimed[target['id']]}"})
                continue
            claimed[target["id"]] = row.number
            changed = keys.updated_key(dict(target), cleaned, now)
            if _same(changed, target):
                plan.unchanged += 1
            else:
                plan.updated.append(keys.plain_copy(changed))
            continue
        if missing:
            refuse(row, dict.fromkeys(sorted(missing), "is required"))
            continue
        identities = [identity for identity in (("id", row_id) if row_id else None, _natural_key(cleaned)) if identity]
        twin = next((new_rows[identity] for identity in identities if identity in new_rows), None)
        if twin is not None:
            refuse(row, {"row": f"describes the same new record as row {twin}"})
            continue
        new_rows.update(dict.fromkeys(identities, row.number))
        plan.created.append(keys.new_key(cleaned, now, source="import", key_id=row_id))
    if bad:
        raise ImportInvalid(f"{counted(len(bad), 'row')} cannot be imported; nothing was changed",
                            bad)
    return plan

