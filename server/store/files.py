"""Files in the data folder: read without following links, replaced whole, made durable; the folder's errors."""
from __future__ import annotations

import contextlib
import errno
import os
import pwd
import stat
import tempfile
from pathlib import Path

# Temp files are `.<name>.<random>.tmp`; a crash may leave one behind, never renamed, so holding nothing acknowledged.
TEMP_SUFFIX = ".tmp"
_FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))
_WRITE_REASONS = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
                  errno.EACCES: "permission denied", errno.EDQUOT: "the disk quota is exceeded"}


class StorageError(Exception):
    """The data folder cannot be used; the message says why and what to do."""


class DataFolderBusy(StorageError):
    """Another process holds the data folder's lock."""


class WriteFailed(StorageError):
    """A write did not reach the disk; the stored data is unchanged."""


def write_reason(error: OSError) -> str:
    """Say in words why a write failed."""
    return _WRITE_REASONS.get(error.errno or 0, error.strerror or str(error))


def refuse_irregular(fd: int, path: Path, what: str) -> None:
    """Close `fd` and raise StorageError unless it is a regular file."""
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a file")
        raise StorageError(f"{what} {path} is not a regular file (it is {kind}); move it away")


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
    refuse_irregular(fd, path, what)
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
