"""The data folder: the only module that touches TinyDB.

One process owns the folder (a lock on the folder itself). Every table operation
runs under one lock, every write replaces the data file atomically (a new private
temp file, fsync, rename), and readers get frozen snapshots that cannot change the
stored documents. Nothing in the folder is followed through a link or written in
place, and malformed records are set aside in `quarantine/` at load.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import pwd
import secrets
import stat
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document

from ..domain import records
from ..domain.times import format_time

log = logging.getLogger(__name__)

DATA_FILE = "scimwatch.json"
LOCK_FILE = "scimwatch.lock"
QUARANTINE_FOLDER = "quarantine"
# Temp files are `.scimwatch.json.<random>.tmp` (and `.scimwatch.lock.<random>.tmp`); before issue 16 the
# data file's one fixed temp name was `scimwatch.json.tmp`, which a crash may have left behind.
TEMP_PREFIX, TEMP_SUFFIX = ".scimwatch.", ".tmp"
OLD_TEMP_FILE = DATA_FILE + ".tmp"
# The data file's layout version, in table META_TABLE (DESIGN §17). 1: the first releases, which had no
# META_TABLE; 2: the same tables plus META_TABLE. Start-up migrates an older file and refuses a newer one.
SCHEMA = 2
META_TABLE = "_meta"
_FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


class StorageError(Exception):
    """The data folder cannot be used; the message says why and what to do."""


class DataFolderBusy(StorageError):
    """Another process holds the data folder's lock."""


class WriteFailed(StorageError):
    """A write did not reach the disk; the stored data is unchanged."""


