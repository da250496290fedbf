"""Three simulated years of 2,000 keys with 3 recipients each: the data folder's size and a write's cost stay flat.

One app over a real data folder, its clock moved a day at a time: each day every key about to expire is
rotated for another year through the API, and one reminder cycle sends over SMTP to a local aiosmtpd and
then prunes old delivery records (retention, DESIGN §17). At the end of each year the bench notes the
data folder's size (data file and journal, as they are on disk, and as one compacted file would be) and
the median cost of one key write through the app.
"""
from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from server import create_app
from server.domain.times import DAY, format_time
from server.notify import deliveries
from server.store.journal import JOURNAL_FILE
from server.store.storage import DATA_FILE

from . import fleet
from .reminders import start_sink
from .table import Row, ms, ratio

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
KEYS, ORGS = 2_000, 200
TARGET = 1.5
HEADERS = {"Authorization": f"Bearer {fleet.ADMIN_TOKEN}"}


def three_recipients(number, orgs, now, rng):
    """A key of org `number % orgs` with the org's three addresses, expiring some day in the first year."""
    fields = fleet.key_fields(number, orgs, now, rng)
    org = number % orgs
    fields.update(expires_at=format_time(now + timedelta(days=rng.uniform(1, 365))),
                  notify=[f"{who}{org}@example.com" for who in ("owner", "it", "security")])
    return fields


def folder_bytes(data_dir: Path) -> int:
    """Return the size on disk of the data file and its journal."""
    return sum((data_dir / name).stat().st_size for name in (DATA_FILE, JOURNAL_FILE) if (data_dir / name).exists())


def write_cost(client, key_ids: list[str], samples: int) -> float:
    """Return the median time of relabelling one key through the app."""
    times = []
    for number in range(samples):
        started = time.perf_counter()
        response = client.patch(f"/api/v1/keys/{key_ids[number % len(key_ids)]}", json={"label": f"w{number}"},
                                headers=HEADERS)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.get_data(as_text=True)
    return statistics.median(times)


def simulate(years: int, step_days: int, samples: int) -> dict:
    """Run the simulation; return per year (0 = day one) the folder size, compacted size, write cost, records."""
    port = random.Random().randint(20_000, 40_000)
    sink = start_sink(port)
    clock = {"now": START}
    noted = {}
    try:
        with tempfile.TemporaryDirectory(prefix="scimwatch-growth-") as folder:
            data_dir = Path(folder) / "data"
            fleet.seed(data_dir, KEYS, orgs=ORGS, now=START, fields=three_recipients)
            app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": fleet.ADMIN_TOKEN, "CLOCK": lambda: clock["now"],
                              "MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port,
                              "SMTP_SECURITY": "none"})
            context, client = app.extensions["scimwatch"], app.test_client()
            service = deliveries.service_for(app)
            key_ids = sorted(key["id"] for key in context.registry.keys.all())

            def note(year: int) -> None:
                noted[year] = {"bytes": folder_bytes(data_dir), "compacted": len(context.store.snapshot()),
                               "write": write_cost(client, key_ids, samples),
                               "deliveries": len(context.store.collection("deliveries"))}

            note(0)
            day = 0
            while len(noted) <= years:
                day += step_days
                clock["now"] = now = START + day * DAY
                soon = format_time(now + DAY)
                for key in [key for key in context.registry.keys.all() if key["expires_at"] <= soon]:
                    renewed = format_time(datetime.fromisoformat(key["expires_at"]) + timedelta(days=365))
                    answer = client.post(f"/api/v1/keys/{key['id']}/rotate", json={"expires_at": renewed},
                                         headers=HEADERS)
                    assert answer.status_code == 200, answer.get_data(as_text=True)
                service.run_cycle()
                if day >= len(noted) * 365:
                    note(len(noted))
            context.close()
    finally:
        sink.terminate()
        sink.wait()
    return noted


def run(quick: bool = False) -> list[Row]:
    """Simulate three years (a cycle a day; a week with --quick) and compare each year with year one."""
    noted = simulate(years=3, step_days=7 if quick else 1, samples=20 if quick else 100)
    rows = []
    for year in (2, 3):
        for measure, what in (("bytes", "data file + journal on disk"), ("compacted", "data as one compacted file")):
            value, first = noted[year][measure], noted[1][measure]
            rows.append(Row(f"{KEYS:,} keys x 3 recipients, after year {year}: {what} "
                            f"({noted[year]['deliveries']:,} delivery records)", f"{value / 1e6:.2f} MB",
                            f"{first / 1e6:.2f} MB after year 1 ({noted[1]['deliveries']:,} records)",
                            ratio(value, first), f"<= {TARGET}x", value <= TARGET * first))
        value, first = noted[year]["write"], noted[0]["write"]
        rows.append(Row(f"{KEYS:,} keys x 3 recipients, after year {year}: one key write (median)", ms(value),
                        f"{ms(first)} on day one", ratio(value, first), f"<= {TARGET}x", value <= TARGET * first))
    return rows
