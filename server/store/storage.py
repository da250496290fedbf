"""The data folder's tables: the only module that touches TinyDB.

One process owns the folder (folder.py). Every table operation runs under one lock, and readers get frozen
snapshots that cannot change the stored documents. A write appends the documents it changed to the journal
and fsyncs it before it returns (journal.py); the data file is rewritten whole (a new private temp file,
fsync, rename) only at start-up, at a clean stop and when the journal outgrows a quarter of it. Nothing in
the folder is followed through a link or written in place, and malformed records are set aside in
`quarantine/` at load.
"""
from __future__ import annotations

import contextlib
import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import cast

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

from .files import StorageError, WriteFailed, fsync_folder, read_regular_file, write_file, write_reason
from .folder import FolderLock, remove_stale_temp_files
from .journal import JOURNAL_FILE, Journal, entry
from .quarantine import set_aside
from .schema import META_TABLE, SCHEMA, check_backup, check_schema, meta_table, parse_tables

log = logging.getLogger(__name__)

DATA_FILE = "scimwatch.json"
# Temp files are `.scimwatch.json.<random>.tmp` (and `.scimwatch.journal…`, `.scimwatch.lock…`); before
# issue 16 the data file's one fixed temp name was `scimwatch.json.tmp`, which a crash may have left behind.
TEMP_PREFIX = ".scimwatch."
OLD_TEMP_FILE = DATA_FILE + ".tmp"
# The data file is rewritten once the journal holds more than this share of its size (and at least
# COMPACT_FLOOR bytes): the rewrite's cost spread over the writes that filled the journal stays the same
# per write at any size, and the folder holds at most 1.25 times the data.
COMPACT_SHARE = 4
COMPACT_FLOOR = 256 * 1024
_MISSING = object()


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


class _TableEdit:
    """One stored table as TinyDB's write steps see it (int doc ids), noting each document's value before."""

    def __init__(self, table: dict):
        self.table = table
        self.before: dict = {}

    def __contains__(self, doc_id) -> bool:
        return str(doc_id) in self.table

    def __setitem__(self, doc_id, document) -> None:
        key = str(doc_id)
        self.before.setdefault(key, self.table.get(key, _MISSING))
        self.table[key] = document

    def __delitem__(self, doc_id) -> None:
        key = str(doc_id)
        self.before.setdefault(key, self.table.get(key, _MISSING))
        del self.table[key]

    pop = __delitem__


class JournaledTable(Table):
    """A TinyDB table whose writes change the stored table in place and hand the storage only what changed."""

    def _update_table(self, updater) -> None:
        # TinyDB's own step rebuilds the whole table and hands its storage the whole database (its storage
        # interface only reads and writes everything), which makes one write cost as much as the store's size.
        storage = cast(JournaledStorage, self._storage)
        edit = _TableEdit(storage.table(self.name))
        try:
            updater(edit)
        except BaseException:
            storage.undo({(self.name, doc_id): before for doc_id, before in edit.before.items()})
            raise
        storage.changed(self.name, edit.before)
        self.clear_cache()


