"""Importing 10,000 keys from one CSV file through the API, next to one put_many of the same records."""
from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

import requests

from server.domain import key_files, keys
from server.domain.times import utcnow
from server.store.storage import Store

from . import fleet
from .serving import Server
from .table import Row, ms, ratio

ROWS = 10_000


def csv_file(count: int) -> tuple[bytes, list[dict]]:
    """Return a CSV file of `count` new keys (as an export writes it, without ids) and their fields."""
    now, rng = utcnow(), random.Random(14)
    fields = [fleet.key_fields(number, 1000, now, rng) for number in range(count)]
    return key_files.to_csv(fields).encode("utf-8"), fields


def put_many_once(fields: list[dict]) -> float:
    """Time the storage floor: the same records written by one Collection.put_many into an empty data folder."""
    now = utcnow()
    records = [keys.new_key(keys.check_fields(item, partial=False), now, source="import") for item in fields]
    with tempfile.TemporaryDirectory(prefix="scimwatch-bench-") as folder:
        store = Store(Path(folder))
        try:
            started = time.perf_counter()
            store.collection("keys").put_many(records)
            return time.perf_counter() - started
        finally:
            store.close()


def import_once(body: bytes) -> tuple[float, float]:
    """Import the file into a fresh server over HTTP, then again; return both times (create, all unchanged)."""
    times = []
    with tempfile.TemporaryDirectory(prefix="scimwatch-bench-") as folder, \
            Server(Path(folder) / "data", fleet.ADMIN_TOKEN) as server, requests.Session() as http:
        http.headers.update({"Authorization": f"Bearer {fleet.ADMIN_TOKEN}", "Content-Type": "text/csv"})
        for expected in ("created", "unchanged"):
            started = time.perf_counter()
            answer = http.post(server.url + "/api/v1/import", data=body, timeout=300)
            times.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text[:500]
            assert answer.json()[expected] == ROWS, answer.text
    return times[0], times[1]


def run(samples: int = 3) -> list[Row]:
    """Measure `samples` imports of 10,000 rows; return rows with the medians next to the put_many floor."""
    body, fields = csv_file(ROWS)
    created, unchanged = zip(*(import_once(body) for _ in range(samples)), strict=True)
    floor = statistics.median(put_many_once(fields) for _ in range(samples))
    size = f"{len(body) / (1024 * 1024):.1f} MiB"
    return [
        Row(f"import {ROWS:,} new keys from CSV ({size}) over HTTP, one write (n={samples})",
            ms(statistics.median(created)), f"{ms(floor)} one put_many of the same records",
            ratio(statistics.median(created), floor)),
        Row(f"import the same file again: {ROWS:,} rows unchanged, nothing written (n={samples})",
            ms(statistics.median(unchanged)), f"{ms(floor)} one put_many of the same records",
            ratio(statistics.median(unchanged), floor)),
    ]
