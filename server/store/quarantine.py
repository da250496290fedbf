"""Malformed records set aside at load: written whole to `quarantine/` before the data file drops them."""
from __future__ import annotations

import json
import logging
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from ..domain import records
from ..domain.times import format_time
from .files import StorageError, check_private_folder, fsync_folder, read_regular_file, write_file
from .folder import remove_stale_temp_files

log = logging.getLogger(__name__)

QUARANTINE_FOLDER = "quarantine"


def set_aside(tables: dict, data_dir: Path, data_file: Path, readonly: bool) -> tuple[dict | None, list[dict]]:
    """Move records that break the table rules out of loaded tables; return (the tables kept, every quarantined).

    1. Sort every table into good and bad records (server/domain/records.py).
    2. Write the bad ones, whole, to a new file in quarantine/ and make it durable.
    3. Only then return the tables without them (None when none was bad); the compaction that follows
       rewrites the data file without them, so a crash between the two loses nothing.
    A read-only store only leaves them out of memory; the next owner of the folder sets them aside.
    The list holds every record set aside, from every quarantine file: {"table", "doc_id", "field",
    "reason", "file"}.
    """
    kept, found = {}, []
    for name, table in tables.items():
        kept[name], bad = records.sort_out(name, table)
        found += [(name, *entry) for entry in bad]
    file = write_quarantine(data_dir, found, data_file) if found and not readonly else None
    for table, doc_id, _, field, reason in found:
        where = f"it was moved to {file}; fix it, add it again and delete that file" if file else \
            "it is skipped; the next start of the server sets it aside"
        log.warning("malformed record in the data file: table %s, doc id %r, %s: %s; %s", table, doc_id[:40],
                    f"field {field}" if field else "the record as a whole", reason, where)
    if not readonly:
        remove_stale_temp_files(data_dir / QUARANTINE_FOLDER, ".")
    listed = read_quarantine(data_dir) + [
        {"table": table, "doc_id": doc_id, "field": field, "reason": reason, "file": None}
        for table, doc_id, _, field, reason in (found if readonly else [])]
    return (kept if found else None), listed


def write_quarantine(data_dir: Path, found: list, data_file: Path) -> Path:
    """Write (table, doc_id, record, field, reason) entries to a new durable file in quarantine/; return it."""
    folder = data_dir / QUARANTINE_FOLDER
    now = datetime.now(UTC)
    name = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}.json"
    entries = [{"table": table, "doc_id": doc_id, "field": field, "reason": reason,
                "quarantined_at": format_time(now), "record": record}
               for table, doc_id, record, field, reason in found]
    try:
        try:
            os.mkdir(folder, 0o700)
            fsync_folder(data_dir)
        except FileExistsError:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                check_private_folder(fd, folder, "quarantine folder")
            finally:
                os.close(fd)
        write_file(folder, name, json.dumps(entries, indent=1).encode("ascii"))
        fsync_folder(folder)
    except (OSError, StorageError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise StorageError(
            f"data file {data_file} holds {len(found)} malformed record(s) and they cannot be set aside "
            f"in {folder} ({reason}); nothing was changed: fix that folder, or the records by hand") from None
    return folder / name


def read_quarantine(data_dir: Path) -> list[dict]:
    """Return every entry of every quarantine file; a file that does not read back counts as one entry."""
    folder = data_dir / QUARANTINE_FOLDER
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    except OSError as error:
        return [{"table": None, "doc_id": None, "field": None, "file": str(folder),
                 "reason": f"the quarantine folder cannot be read: {error.strerror}"}]
    listed = []
    for name in names:
        if name.startswith(".") or not name.endswith(".json"):
            continue
        path = folder / name
        try:
            entries = json.loads(read_regular_file(path, "quarantine file") or b"")
            listed += [{"table": entry["table"], "doc_id": entry["doc_id"], "field": entry["field"],
                        "reason": entry["reason"], "file": str(path)} for entry in entries]
        except (StorageError, ValueError, TypeError, KeyError, IndexError):
            listed.append({"table": None, "doc_id": None, "field": None, "file": str(path),
                           "reason": "this file is not as scimwatch wrote it; look at it, then delete it"})
    return listed
