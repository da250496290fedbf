"""Secrets kept in the data folder (the admin UI's session key): made once, mode 0600, never logged."""
from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from .storage import StorageError

SECRET_BYTES = 32


def folder_secret(data_dir: Path, name: str) -> bytes:
    """Return the secret stored as `data_dir/name`, creating it on first use.

    The file is written whole to a temp file first and linked into place, so it appears complete or
    not at all, and a second creator finds the first one's secret rather than replacing it.
    """
    path = Path(data_dir) / name
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(SECRET_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    except OSError as error:
        raise StorageError(f"cannot create {path}: {error.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    return _read(path)


def _read(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeError) as error:
        raise StorageError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    if len(text) < SECRET_BYTES:
        raise StorageError(f"{path} holds no usable secret; delete it and restart to make a new one")
    return text.encode("ascii")
