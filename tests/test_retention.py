"""Bounded growth (DESIGN §17): delivery retention across simulated years, and a capped key history."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smtp_helpers import Clock, Scimwatch

from server.domain.keys import HISTORY_LIMIT
from server.store.retention import expired_deliveries

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def live_through(instance: Scimwatch, clock: Clock, days: int, keys: list[str]) -> None:
    """Run a cycle every day, rotating each key two days after it expires (a year later)."""
    for _ in range(days):
        clock.advance(days=1)
        instance.run()
        for key_id in keys:
            record = instance.client.get(f"/api/v1/keys/{key_id}", headers=instance.headers).json
            if datetime.fromisoformat(record["expires_at"]) < clock.now:
                instance.rotate(key_id)


def test_records_of_superseded_expiries_go_after_the_retention_days_and_current_ones_stay(data_dir):
    clock = Clock(START)
    instance = Scimwatch(data_dir, clock, DELIVERY_RETENTION_DAYS=400)
    try:
        key = instance.add_key(days=20, notify=["a@example.com", "b@example.com"])
        first_expiry = key["expires_at"]
        live_through(instance, clock, 30, [key["id"]])  # stages 14d..1d, expired, then rotated
        first = {d["id"] for d in instance.deliveries() if d["expires_at"] == first_expiry}
        assert len(first) == 12
        # Nothing is pruned within 400 days of a record's last change.
        live_through(instance, clock, 360, [key["id"]])
        assert first <= {d["id"] for d in instance.deliveries()}
        live_through(instance, clock, 50, [key["id"]])
        left = instance.deliveries()
        assert not first & {d["id"] for d in left}
        cutoff = stamp(clock.now - timedelta(days=400))
        assert left and all(d["updated_at"] >= cutoff for d in left)
    finally:
        instance.close()


def test_records_of_a_removed_key_go_after_the_retention_days(data_dir):
    clock = Clock(START)
    instance = Scimwatch(data_dir, clock, DELIVERY_RETENTION_DAYS=30)
    try:
        gone = instance.add_key(days=5)
        kept = instance.add_key(days=5, org_id="org-2")
        instance.run()
        assert len(instance.deliveries()) == 2
        assert instance.client.delete(f"/api/v1/keys/{gone['id']}", headers=instance.headers).status_code == 204
        clock.advance(days=30)
        instance.run()
        assert {d["key_id"] for d in instance.deliveries()} == {gone["id"], kept["id"]}
        clock.advance(minutes=1)
        instance.run()
        assert {d["key_id"] for d in instance.deliveries()} == {kept["id"]}
    finally:
        instance.close()


def test_three_years_of_daily_cycles_keep_the_delivery_log_bounded(data_dir):
    clock = Clock(START)
    instance = Scimwatch(data_dir, clock)
    try:
        keys = [instance.add_key(days=30 + 45 * n, org_id=f"org-{n}",
                                 notify=["a@example.com", "b@example.com", "c@example.com"])["id"] for n in range(4)]
        live_through(instance, clock, 365, keys)
        year_one = len(instance.deliveries())
        live_through(instance, clock, 2 * 365, keys)
        year_three = len(instance.deliveries())
        assert year_three <= 1.5 * year_one, (year_one, year_three)
    finally:
        instance.close()


def test_a_key_keeps_its_last_twenty_rotations(data_dir):
    clock = Clock(START)
    instance = Scimwatch(data_dir, clock)
    try:
        key = instance.add_key(days=300)
        rotations = []
        for _ in range(HISTORY_LIMIT + 5):
            clock.advance(days=365)
            rotations.append(stamp(clock.now))
            record = instance.rotate(key["id"])
        assert HISTORY_LIMIT == 20
        assert [entry["rotated_at"] for entry in record["history"]] == rotations[-20:]
    finally:
        instance.close()


def test_records_of_a_current_expiry_stay_however_old():
    keys = [{"id": "k", "expires_at": "2030-01-01T00:00:00Z"}]
    old = {"key_id": "k", "updated_at": "2026-01-01T00:00:00Z"}
    records = [{**old, "id": "current", "expires_at": "2030-01-01T00:00:00Z"},
               {**old, "id": "superseded", "expires_at": "2027-01-01T00:00:00Z"},
               {**old, "id": "removed", "key_id": "gone", "expires_at": "2030-01-01T00:00:00Z"},
               {**old, "id": "recent", "expires_at": "2027-01-01T00:00:00Z", "updated_at": "2029-12-01T00:00:00Z"}]
    assert expired_deliveries(records, keys, datetime(2029, 12, 31, tzinfo=UTC), 400) == ["superseded", "removed"]