def read_regular_file(path: Path, what: str, limit: int = -1) -> bytes | None:
    """Return a regular file's bytes (None when it does not exist); refuse a link, FIFO, device or folder."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise StorageError(f"{what} {path} is a symbolic link; scimwatch does not follow links in its data "
                               "folder: put the file itself there") from None
        raise StorageError(f"cannot read {what} {path}: {error.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a file")
        raise StorageError(f"{what} {path} is not a regular file (it is {kind}); move it away")
    with open(fd, "rb") as handle:
        try:
            return handle.read(limit)
        except OSError as error:
            raise StorageError(f"cannot read {what} {path}: {error.strerror}") from None


def write_file(folder: Path, name: str, content: bytes) -> None:
    """Replace folder/name whole: write a new private temp file (never an existing one), fsync, rename."""
    # mkstemp opens with O_CREAT | O_EXCL | O_NOFOLLOW under a random name: nothing planted is written through.
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=TEMP_SUFFIX, dir=folder)
    try:
        with open(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        # A rename replaces a link at the destination, never its target.
        os.replace(temp, folder / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def fsync_folder(folder: Path) -> None:
    """Make renames in a folder durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_private_folder(fd: int, path: Path, what: str = "data folder") -> None:
    """Refuse a folder that other users could plant files or links in."""
    info = os.fstat(fd)
    if info.st_mode & stat.S_IWOTH:
        raise StorageError(f"{what} {path} is writable by every user (mode {stat.S_IMODE(info.st_mode):o}), so "
                           f"anyone could plant links in it; scimwatch will not use it: run chmod o-w {path}")
    if info.st_uid != os.geteuid():
        owner, me = _user_name(info.st_uid), _user_name(os.geteuid())
        raise StorageError(f"{what} {path} belongs to {owner}, not to the user running scimwatch ({me}); "
                           f"run chown {me} {path}, or run scimwatch as {owner}")


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def freeze(value):
    """Return a read-only deep view of a JSON value (dicts become mappingproxies, lists tuples)."""
    if isinstance(value, dict):
        return MappingProxyType({name: freeze(item) for name, item in value.items()})
    if isinstance(value, list):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value):
    """Return a plain, independent JSON copy of a frozen or plain value."""
    if isinstance(value, (dict, MappingProxyType)):
        return {name: thaw(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return value


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


class AtomicJSONStorage(Storage):
    """TinyDB storage that keeps the parsed file in memory and replaces the file atomically on write."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._data: dict = {}
        self._pending: dict | None = None
        self.deferred = False
        # Per table, doc id -> (document, its JSON). Documents are never changed in place (Collection
        # replaces them), so a document that is still the same object still has the same JSON.
        self._encoded: dict[str, dict] = {}
        # Why the last write was refused, until a write succeeds again (/healthz fails meanwhile).
        self.failure: str | None = None

    def load(self) -> None:
        """Read and parse the data file once; refuse a file that does not parse."""
        content = read_regular_file(self.path, "data file")
        if content is None:
            self._data = {}
            return
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as error:
            raise StorageError(f"cannot read data file {self.path}: {error}") from None
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("top level must be an object of tables")
            for name, table in data.items():
                if not isinstance(table, dict):
                    raise ValueError(f"table {name[:40]!r} must be an object of records by doc id")
        except ValueError as error:
            raise StorageError(
                f"data file {self.path} does not parse ({error}); scimwatch will not start and will not "
                "overwrite it: restore it from a backup or move it away"
            ) from None
        self._data = data

    def committed(self) -> dict:
        """Return the tables as last written to the file (not a batch in progress)."""
        return self._data

    def use(self, data: dict) -> None:
        """Replace the loaded tables in memory only, leaving the file as it is."""
        self._data = data

    def tables(self) -> dict:
        """Return the current tables without copying (callers must not mutate)."""
        return self._pending if self._pending is not None else self._data

    def read(self):
        # TinyDB rebuilds a table's dict on every write and assigns it into the dict we return, so a
        # shallow copy keeps ours intact. Only Table.update mutates documents in place; Collection never calls it.
        return dict(self.tables())

    def write(self, data) -> None:
        if self.deferred:
            self._pending = data
            return
        self.flush(data)

    def flush(self, data) -> None:
        """Write `data` to a new temp file, fsync it, rename it over the data file and fsync the folder."""
        try:
            # The encoding is ASCII (json.dumps escapes the rest).
            write_file(self.path.parent, self.path.name, self._encode(data).encode("ascii"))
        except OSError as error:
            reason = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
                      errno.EACCES: "permission denied", errno.EDQUOT: "the disk quota is exceeded"}.get(
                error.errno or 0, error.strerror or str(error))
            self.failure = f"could not write data file {self.path}: {reason}"
            raise WriteFailed(f"{self.failure}; nothing was changed") from None
        self.failure = None
        # The rename has happened: memory must follow the file even if making the rename durable fails.
        self._data = data
        try:
            fsync_folder(self.path.parent)
        except OSError as error:
            log.warning("data file %s was replaced but its folder could not be fsynced: %s", self.path, error)

    def _encode(self, data: dict) -> str:
        """Return the data file's JSON, encoding only the documents that changed since the last write."""
        tables = []
        for name, table in data.items():
            known = self._encoded.get(name, {})
            encoded = {}
            for doc_id, document in table.items():
                entry = known.get(doc_id)
                if entry is None or entry[0] is not document:
                    entry = (document, json.dumps(document, separators=(",", ":")))
                encoded[doc_id] = entry
            self._encoded[name] = encoded
            # TinyDB's doc ids are decimal strings, so they need no escaping.
            documents = ",".join(f'"{doc_id}":{entry[1]}' for doc_id, entry in encoded.items())
            tables.append(f"{json.dumps(name)}:{{{documents}}}")
        return "{" + ",".join(tables) + "}"

    def end_batch(self, commit: bool) -> None:
        """Leave deferred mode, flushing the batch's last state when asked to."""
        pending, self._pending, self.deferred = self._pending, None, False
        if commit and pending is not None:
            self.flush(pending)

    def close(self) -> None:
        pass


class Collection:
    """One table of JSON documents identified by their `id` field."""

    def __init__(self, store: Store, name: str):
        self._store = store
        self._name = name
        self._table = store._db.table(name, cache_size=0)
        self._snapshot: dict | None = None
        self._doc_ids: dict = {}
        self._generation = 0

    def _index(self) -> dict:
        if self._snapshot is None:
            raw = self._store._storage.tables().get(self._name, {})
            self._snapshot = {doc["id"]: freeze(doc) for doc in raw.values()}
            self._doc_ids = {doc["id"]: int(doc_id) for doc_id, doc in raw.items()}
        return self._snapshot

    @property
    def generation(self) -> int:
        """A number that changes whenever a document of this collection changes."""
        return self._generation

    def _changed(self) -> None:
        self._generation += 1

    def _forget(self) -> None:
        self._snapshot = None
        self._changed()

    def all(self) -> list:
        """Return every document, frozen."""
        with self._store._lock:
            return list(self._index().values())

    def get(self, doc_id: str):
        """Return one frozen document by id, or None."""
        with self._store._lock:
            return self._index().get(doc_id)

    def __len__(self) -> int:
        with self._store._lock:
            return len(self._index())

    def insert(self, document: dict) -> None:
        """Store a new document (it must carry a unique `id`)."""
        with self._store.write_lock():
            snapshot = self._index()
            if document["id"] in snapshot:
                raise StorageError(f"a document with id {document['id']} already exists in {self._name}")
            self._doc_ids[document["id"]] = self._table.insert(thaw(document))
            # Update the snapshot in place: refreezing every document would make each write O(n).
            snapshot[document["id"]] = freeze(document)
            self._changed()

    def replace(self, document: dict) -> bool:
        """Replace the stored document with the same id; return False if there is none."""
        with self._store.batch():
            snapshot = self._index()
            doc_id = self._doc_ids.get(document["id"])
            if doc_id is None:
                return False
            # Remove and re-insert under the same doc id: TinyDB's update would mutate the cached document.
            self._table.remove(doc_ids=[doc_id])
            self._table.insert(Document(thaw(document), doc_id=doc_id))
            snapshot[document["id"]] = freeze(document)
            self._changed()
            return True

    def put_many(self, documents) -> None:
        """Insert or replace many documents by `id` in one atomic file write."""
        incoming = {document["id"]: document for document in documents}
        # One TinyDB operation re-reads every table, so one call per document would cost O(n²).
        with self._store.batch():
            self._index()
            existing = [self._doc_ids[doc_id] for doc_id in incoming if doc_id in self._doc_ids]
            # Number new documents ourselves: TinyDB would count from the table after the removal
            # below and could hand out the doc id of a document about to be re-inserted.
            fresh_ids = iter(range(max(self._doc_ids.values(), default=0) + 1, 1 << 62))
            if existing:
                self._table.remove(doc_ids=existing)
            self._table.insert_multiple(
                Document(thaw(document), doc_id=self._doc_ids.get(doc_id) or next(fresh_ids))
                for doc_id, document in incoming.items())
            # tinydb 4.9's insert_multiple keeps the table's cached next doc id even when the documents
            # carry their own, so the next insert() would take one just given out ("Document with ID n
            # already exists"). Forget it; the table recounts from its documents.
            self._table._next_id = None
            self._snapshot = None
            self._changed()

    def remove_many(self, doc_ids) -> None:
        """Delete the documents with these ids (unknown ones are skipped) in one write."""
        with self._store.write_lock():
            snapshot = self._index()
            found = [doc_id for doc_id in dict.fromkeys(doc_ids) if doc_id in self._doc_ids]
            if not found:
                return
            self._table.remove(doc_ids=[self._doc_ids[doc_id] for doc_id in found])
            for doc_id in found:
                del self._doc_ids[doc_id], snapshot[doc_id]
            self._changed()

    def remove(self, doc_id: str) -> bool:
        """Delete a document by id; return False if there was none."""
        with self._store.write_lock():
            snapshot = self._index()
            if doc_id not in self._doc_ids:
                return False
            self._table.remove(doc_ids=[self._doc_ids[doc_id]])
            del self._doc_ids[doc_id], snapshot[doc_id]
            self._changed()
            return True


class Store:
    """The data folder: its lock, the TinyDB file, one collection per table, and the quarantined records."""

    def __init__(self, data_dir, *, readonly: bool = False):
        self.data_dir = Path(data_dir)
        self.readonly = readonly
        self._lock = threading.RLock()
        self._folder_fd: int | None = None
        self._lock_note: tuple[int, int] | None = None
        # Every record set aside, from every quarantine file: {"table", "doc_id", "field", "reason", "file"}.
        self.quarantined: list[dict] = []
        try:
            # New folders are private: the data file holds token hashes and who is mailed.
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"cannot create data folder {self.data_dir}: {error.strerror}") from None
        if not readonly:
            self._take_folder_lock()
        try:
            if not readonly:
                self._remove_stale_temp_files(self.data_dir, TEMP_PREFIX)
            self._storage = AtomicJSONStorage(self.data_dir / DATA_FILE)
            self._storage.load()
            # Quarantine first: when its file cannot be written, start-up stops with the data file untouched.
            self._set_aside_malformed_records()
            self._migrate()
            self._db = TinyDB(storage=lambda: self._storage)
        except BaseException:
            self.close()
            raise
        self._collections: dict[str, Collection] = {}

    @property
    def data_file(self) -> Path:
        """Path of the TinyDB data file."""
        return self._storage.path

    def _migrate(self) -> None:
        """Bring an older data file to SCHEMA, first keeping a copy of it beside; refuse a newer one."""
        tables = self._storage.tables()
        version = check_schema(tables, self.data_file)
        if version == SCHEMA or self.readonly:
            return
        if self.data_file.exists():
            kept = f"{DATA_FILE}.schema{version}"
            write_file(self.data_dir, kept, self.data_file.read_bytes())
            log.warning("data file %s is schema version %d; a copy was kept as %s before migrating it to %d",
                        self.data_file, version, kept, SCHEMA)
        # 1 -> 2 only adds META_TABLE; later steps would transform the tables here, oldest first.
        self._storage.flush({**tables, META_TABLE: meta_table()})

    def snapshot(self) -> bytes:
        """Return the data file's content as last written, under the store lock: one consistent backup."""
        with self._lock:
            return json.dumps(self._storage.committed(), separators=(",", ":")).encode("ascii")

    def restore(self, content: bytes, source: Path) -> Path:
        """Replace the data file with a checked backup, keeping the current file beside; return where."""
        with self.write_lock():
            check_backup(content, source)
            kept = f"{DATA_FILE}.before-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
            if self.data_file.exists():
                write_file(self.data_dir, kept, self.data_file.read_bytes())
            write_file(self.data_dir, DATA_FILE, content)
            fsync_folder(self.data_dir)
            return self.data_dir / kept

    @property
    def write_failure(self) -> str | None:
        """Why the data folder refused the last write, or None once a write has succeeded since."""
        return self._storage.failure

    def collection(self, name: str) -> Collection:
        """Return the collection (table) with this name."""
        with self._lock:
            if name not in self._collections:
                self._collections[name] = Collection(self, name)
            return self._collections[name]

    @contextlib.contextmanager
    def write_lock(self):
        """Hold the store lock for a write; refuse writes on a read-only store."""
        if self.readonly:
            raise StorageError("this store was opened read-only")
        with self._lock:
            yield

    @contextlib.contextmanager
    def batch(self):
        """Group writes into one atomic file write; on any error none of them is kept."""
        with self.write_lock():
            if self._storage.deferred:
                yield
                return
            self._storage.deferred = True
            try:
                yield
            except BaseException:
                self._storage.end_batch(commit=False)
                self._forget_snapshots()
                raise
            try:
                self._storage.end_batch(commit=True)
            except WriteFailed:
                self._forget_snapshots()
                raise

    def _forget_snapshots(self) -> None:
        for collection in self._collections.values():
            collection._forget()

    def _take_folder_lock(self) -> None:
        # The lock is on the folder itself, not on the lock file: a lock file can be deleted while we hold
        # it, and the next process would lock a new file of the same name and start beside us. A folder
        # that holds the data file cannot be removed, and renaming it moves our lock with it. The lock
        # file only tells the next process who holds the folder.
        try:
            fd = os.open(self.data_dir, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as error:
            raise StorageError(f"cannot open data folder {self.data_dir}: {error.strerror}") from None
        try:
            check_private_folder(fd, self.data_dir)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataFolderBusy(
                f"data folder {self.data_dir} is in use by another scimwatch process (pid {self._holder()}); "
                "stop it first, or point SCIMWATCH_DATA_DIR elsewhere"
            ) from None
        except OSError as error:
            os.close(fd)
            raise StorageError(f"cannot lock data folder {self.data_dir}: {error.strerror}") from None
        except BaseException:
            os.close(fd)
            raise
        self._folder_fd = fd
        path = self.data_dir / LOCK_FILE
        try:
            # Replaced, never opened for writing: a link or hard link planted under this name is not written through.
            write_file(self.data_dir, LOCK_FILE, str(os.getpid()).encode())
            written = os.lstat(path)
        except OSError as error:
            self.close()
            raise StorageError(f"cannot write lock file {path}: {error.strerror}") from None
        self._lock_note = (written.st_dev, written.st_ino)

    def _holder(self) -> str:
        """Return the pid written in the lock file, or "unknown"."""
        try:
            text = (read_regular_file(self.data_dir / LOCK_FILE, "lock file", limit=20) or b"").decode("ascii").strip()
        except (StorageError, UnicodeDecodeError):
            return "unknown"
        return text if text.isdigit() else "unknown"

    @staticmethod
    def _remove_stale_temp_files(folder: Path, prefix: str) -> None:
        # A crash can leave a half-written temp file; it was never renamed, so it holds nothing acknowledged.
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            if entry.name == OLD_TEMP_FILE or (entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX)):
                if entry.is_file(follow_symlinks=False):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                else:
                    log.warning("left %s alone: it is named like a temp file but is not a regular file", entry.path)

    def _set_aside_malformed_records(self) -> None:
        """Move records that break the table rules out of the loaded tables and into a quarantine file.

        1. Sort every table into good and bad records (server/domain/records.py).
        2. Write the bad ones, whole, to a new file in quarantine/ and make it durable.
        3. Only then rewrite the data file without them, so a crash between the two loses nothing.
        A read-only store only leaves them out of memory; the next owner of the folder sets them aside.
        """
        tables, found = {}, []
        for name, table in self._storage.tables().items():
            tables[name], bad = records.sort_out(name, table)
            found += [(name, *entry) for entry in bad]
        file = None
        if found and self.readonly:
            self._storage.use(tables)
        elif found:
            file = self._write_quarantine(found)
            self._storage.flush(tables)
        for table, doc_id, _, field, reason in found:
            where = f"it was moved to {file}; fix it, add it again and delete that file" if file else \
                "it is skipped; the next start of the server sets it aside"
            log.warning("malformed record in the data file: table %s, doc id %r, %s: %s; %s", table, doc_id[:40],
                        f"field {field}" if field else "the record as a whole", reason, where)
        self.quarantined = self._read_quarantine() + [
            {"table": table, "doc_id": doc_id, "field": field, "reason": reason, "file": None}
            for table, doc_id, _, field, reason in (found if self.readonly else [])]

    def _write_quarantine(self, found: list) -> Path:
        folder = self.data_dir / QUARANTINE_FOLDER
        now = datetime.now(UTC)
        name = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}.json"
        entries = [{"table": table, "doc_id": doc_id, "field": field, "reason": reason,
                    "quarantined_at": format_time(now), "record": record}
                   for table, doc_id, record, field, reason in found]
        try:
            try:
                os.mkdir(folder, 0o700)
                fsync_folder(self.data_dir)
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
                f"data file {self.data_file} holds {len(found)} malformed record(s) and they cannot be set aside "
                f"in {folder} ({reason}); nothing was changed: fix that folder, or the records by hand") from None
        return folder / name

    def _read_quarantine(self) -> list[dict]:
        """Return every entry of every quarantine file; a file that does not read back counts as one entry."""
        folder = self.data_dir / QUARANTINE_FOLDER
        try:
            names = sorted(os.listdir(folder))
        except FileNotFoundError:
            return []
        except OSError as error:
            return [{"table": None, "doc_id": None, "field": None, "file": str(folder),
                     "reason": f"the quarantine folder cannot be read: {error.strerror}"}]
        if not self.readonly:
            self._remove_stale_temp_files(folder, ".")
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

    def close(self) -> None:
        """Release the folder lock and remove the lock file it wrote."""
        if self._folder_fd is None:
            return
        path = self.data_dir / LOCK_FILE
        with contextlib.suppress(OSError):
            found = os.lstat(path)
            # Still holding the lock, so no other process can have written it since; but a person might have.
            if (found.st_dev, found.st_ino) == self._lock_note:
                os.unlink(path)
        os.close(self._folder_fd)
        self._folder_fd = None
