"""The data file's layout: its tables, its schema version (DESIGN §17) and the check a backup must pass."""
from __future__ import annotations

import json
from pathlib import Path

from ..domain import records
from .files import StorageError

# The data file's layout version, in table META_TABLE. 1: the first releases, which had no META_TABLE;
# 2: the same tables plus META_TABLE; 3: the same file, and the writes since it was last rewritten are in
# the journal beside it (an older release would read the file alone and miss them, so it must refuse it).
# Start-up migrates an older file and refuses a newer one.
SCHEMA = 3
META_TABLE = "_meta"


def parse_tables(content: bytes, path: Path, what: str = "data file") -> dict:
    """Parse a data file's bytes into its tables; raise StorageError naming the file when they do not parse."""
    try:
        data = json.loads(content.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("top level must be an object of tables")
        for name, table in data.items():
            if not isinstance(table, dict):
                raise ValueError(f"table {name[:40]!r} must be an object of records by doc id")
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise StorageError(
            f"{what} {path} does not parse ({error}); scimwatch will not start and will not "
            "overwrite it: restore it from a backup or move it away"
        ) from None
    return data


def schema_of(tables: dict, path: Path) -> int:
    """Return the schema version of loaded tables (1 without META_TABLE); raise StorageError when unreadable."""
    meta = tables.get(META_TABLE)
    if not meta:
        return 1
    version = meta.get("1", {}).get("schema") if isinstance(meta.get("1"), dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StorageError(f"data file {path} has a {META_TABLE} table without a whole schema number; "
                           "restore it from a backup")
    return version


def check_schema(tables: dict, path: Path) -> int:
    """Return the schema version, refusing a file written by a newer scimwatch (naming both versions)."""
    version = schema_of(tables, path)
    if version > SCHEMA:
        raise StorageError(f"data file {path} has schema version {version}, newer than this scimwatch's "
                           f"version {SCHEMA}: run the release that wrote it (or newer), or restore a backup "
                           "made by this one")
    return version


def meta_table() -> dict:
    """Return META_TABLE as this release writes it."""
    return {"1": {"schema": SCHEMA}}


def check_backup(content: bytes, path: Path) -> dict:
    """Parse a backup and check it as start-up would: JSON tables, a known schema, no malformed record."""
    try:
        data = json.loads(content.decode("utf-8"))
        if not isinstance(data, dict) or not all(isinstance(table, dict) for table in data.values()):
            raise ValueError("the top level must be an object of tables, each an object of records")
    except ValueError as error:
        raise StorageError(f"{path} is not a scimwatch data file: {error}") from None
    check_schema(data, path)
    bad = [(name, entry[0], entry[2], entry[3]) for name, table in data.items()
           for entry in records.sort_out(name, table)[1]]
    if bad:
        name, doc_id, field, reason = bad[0]
        raise StorageError(f"{path} has {len(bad)} malformed record(s), e.g. table {name}, doc id {doc_id[:40]!r}"
                           f"{f', field {field}' if field else ''}: {reason}; nothing was replaced")
    return data
