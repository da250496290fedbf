"""Writing one key at growing numbers of stored keys: through the API, and in the store next to a bare append."""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import requests

from server.domain import keys
from server.domain.times import utcnow
from server.store.journal import entry
from server.store.storage import Store

from . import fleet
from .serving import Server
from .table import Row, ms, ratio

SIZES = (1_000, 10_000, 50_000)
WRITE_TARGET = 0.050
# DESIGN §17 and issue 15: a write costs the same at any size, close to the disk's own cost of an append.
GROWTH_TARGET = 1.5
APPEND_TARGET = 3.0
KEY = {"org_id": fleet.org_id(3), "directory_name": "bench", "expires_at": "2027-03-01",
       "identity_provider": "okta", "notify": ["ops@example.com"]}


def fsynced_append(folder: Path, line: bytes) -> float:
    """Time the disk's floor for one write: append `line` to a file in the same folder and fdatasync it."""
    fd = os.open(folder / "baseline.append", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        started = time.perf_counter()
        os.write(fd, line)
        os.fdatasync(fd)
        return time.perf_counter() - started
    finally:
        os.close(fd)


def p99(samples: list[float]) -> float:
    """Return the 99th percentile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]


def measure_api(data_dir: Path, samples: int) -> dict:
    """Time create, rotate and delete of one key through a real server; return samples per operation."""
    times: dict[str, list[float]] = {"write": [], "rotate": [], "delete": []}
    with Server(data_dir, fleet.ADMIN_TOKEN) as server, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {fleet.ADMIN_TOKEN}"
        existing = [record["id"] for record in http.get(server.url + "/api/v1/keys", timeout=60).json()["keys"]]
        for number in range(samples):
            started = time.perf_counter()
            created = http.post(server.url + "/api/v1/keys", json=KEY, timeout=60)
            times["write"].append(time.perf_counter() - started)
            assert created.status_code == 201, created.text
            started = time.perf_counter()
            rotated = http.post(server.url + f"/api/v1/keys/{existing[number]}/rotate", timeout=60)
            times["rotate"].append(time.perf_counter() - started)
            assert rotated.status_code == 200, rotated.text
            started = time.perf_counter()
            deleted = http.delete(server.url + f"/api/v1/keys/{created.json()['id']}", timeout=60)
            times["delete"].append(time.perf_counter() - started)
            assert deleted.status_code == 204, deleted.text
    return times


def measure_stores(folders: dict, samples: int) -> dict:
    """Time one stored key (Collection.insert) in each folder and one fsynced append of its journal line.

    The stores are open side by side and written in turns, so a change in the machine's load (other
    engineers' tests) falls on every size alike.
    """
    stores = {size: Store(folder) for size, folder in folders.items()}
    times: dict = {size: [] for size in folders} | {"append": []}
    try:
        for _ in range(samples):
            for size, store in stores.items():
                document = keys.new_key(keys.check_fields(KEY, partial=False), utcnow())
                started = time.perf_counter()
                store.collection("keys").insert(document)
                times[size].append(time.perf_counter() - started)
            times["append"].append(fsynced_append(folders[max(folders)], entry({"keys": {"50001": document}})))
    finally:
        for store in stores.values():
            store.close()
    return times


def run(sizes=SIZES, samples: int = 30) -> list[Row]:
    """Measure each size; return rows with median and p99, growth from the smallest size, and the append floor."""
    rows, medians = [], {}
    with tempfile.TemporaryDirectory(prefix="scimwatch-bench-") as folder:
        folders = {size: fleet.seed(Path(folder) / f"data-{size}", size).parent for size in sizes}
        for size in sizes:
            times = measure_api(folders[size], samples)
            for operation in ("write", "rotate", "delete"):
                medians.setdefault(operation, {})[size] = median = statistics.median(times[operation])
                first = medians[operation][sizes[0]]
                growth = size != sizes[0]
                checked = operation == "write" and growth
                rows.append(Row(f"API {operation} one key, {size:,} stored: median / p99 (n={samples})",
                                f"{ms(median)} / {ms(p99(times[operation]))}",
                                f"{ms(first)} with {sizes[0]:,} stored" if growth else "-",
                                ratio(median, first) if growth else "-",
                                f"<= {GROWTH_TARGET}x" + (", median < 50 ms" if size == 10_000 else "") if checked
                                else "-",
                                median <= GROWTH_TARGET * first and median < WRITE_TARGET if checked else None))
        stored = measure_stores(folders, samples * 10)
    append = statistics.median(stored["append"])
    first = statistics.median(stored[sizes[0]])
    for size in sizes:
        median = statistics.median(stored[size])
        rows.append(Row(f"store one key (Collection.insert), {size:,} stored: median / p99 (n={len(stored[size])})",
                        f"{ms(median)} / {ms(p99(stored[size]))}",
                        f"{ms(append)} fsynced append of the same journal line", ratio(median, append),
                        f"<= {APPEND_TARGET}x", median <= APPEND_TARGET * append))
        if size != sizes[0]:
            rows.append(Row(f"store one key, {size:,} stored, against {sizes[0]:,} stored (written in turns)",
                            ms(median), f"{ms(first)} with {sizes[0]:,} stored", ratio(median, first),
                            f"<= {GROWTH_TARGET}x", median <= GROWTH_TARGET * first))
    return rows
