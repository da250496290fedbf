"""The journal beside the data file: each write's changed documents as one line, fsynced before it is acknowledged.

The data file (the snapshot) is rewritten whole only now and then (compaction); between two rewrites every
write appends one line to `scimwatch.journal`, so a write costs the same at 1,000 records as at 50,000.

- Line 1 names the snapshot it continues (the SHA-256 of the data file's bytes). A journal whose snapshot
  is not the data file on disk (a compaction that stopped between its two renames, a restore, a data file
  copied in by hand) is stale: none of it is applied.
- Every later line is `{"tables":{table:{doc_id:document or null}},"crc":"<crc32>"}`: the documents one
  write changed (null: removed), with a CRC-32 of everything before `,"crc"`.
- A last line that is torn or fails its check is a write that was never acknowledged: it is ignored. A bad
  line before the last is damage: loading stops naming the file and the line, and nothing is dropped.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import zlib
from pathlib import Path

from .files import StorageError, fsync_folder, read_regular_file, refuse_irregular, write_file

log = logging.getLogger(__name__)

JOURNAL_FILE = "scimwatch.journal"
_CRC = re.compile(rb',"crc":"([0-9a-f]{8})"\}\Z')


def fingerprint(snapshot: bytes | None) -> str:
    """Return what the journal's first line names its snapshot by."""
    return hashlib.sha256(snapshot).hexdigest() if snapshot is not None else "none"


def entry(changes: dict) -> bytes:
    """Return the journal line for one write: {table: {doc_id: document, or None when removed}}."""
    body = b'{"tables":' + json.dumps(changes, separators=(",", ":")).encode("ascii")
    return body + b',"crc":"%08x"}\n' % zlib.crc32(body)


def read_entry(line: bytes) -> dict | None:
    """Return the changes of one journal line, or None when it is torn or fails its check."""
    found = _CRC.search(line)
    if not found:
        return None
    body = line[:found.start()]
    if b"%08x" % zlib.crc32(body) != found.group(1):
        return None
    try:
        tables = json.loads(body + b"}")["tables"]
    except (ValueError, KeyError, TypeError):
        return None
    good = isinstance(tables, dict) and all(
        isinstance(table, dict) and all(document is None or isinstance(document, dict) for document in table.values())
        for table in tables.values())
    return tables if good else None


def apply(tables: dict, changes: dict) -> None:
    """Apply one line's changes to loaded tables, as the write did in memory (a replaced document moves last)."""
    for name, documents in changes.items():
        table = tables.setdefault(name, {})
        for doc_id, document in documents.items():
            table.pop(doc_id, None)
            if document is not None:
                table[doc_id] = document


class Journal:
    """The journal file: replayed at load, appended to on each write, started afresh at each compaction."""

    def __init__(self, path: Path):
        self.path = path
        # Bytes in the file, and lines replayed at load or appended since.
        self.size = 0
        self.entries = 0
        # False until the file is known to continue the data file on disk and to end in a whole line:
        # until then a write must compact instead of appending.
        self.usable = False
        self._identity: tuple[int, int] | None = None

    def replay(self, snapshot: bytes | None, tables: dict) -> None:
        """Apply every acknowledged line to `tables` (the loaded snapshot); raise StorageError on damage."""
        content = read_regular_file(self.path, "journal")
        self.usable, self.entries, self.size = False, 0, 0
        if content is None:
            return
        lines = content.split(b"\n")
        tail = lines.pop()  # b"" when the file ends in a whole line
        if not lines or self._snapshot_named(lines[0]) != fingerprint(snapshot):
            if len(lines) > 1 or tail:
                log.warning("journal %s does not continue the data file beside it (that was replaced since); its "
                            "%d line(s) were not applied", self.path, len(lines) - 1)
            return
        torn = bool(tail)
        for number, line in enumerate(lines[1:], start=2):
            changes = read_entry(line)
            if changes is None:
                if number == len(lines) and not tail:
                    torn = True
                    break
                raise StorageError(
                    f"journal {self.path} line {number} is damaged (it is not as scimwatch wrote it, and later lines "
                    "follow it); scimwatch will not start and will not overwrite it: restore a backup, or move the "
                    "journal away to start from the data file's last compaction")
            apply(tables, changes)
            self.entries += 1
        if torn:
            log.warning("journal %s ends in a torn line, a write that was never acknowledged; it was ignored",
                        self.path)
        self.usable, self.size = not torn, len(content)
        self._identity = self._stat()

    @staticmethod
    def _snapshot_named(header: bytes) -> str | None:
        try:
            named = json.loads(header).get("snapshot")
        except (ValueError, AttributeError):
            return None
        return named if isinstance(named, str) else None

    def _stat(self) -> tuple[int, int] | None:
        try:
            info = os.lstat(self.path)
        except OSError:
            return None
        return info.st_dev, info.st_ino

    def start(self, snapshot: bytes) -> None:
        """Replace the journal with an empty one that continues this snapshot (already durable on disk)."""
        self.usable = False
        header = json.dumps({"snapshot": fingerprint(snapshot)}).encode("ascii") + b"\n"
        write_file(self.path.parent, self.path.name, header)
        fsync_folder(self.path.parent)
        self.size, self.entries, self.usable = len(header), 0, True
        self._identity = self._stat()

    def append(self, line: bytes) -> None:
        """Append one write's line and fsync it; on failure leave the file as it was (or compact next)."""
        # Opened for each write, not kept open: a folder made read-only, or a journal replaced by a link
        # or another file since, is noticed here rather than written through.
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as error:
            if error.errno in (errno.ENOENT, errno.ELOOP):
                self.usable = False
            raise
        try:
            refuse_irregular(fd, self.path, "journal")
        except StorageError:
            self.usable = False
            raise
        try:
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) != self._identity or info.st_size != self.size:
                self.usable = False
                raise StorageError(f"journal {self.path} was changed by something other than scimwatch; "
                                   "the next write rewrites the data file and starts a new journal")
            try:
                written = 0
                while written < len(line):
                    written += os.write(fd, line[written:])
                os.fdatasync(fd)
            except OSError:
                self._cut_back(fd)
                raise
        finally:
            os.close(fd)
        self.size += len(line)
        self.entries += 1

    def _cut_back(self, fd: int) -> None:
        # A refused write must not come back at the next start, and a half line must not sit before the
        # next whole one (that would read as damage). When even cutting back fails, compact next time.
        try:
            os.ftruncate(fd, self.size)
            os.fdatasync(fd)
        except OSError:
            self.usable = False

    def remove(self) -> None:
        """Delete the journal (a restored data file starts without one)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self.usable, self.entries, self.size = False, 0, 0
