"""The data folder: the only module that touches TinyDB.

One process owns the folder (lock file). Every table operation runs under one
lock, every write replaces the data file atomically (temp file, fsync, rename),
and readers get frozen snapshots that cannot change the stored documents.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import threading
from pathlib import Path
from types import MappingProxyType
from typing import TextIO

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document

log = logging.getLogger(__name__)

DATA_FILE = "scimwatch.json"
LOCK_FILE = "scimwatch.lock"


class StorageError(Exception):
    """The data folder cannot be used; the message says why and what to do."""


class DataFolderBusy(StorageError):
    """Another process holds the data folder's lock."""


class WriteFailed(StorageError):
    """A write did not reach the disk; the stored data is unchanged."""


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

    def load(self) -> None:
        """Read and parse the data file once; refuse a file that does not parse."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._data = {}
            return
        except (OSError, UnicodeDecodeError) as error:
            raise StorageError(f"cannot read data file {self.path}: {error}") from None
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
                raise ValueError("top level must be an object of tables")
        except ValueError as error:
            raise StorageError(
                f"data file {self.path} does not parse ({error}); scimwatch will not start and will not "
                "overwrite it: restore it from a backup or move it away"
            ) from None
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
        """Write `data` to a temp file, fsync it, rename it over the data file and fsync the folder."""
        temp = self.path.with_name(self.path.name + ".tmp")
        try:
            text = self._encode(data)
            with open(temp, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except OSError as error:
            with contextlib.suppress(OSError):
                temp.unlink()
            reason = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
                      errno.EACCES: "permission denied", errno.EDQUOT: "the disk quota is exceeded"}.get(
                error.errno or 0, error.strerror or str(error))
            raise WriteFailed(f"could not write data file {self.path}: {reason}; nothing was changed") from None
        # The rename has happened: memory must follow the file even if making the rename durable fails.
        self._data = data
        try:
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
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
            self._snapshot = None
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
    """The data folder: lock file, TinyDB file and one collection per table."""

    def __init__(self, data_dir, *, readonly: bool = False):
        self.data_dir = Path(data_dir)
        self.readonly = readonly
        self._lock = threading.RLock()
        self._lock_handle: TextIO | None = None
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"cannot create data folder {self.data_dir}: {error.strerror}") from None
        if not readonly:
            self._take_folder_lock()
        self._storage = AtomicJSONStorage(self.data_dir / DATA_FILE)
        try:
            self._storage.load()
            self._db = TinyDB(storage=lambda: self._storage)
        except BaseException:
            self.close()
            raise
        self._collections: dict[str, Collection] = {}

    @property
    def data_file(self) -> Path:
        """Path of the TinyDB data file."""
        return self._storage.path

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
        path = self.data_dir / LOCK_FILE
        try:
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held open for the server's life)
        except OSError as error:
            raise StorageError(f"cannot open lock file {path}: {error.strerror}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise DataFolderBusy(
                f"data folder {self.data_dir} is in use by another scimwatch process (pid {holder}); "
                "stop it first, or point SCIMWATCH_DATA_DIR elsewhere"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle
        # A crash can leave a half-written temp file; it was never renamed, so it holds nothing acknowledged.
        with contextlib.suppress(OSError):
            (self.data_dir / (DATA_FILE + ".tmp")).unlink()

    def close(self) -> None:
        """Release the folder lock."""
        if self._lock_handle is not None:
            with contextlib.suppress(OSError):
                self._lock_handle.seek(0)
                self._lock_handle.truncate()
            self._lock_handle.close()
            self._lock_handle = None
