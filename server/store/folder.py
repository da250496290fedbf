"""The data folder's lock (one process owns the folder) and the temp files a crash left in it."""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path

from .files import TEMP_SUFFIX, DataFolderBusy, StorageError, check_private_folder, read_regular_file, write_file

log = logging.getLogger(__name__)

LOCK_FILE = "scimwatch.lock"


class FolderLock:
    """An exclusive flock on the data folder, and the lock file that tells the next process who holds it."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._fd: int | None = None
        self._note: tuple[int, int] | None = None

    def take(self) -> None:
        """Lock the folder or raise DataFolderBusy naming the pid that holds it."""
        # The lock is on the folder itself, not on the lock file: a lock file can be deleted while we hold
        # it, and the next process would lock a new file of the same name and start beside us. A folder
        # that holds the data file cannot be removed, and renaming it moves our lock with it.
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
        self._fd = fd
        path = self.data_dir / LOCK_FILE
        try:
            # Replaced, never opened for writing: a link or hard link planted under this name is not written through.
            write_file(self.data_dir, LOCK_FILE, str(os.getpid()).encode())
            written = os.lstat(path)
        except OSError as error:
            self.release()
            raise StorageError(f"cannot write lock file {path}: {error.strerror}") from None
        self._note = (written.st_dev, written.st_ino)

    def _holder(self) -> str:
        """Return the pid written in the lock file, or "unknown"."""
        try:
            text = (read_regular_file(self.data_dir / LOCK_FILE, "lock file", limit=20) or b"").decode("ascii").strip()
        except (StorageError, UnicodeDecodeError):
            return "unknown"
        return text if text.isdigit() else "unknown"

    @property
    def held(self) -> bool:
        """Whether this process holds the folder."""
        return self._fd is not None

    def release(self) -> None:
        """Release the folder and remove the lock file it wrote."""
        if self._fd is None:
            return
        path = self.data_dir / LOCK_FILE
        with contextlib.suppress(OSError):
            found = os.lstat(path)
            # Still holding the lock, so no other process can have written it since; but a person might have.
            if (found.st_dev, found.st_ino) == self._note:
                os.unlink(path)
        os.close(self._fd)
        self._fd = None


def remove_stale_temp_files(folder: Path, prefix: str, old_names: tuple[str, ...] = ()) -> None:
    """Delete temp files a crash left (never renamed, so holding nothing acknowledged); leave links alone."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name in old_names or (entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX)):
            if entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
            else:
                log.warning("left %s alone: it is named like a temp file but is not a regular file", entry.path)
