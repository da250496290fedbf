"""Bounded growth (DESIGN §17): delivery records that can no longer matter are removed after a while."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from ..domain.times import DAY, format_time
from .storage import Collection


def expired_deliveries(deliveries: Iterable[Mapping], keys: Iterable[Mapping], now: datetime,
                       days: int) -> list[str]:
    """Return the ids of delivery records of removed keys or superseded expiries, unchanged for `days`.

    A record of a key's current expiry is kept however old: the planner reads it to not remind twice.
    """
    current = {key["id"]: key["expires_at"] for key in keys}
    # Stored times are RFC 3339 UTC with Z, so they compare as text.
    cutoff = format_time(now - days * DAY)
    return [record["id"] for record in deliveries
            if current.get(record["key_id"]) != record["expires_at"] and record["updated_at"] < cutoff]


def prune_deliveries(deliveries: Collection, keys: Collection, now: datetime, days: int) -> int:
    """Remove the delivery records `expired_deliveries` names, in one atomic write; return how many."""
    doomed = expired_deliveries(deliveries.all(), keys.all(), now, days)
    deliveries.remove_many(doomed)
    return len(doomed)
