"""Key registry: the operations on key records shared by the HTTP API and the CLI."""
from __future__ import annotations

import bisect
import builtins
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..domain import jsontext, keys, observations
from ..domain.banners import at_least, banner_payload, summary
from ..domain.times import DAY, format_time, parse_time
from .storage import Store, thaw

BANNER_HORIZON = 30 * DAY
# Cached banner lists, one per (org, directory) asked for; past this many the cache starts afresh.
BANNER_CACHE_LIMIT = 4096


class KeyNotFound(LookupError):
    """No key record has this id."""


class Registry:
    """Key records in the store, with an expiry index for banners."""

    def __init__(self, store: Store):
        self.store = store
        self.keys = store.collection("keys")
        self._index_lock = threading.Lock()
        self._index_generation = -1
        self._by_expiry: list = []
        self._by_org: dict[str, list] = {}
        self._banner_cache: dict = {}
        # Set when SCIMWATCH_PUBLIC_URL is: (key, purpose) -> a signed one-click link (§15).
        self.link_for: Callable[[Mapping, str], str] | None = None
        # Banners carry rotate_url only when a token guards them: public banners would hand the link to anyone.
        self.banner_links = False
        # The tags of SCIMWATCH_APPRISE_CONFIG that a key's `channels` may name.
        self.channel_tags: frozenset[str] = frozenset()

    def list(self, org_id: str | None = None) -> builtins.list[dict]:
        """Return key records, soonest expiry first, optionally of one org."""
        records = self._sorted(org_id)
        return [thaw(record) for record in records]

    def get(self, key_id: str) -> dict:
        """Return one key record or raise KeyNotFound."""
        record = self.keys.get(key_id)
        if record is None:
            raise KeyNotFound(key_id)
        return thaw(record)

    def add(self, data, now: datetime) -> dict:
        """Validate and store a new key record; return it."""
        record = keys.new_key(keys.check_fields(data, partial=False, known_tags=self.channel_tags), now)
        self.keys.insert(record)
        return record

    def update(self, key_id: str, data, now: datetime) -> dict:
        """Validate and apply a partial update; return the new record."""
        fields = keys.check_fields(data, partial=True, known_tags=self.channel_tags)
        with self.store.write_lock():
            record = keys.updated_key(self.get(key_id), fields, now)
            if not self.keys.replace(record):
                raise KeyNotFound(key_id)
        return record

    def rotate(self, key_id: str, data, now: datetime) -> dict:
        """Record a rotation (new expiry, history entry); return the new record."""
        rotated_at, expires_at = keys.check_rotation(data, now)
        with self.store.write_lock():
            record = keys.rotated_key(self.get(key_id), rotated_at, expires_at, now)
            if not self.keys.replace(record):
                raise KeyNotFound(key_id)
        return record

    def observe(self, data, now: datetime) -> tuple[str, dict]:
        """Record what a directory page showed (§13); return (result, the key record as stored)."""
        seen = observations.check_observation(data)
        with self.store.write_lock():
            match = observations.find_match(self.keys.all(), seen)
            result, record = observations.apply(None if match is None else thaw(match), seen, now)
            if match is None:
                self.keys.insert(record)
            elif not self.keys.replace(record):
                raise KeyNotFound(record["id"])
        return result, record

    def preview_observation(self, data) -> tuple[str, dict | None]:
        """Return what an observation would do (§13) and the key it matches as stored now; write nothing."""
        seen = observations.check_observation(data)
        match = observations.find_match(self.keys.all(), seen)
        return observations.result_for(match, seen), None if match is None else thaw(match)

    def acknowledge(self, key_id: str, data, now: datetime) -> dict:
        """Note who is on a key (§14); return the new record."""
        by = keys.check_acknowledgement(data)
        with self.store.write_lock():
            record = keys.acknowledged_key(self.get(key_id), by, now)
            if not self.keys.replace(record):
                raise KeyNotFound(key_id)
        return record

    def put_many(self, records: builtins.list[dict]) -> None:
        """Store many new or changed key records in one atomic file write."""
        self.keys.put_many(records)

    def remove(self, key_id: str) -> None:
        """Delete a key record or raise KeyNotFound."""
        if not self.keys.remove(key_id):
            raise KeyNotFound(key_id)

    def banners(self, now: datetime, org_id: str | None = None, directory_id: str | None = None,
                min_severity: str = "info") -> dict:
        """Return the banner payload for keys expiring within 30 days or already expired."""
        shown = at_least(self._current_banners(now, org_id, directory_id).banners, min_severity)
        return {"generated_at": format_time(now), "banners": shown, "summary": summary(shown)}

    def banners_json(self, now: datetime, org_id: str | None = None, directory_id: str | None = None,
                     min_severity: str = "info") -> str:
        """Return the banner payload as compact JSON text, encoding the banners once per change."""
        entry = self._current_banners(now, org_id, directory_id)
        if min_severity not in entry.json:
            shown = at_least(entry.banners, min_severity)
            entry.json[min_severity] = (jsontext.dumps(shown, separators=(",", ":")),
                                        jsontext.dumps(summary(shown), separators=(",", ":")))
        banners, summary_json = entry.json[min_severity]
        return f'{{"generated_at":"{format_time(now)}","banners":{banners},"summary":{summary_json}}}'

    def _current_banners(self, now: datetime, org_id: str | None, directory_id: str | None) -> _CachedBanners:
        # Banners only change when a record changes or a key crosses a whole day of its expiry, so a
        # computed list is reused until then; only `generated_at` is new on every call.
        # Read the generation before the records: an entry is never labelled newer than its data.
        generation = self.keys.generation
        entry = self._banner_cache.get((org_id, directory_id))
        if entry is None or entry.generation != generation or not entry.computed_at <= now < entry.valid_until:
            records = self._sorted(org_id)
            # Records are sorted by expires_at (RFC 3339 UTC strings sort in time order).
            cutoff = bisect.bisect_right(records, format_time(now + BANNER_HORIZON), key=lambda r: r["expires_at"])
            candidates = [r for r in records[:cutoff] if not directory_id or r.get("directory_id") == directory_id]
            next_arrival = parse_time(records[cutoff]["expires_at"]) - BANNER_HORIZON if cutoff < len(records) else None
            shown = banner_payload(candidates, now)["banners"]
            if self.link_for is not None and self.banner_links:
                by_id = {record["id"]: record for record in candidates}
                for banner in shown:
                    banner["rotate_url"] = self.link_for(by_id[banner["key_id"]], "rotate")
            entry = _CachedBanners(generation, now, _banners_valid_until(candidates, now, next_arrival), shown)
            if len(self._banner_cache) >= BANNER_CACHE_LIMIT:
                self._banner_cache = {}
            self._banner_cache[(org_id, directory_id)] = entry
        return entry

    def _sorted(self, org_id: str | None) -> builtins.list:
        with self._index_lock:
            if self._index_generation != self.keys.generation:
                generation = self.keys.generation
                by_expiry = sorted(self.keys.all(), key=lambda r: (r["expires_at"], r["id"]))
                by_org: dict[str, list] = {}
                for record in by_expiry:
                    by_org.setdefault(record["org_id"], []).append(record)
                self._by_expiry, self._by_org, self._index_generation = by_expiry, by_org, generation
            return self._by_org.get(org_id, []) if org_id else self._by_expiry


@dataclass
class _CachedBanners:
    """Banners computed from one generation of records at one moment, valid until `valid_until`."""

    generation: int
    computed_at: datetime
    valid_until: datetime
    banners: list
    # (banners, summary) JSON text per min_severity, encoded on first use.
    json: dict[str, tuple[str, str]] = field(default_factory=dict)


def _banners_valid_until(records, now: datetime, next_arrival: datetime | None) -> datetime:
    """Return the first moment a banner of these records may read differently (or a new one appears)."""
    # Severity and days_left change only where the time left crosses a whole number of days; at the
    # exact crossing, severity has already changed and days_left changes one second later.
    changes = [now + ((parse_time(r["expires_at"]) - now) % DAY or timedelta(seconds=1)) for r in records]
    if next_arrival is not None:
        changes.append(next_arrival)
    return min(changes, default=now + DAY)
