"""Key records mirrored from Atlassian's API Access lists, and directories with no recorded SCIM expiry
(DESIGN §16). Pure, no I/O: server/sync/ fetches, this decides what the records become."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from . import keys
from .times import format_time

ATLASSIAN = "atlassian"


@dataclass(frozen=True)
class UpstreamKey:
    """An org admin API key or a user API token as Atlassian lists it (already checked and trimmed)."""

    upstream_id: str
    label: str
    expires_at: str
    owner_email: str | None = None


@dataclass(frozen=True)
class Directory:
    """A directory of an org, as the Organizations API lists it."""

    directory_id: str
    name: str


def _mirrored_fields(org_id: str, kind: str, item: UpstreamKey) -> dict:
    """Return the key fields a sync owns for one upstream key (checked like any input)."""
    label = item.label
    if kind == "api_token" and item.owner_email:
        label = f"{label} ({item.owner_email})" if label else item.owner_email
    return keys.check_fields({"org_id": org_id, "kind": kind, "label": label[:keys.SHORT_TEXT_LIMIT],
                              "expires_at": item.expires_at}, partial=False)


def merge(existing: Iterable[Mapping], org_id: str, kind: str, listed: Iterable[UpstreamKey],
          now: datetime) -> list[dict]:
    """Return the records to write so the org's `kind` records mirror a complete upstream list.

    New upstream keys become records (`source: "atlassian"`, the owner of a token as its default
    recipient); a listed key's label and expiry follow upstream while everything else people edited
    (recipients, thresholds, notes) stays; a record whose key is no longer listed is kept and marked
    `removed_upstream`, and unmarked if it comes back. Raises keys.ValidationError for an item that
    breaks the key rules.
    """
    mirrored = {record["upstream_id"]: record for record in existing
                if record.get("source") == ATLASSIAN and record["org_id"] == org_id
                and record.get("kind") == kind and record.get("upstream_id")}
    stamp = format_time(now)
    changes, seen = [], set()
    for item in {item.upstream_id: item for item in listed}.values():
        seen.add(item.upstream_id)
        fields = _mirrored_fields(org_id, kind, item)
        record = mirrored.get(item.upstream_id)
        if record is None:
            notify = [item.owner_email] if kind == "api_token" and item.owner_email else []
            fields["notify"] = keys.check_fields({"notify": notify}, partial=True)["notify"]
            changes.append(keys.new_key(fields, now, source=ATLASSIAN, upstream_id=item.upstream_id))
            continue
        owned = {name: fields[name] for name in ("label", "expires_at")}
        if record.get("removed_upstream") or any(record.get(name) != value for name, value in owned.items()):
            changed = keys.updated_key(keys.plain_copy(record), owned, now)
            changed["removed_upstream"] = False
            changes.append(changed)
    for upstream_id, record in mirrored.items():
        if upstream_id not in seen and not record.get("removed_upstream"):
            changes.append({**keys.plain_copy(record), "removed_upstream": True, "updated_at": stamp})
    return changes


def untracked(org_id: str, directories: Iterable[Directory], records: Iterable[Mapping]) -> list[dict]:
    """Return the org's directories that no SCIM key record names (by directory id, or name ignoring case)."""
    ids, names = set(), set()
    for record in records:
        if record["org_id"] == org_id and record.get("kind", "scim") == "scim":
            ids.add(record.get("directory_id") or None)
            names.add((record.get("directory_name") or "").casefold() or None)
    return [{"org_id": org_id, "directory_id": directory.directory_id, "name": directory.name}
            for directory in directories
            if directory.directory_id not in ids and directory.name.casefold() not in names]