class JournaledStorage(Storage):
    """TinyDB storage over the data file and its journal: the tables live in memory, each write is one line."""

    def __init__(self, folder: Path):
        self.path = folder / DATA_FILE
        self.journal = Journal(folder / JOURNAL_FILE)
        self._data: dict = {}
        # (table, doc id) -> the document before the write in progress (_MISSING: there was none).
        self._before: dict = {}
        self.deferred = False
        # Per table, doc id -> (document, its JSON). Documents are never changed in place (Collection
        # replaces them), so a document that is still the same object still has the same JSON.
        self._encoded: dict[str, dict] = {}
        self._snapshot_size = 0
        self._compact_after = 0
        # Why the last write was refused, until a write succeeds again (/healthz fails meanwhile).
        self.failure: str | None = None

    def load(self) -> int:
        """Read the data file and replay its journal; return the data file's schema version."""
        content = read_regular_file(self.path, "data file")
        self._data = parse_tables(content, self.path) if content is not None else {}
        self._snapshot_size = len(content or b"")
        version = check_schema(self._data, self.path)
        # An older data file has no journal: one found beside it names another data file and is not applied.
        self.journal.replay(content, self._data)
        return version

    def tables(self) -> dict:
        """Return the current tables without copying (callers must not mutate)."""
        return self._data

    def use(self, data: dict) -> None:
        """Replace the loaded tables in memory only, leaving the folder as it is (compact() writes them)."""
        self._data = data
        self.journal.usable = False

    def table(self, name: str) -> dict:
        """Return one stored table for changing in place (JournaledTable only)."""
        return self._data.setdefault(name, {})

    def read(self):
        return self._data

    def write(self, data) -> None:
        raise NotImplementedError("scimwatch writes go through JournaledTable, one changed document at a time")

    def changed(self, name: str, before: dict) -> None:
        """Note documents one table operation changed; write them now unless a batch is open."""
        for doc_id, document in before.items():
            self._before.setdefault((name, doc_id), document)
        if not self.deferred:
            self.commit()

    def undo(self, before: dict) -> None:
        """Put documents back as they were before a write that is not kept."""
        for (name, doc_id), document in before.items():
            table = self._data.setdefault(name, {})
            if document is _MISSING:
                table.pop(doc_id, None)
            else:
                table[doc_id] = document

    def commit(self) -> None:
        """Make the changed documents durable (one journal line) or, failing that, put them back and raise."""
        before, self._before = self._before, {}
        if not before:
            return
        changes: dict = {}
        for name, doc_id in before:
            changes.setdefault(name, {})[doc_id] = self._data.get(name, {}).get(doc_id)
        appending = self.journal.usable
        try:
            if appending:
                self.journal.append(entry(changes))
            else:
                self.compact()
        except WriteFailed:
            self.undo(before)
            raise
        except (OSError, StorageError) as error:
            self.undo(before)
            self.failure = (f"could not write journal {self.journal.path}: {write_reason(error)}"
                            if isinstance(error, OSError) else str(error))
            raise WriteFailed(f"{self.failure}; nothing was changed") from None
        self.failure = None
        if self.journal.size > max(self._snapshot_size // COMPACT_SHARE, COMPACT_FLOOR, self._compact_after):
            self._compact_in_passing()

    def _compact_in_passing(self) -> None:
        # The write is already durable in the journal; a rewrite that fails now is tried again later.
        try:
            self.compact()
        except WriteFailed as error:
            self.failure = None
            self._compact_after = self.journal.size + COMPACT_FLOOR
            log.warning("the journal could not be folded into the data file (%s); writes go on in the journal",
                        error)

    def compact(self) -> None:
        """Rewrite the data file whole from memory, then start an empty journal after it.

        Raises WriteFailed only when the data file could not be replaced; the folder is then as it was.
        """
        content = self.encode().encode("ascii")
        try:
            write_file(self.path.parent, self.path.name, content)
        except OSError as error:
            self.failure = f"could not write data file {self.path}: {write_reason(error)}"
            raise WriteFailed(f"{self.failure}; nothing was changed") from None
        self._snapshot_size = len(content)
        self._compact_after = 0
        try:
            # The new data file must be durable before the journal that held its changes is replaced.
            fsync_folder(self.path.parent)
            self.journal.start(content)
        except OSError as error:
            # The data file holds every write, so nothing is lost; but the old journal continues the old
            # data file, so nothing may be appended to it again: the next write rewrites the data file.
            self.journal.usable = False
            log.warning("data file %s was rewritten but a new journal could not be started (%s); the next "
                        "write rewrites the data file again", self.path, write_reason(error))

    def encode(self) -> str:
        """Return the tables as the data file's JSON, encoding only the documents that changed since last time."""
        tables = []
        for name, table in self._data.items():
            known = self._encoded.get(name, {})
            encoded = {}
            for doc_id, document in table.items():
                cached = known.get(doc_id)
                if cached is None or cached[0] is not document:
                    cached = (document, json.dumps(document, separators=(",", ":")))
                encoded[doc_id] = cached
            self._encoded[name] = encoded
            # TinyDB's doc ids are decimal strings, so they need no escaping.
            documents = ",".join(f'"{doc_id}":{cached[1]}' for doc_id, cached in encoded.items())
            tables.append(f"{json.dumps(name)}:{{{documents}}}")
        return "{" + ",".join(tables) + "}"

    def end_batch(self, commit: bool) -> None:
        """Leave deferred mode, writing the batch's changes as one line, or putting them back."""
        self.deferred = False
        if commit:
            self.commit()
        else:
            before, self._before = self._before, {}
            self.undo(before)

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
        self._last_doc_id = 0
        self._generation = 0

    def _index(self) -> dict:
        if self._snapshot is None:
            raw = self._store._storage.tables().get(self._name, {})
            self._snapshot = {doc["id"]: freeze(doc) for doc in raw.values()}
            self._doc_ids = {doc["id"]: int(doc_id) for doc_id, doc in raw.items()}
            self._last_doc_id = max(self._doc_ids.values(), default=0)
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
            # Numbered here: TinyDB would find the highest doc id by reading the whole table after every replace.
            self._table.insert(Document(thaw(document), doc_id=self._last_doc_id + 1))
            self._last_doc_id += 1
            self._doc_ids[document["id"]] = self._last_doc_id
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
        """Insert or replace many documents by `id` in one atomic write."""
        incoming = {document["id"]: document for document in documents}
        # One TinyDB operation per kind, not per document, and the snapshot is updated in place: the
        # reminder burst saves its outcomes this way every 100 ms, so this must not cost the table's size.
        with self._store.batch():
            snapshot = self._index()
            existing = [self._doc_ids[doc_id] for doc_id in incoming if doc_id in self._doc_ids]
            if existing:
                self._table.remove(doc_ids=existing)
            for doc_id in incoming:
                if doc_id not in self._doc_ids:
                    self._last_doc_id += 1
                    self._doc_ids[doc_id] = self._last_doc_id
            self._table.insert_multiple(Document(thaw(document), doc_id=self._doc_ids[doc_id])
                                        for doc_id, document in incoming.items())
            # tinydb 4.9's insert_multiple keeps the table's cached next doc id even when the documents
            # carry their own; Collection numbers documents itself, so forget it.
            self._table._next_id = None
            for doc_id, document in incoming.items():
                snapshot[doc_id] = freeze(document)
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
    """The data folder: its lock, the data file and journal, one collection per table, the quarantined records."""

    def __init__(self, data_dir, *, readonly: bool = False):
        self.data_dir = Path(data_dir)
        self.readonly = readonly
        self._lock = threading.RLock()
        self._folder = FolderLock(self.data_dir)
        self._storage = JournaledStorage(self.data_dir)
        # Every record set aside, from every quarantine file: {"table", "doc_id", "field", "reason", "file"}.
        self.quarantined: list[dict] = []
        # Only a store that opened whole folds its journal at close: never a half-replayed one.
        self._opened = False
        try:
            # New folders are private: the data file holds token hashes and who is mailed.
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"cannot create data folder {self.data_dir}: {error.strerror}") from None
        if not readonly:
            self._folder.take()
        try:
            if not readonly:
                remove_stale_temp_files(self.data_dir, TEMP_PREFIX, (OLD_TEMP_FILE,))
            version = self._storage.load()
            # Quarantine first: when its file cannot be written, start-up stops with the data file untouched.
            kept, self.quarantined = set_aside(self._storage.tables(), self.data_dir, self.data_file, readonly)
            if kept is not None:
                self._storage.use(kept)
            self._migrate(version)
            if not readonly and (not self._storage.journal.usable or self._storage.journal.entries):
                self._fold_journal_at_start()
            self._db = TinyDB(storage=lambda: self._storage)
            self._db.table_class = JournaledTable
        except BaseException:
            self.close()
            raise
        self._collections: dict[str, Collection] = {}
        self._opened = True

    def _fold_journal_at_start(self) -> None:
        try:
            self._storage.compact()
        except WriteFailed as error:
            # A journal that still continues the data file keeps taking writes: serve rather than stop.
            # Set-aside records or a migration must reach the data file first, as before the journal.
            if not self._storage.journal.usable:
                raise
            log.warning("the journal could not be folded into the data file at start (%s); writes go on in "
                        "the journal", error)

    @property
    def data_file(self) -> Path:
        """Path of the data file (the snapshot the journal continues)."""
        return self._storage.path

    def _migrate(self, version: int) -> None:
        """Bring an older data file to SCHEMA, first keeping a copy of it beside; an older one has no journal."""
        if version == SCHEMA or self.readonly:
            return
        if self.data_file.exists():
            kept = f"{DATA_FILE}.schema{version}"
            write_file(self.data_dir, kept, self.data_file.read_bytes())
            log.warning("data file %s is schema version %d; a copy was kept as %s before migrating it to %d",
                        self.data_file, version, kept, SCHEMA)
        # 1 -> 2 added META_TABLE and 2 -> 3 the journal (written at the next compaction): no table changes.
        # Later steps would transform the tables here, oldest first.
        self._storage.use({**self._storage.tables(), META_TABLE: meta_table()})

    def snapshot(self) -> bytes:
        """Return every acknowledged write as one data file, under the store lock: one consistent backup."""
        with self._lock:
            return self._storage.encode().encode("ascii")

    def restore(self, content: bytes, source: Path) -> Path:
        """Replace the data file with a checked backup, keeping the current one beside; return where."""
        with self.write_lock():
            check_backup(content, source)
            # Opening the store folded the journal into the data file, so the data file alone is the old state.
            kept = f"{DATA_FILE}.before-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
            if self.data_file.exists():
                write_file(self.data_dir, kept, self.data_file.read_bytes())
            write_file(self.data_dir, DATA_FILE, content)
            fsync_folder(self.data_dir)
            self._storage.journal.remove()
            fsync_folder(self.data_dir)
            # Memory still holds the state before; the next start reads the restored file.
            self.readonly = True
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
        """Group writes into one journal line; on any error none of them is kept."""
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

    def close(self) -> None:
        """Fold the journal into the data file, then release the folder lock and remove the lock file."""
        if not self._folder.held:
            return
        if self._opened and not self.readonly and self._storage.journal.entries:
            with self._lock:
                try:
                    self._storage.compact()
                except WriteFailed as error:
                    log.warning("the journal was kept as it is: %s", error)
        self._folder.release()


def stored_tables(data_dir) -> dict:
    """Return the tables on disk (the data file and its journal) as the next start would load them."""
    storage = JournaledStorage(Path(data_dir))
    storage.load()
    return storage.tables()
