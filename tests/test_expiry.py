"""Expiry maths: days left, severity boundaries and reminder stages (pure, no server)."""
from datetime import UTC, datetime, timedelta

import pytest

from server.domain.expiry import current_stage, days_left, days_since, next_stage, severity
from server.domain.times import format_time, parse_time

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


@pytest.mark.parametrize("remaining, expected", [
    (-DAY, "expired"),
    (timedelta(0), "expired"),
    (SECOND, "critical"),
    (3 * DAY, "critical"),
    (3 * DAY + SECOND, "warning"),
    (14 * DAY, "warning"),
    (14 * DAY + SECOND, "info"),
    (30 * DAY, "info"),
    (30 * DAY + SECOND, None),
])
def test_severity_follows_the_design_boundaries(remaining, expected):
    assert severity(NOW + remaining, NOW) == expected


@pytest.mark.parametrize("remaining, expected", [
    (6 * DAY + timedelta(hours=23), 6),
    (DAY - SECOND, 0),
    (timedelta(0), 0),
    (-SECOND, -1),
    (-DAY - SECOND, -2),
])
def test_days_left_is_the_floor_of_whole_days(remaining, expected):
    assert days_left(NOW + remaining, NOW) == expected


@pytest.mark.parametrize("remaining, expected", [
    (31 * DAY, None),
    (30 * DAY, "30d"),
    (20 * DAY, "30d"),
    (5 * DAY, "7d"),
    (DAY, "1d"),
    (SECOND, "1d"),
    (timedelta(0), "expired"),
    (-6 * DAY, "expired"),
    (-7 * DAY, "expired+7d"),
    (-15 * DAY, "expired+14d"),
])
def test_the_current_stage_is_the_smallest_threshold_reached(remaining, expected):
    assert current_stage(NOW + remaining, NOW) == expected


def test_no_repeat_after_expiry_when_repeat_days_is_zero():
    assert current_stage(NOW - 100 * DAY, NOW, repeat_days=0) == "expired"


def test_per_key_thresholds_replace_the_defaults():
    assert current_stage(NOW + 50 * DAY, NOW, thresholds=(60, 10)) == "60d"
    assert current_stage(NOW + 9 * DAY, NOW, thresholds=(60, 10)) == "10d"


@pytest.mark.parametrize("text, expected", [
    ("2026-12-06", "2026-12-06T00:00:00Z"),
    ("2026-12-06T10:30:00Z", "2026-12-06T10:30:00Z"),
    ("2026-12-06T10:30:00.123456789Z", "2026-12-06T10:30:00Z"),
    ("2026-12-06T12:30:00+02:00", "2026-12-06T10:30:00Z"),
    ("2026-12-06t10:30:00z", "2026-12-06T10:30:00Z"),
])
def test_times_are_read_as_rfc3339_or_a_plain_date_and_written_in_utc(text, expected):
    assert format_time(parse_time(text)) == expected


@pytest.mark.parametrize("text", ["2026-02-30", "2026-13-01", "2026-12-06T10:30:00", "06/12/2026",
                                  "2026-12-06T25:00:00Z", "", "2026-12-06\n", "tomorrow",
                                  "1999-12-31", "2999-12-31T23:59:59-23:59", "9999-12-31T23:59:59-01:00"])
def test_times_that_are_not_real_or_have_no_zone_are_refused(text):
    with pytest.raises(ValueError, match=r"not a|outside the years|must be"):
        parse_time(text)


@pytest.mark.parametrize("remaining, expected_stage, expected_in", [
    (40 * DAY, "30d", 10 * DAY),                 # before the first threshold: that threshold
    (20 * DAY, "14d", 6 * DAY),                  # inside 30d: the next smaller threshold
    (14 * DAY, "7d", 7 * DAY),                   # exactly on a boundary: that stage has begun, the next is next
    (12 * 3600 * SECOND, "expired", 12 * 3600 * SECOND),  # past the last threshold: expiry itself
    (-DAY, "expired+7d", 6 * DAY),               # expired: the next repeat
    (-7 * DAY, "expired+14d", 7 * DAY),
])
def test_the_next_stage_is_the_first_stage_that_begins_after_now(remaining, expected_stage, expected_in):
    stage, begins_at = next_stage(NOW + remaining, NOW)
    assert (stage, begins_at) == (expected_stage, NOW + expected_in)
    # It is the stage current_stage reports from that moment on, and not a second earlier.
    assert current_stage(NOW + remaining, begins_at) == expected_stage
    assert current_stage(NOW + remaining, begins_at - SECOND) != expected_stage


def test_the_next_stage_follows_per_key_thresholds_and_repeats():
    assert next_stage(NOW + 20 * DAY, NOW, thresholds=(10, 2)) == ("10d", NOW + 10 * DAY)
    assert next_stage(NOW - DAY, NOW, repeat_days=3) == ("expired+3d", NOW + 2 * DAY)
    assert next_stage(NOW - DAY, NOW, repeat_days=0) is None


@pytest.mark.parametrize("elapsed, expected", [(SECOND, 0), (DAY, 1), (DAY + 12 * 3600 * SECOND, 1), (3 * DAY, 3)])
def test_days_since_counts_whole_days_elapsed(elapsed, expected):
    assert days_since(NOW - elapsed, NOW) == expected
