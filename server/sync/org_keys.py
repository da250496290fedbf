"""The org admin API keys the sync uses: a file of ORG_ID=ORG_ADMIN_API_KEY lines, never copied elsewhere."""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..domain.words import counted

# The org id is the one in admin.atlassian.com/o/{org_id}/ and it goes into API paths.
_ORG_ID = re.compile(r"[A-Za-z0-9._~-]{1,200}\Z")
_FORMAT = "expected ORG_ID=ORG_ADMIN_API_KEY (the org id from admin.atlassian.com/o/{org_id}/, then =, then the key)"


class KeysFileError(ValueError):
    """The keys file cannot be used; the message names the file and the line, never a key."""


@dataclass(frozen=True)
class OrgKeys:
    """The keys file's org ids (in file order) and keys; shown anywhere, it names the orgs and never a key."""

    path: Path
    keys: dict[str, str] = field(repr=False)
    # True when the group or others may read the file: start-up warns.
    readable_by_others: bool = False

    @property
    def org_ids(self) -> list[str]:
        """Return the configured org ids in the order of the file."""
        return list(self.keys)

    def __str__(self) -> str:
        return f"{self.path} ({counted(len(self.keys), 'org')})"


def read_keys_file(path: Path) -> OrgKeys:
    """Read and check the keys file; raise KeysFileError naming the file and line of the first problem."""
    try:
        with open(path, encoding="utf-8") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            lines = handle.read().splitlines()
    except OSError as error:
        raise KeysFileError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise KeysFileError(f"{path} is not UTF-8 text") from None
    if not stat.S_ISREG(mode):
        raise KeysFileError(f"{path} is not a regular file")
    found: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        # Nothing from the line goes into a message: a line with its parts swapped would show the key.
        org_id, separator, key = (part.strip() for part in text.partition("="))
        if not separator or not _ORG_ID.match(org_id) or not key or any(char.isspace() for char in key):
            raise KeysFileError(f"{path} line {number}: {_FORMAT}")
        if org_id in found:
            raise KeysFileError(f"{path} line {number}: this org id was already given on an earlier line")
        found[org_id] = key
    return OrgKeys(Path(path), found, readable_by_others=bool(mode & (stat.S_IRGRP | stat.S_IROTH)))
