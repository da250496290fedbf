"""Writing, rotating and deleting one key through the API at growing numbers of stored keys."""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import requests

from . import fleet
from .serving import Server
from .table import Row, ms, ratio

SIZES = (1_000, 10_000, 50_000)
WRITE_TARGET = 0.050


def atomic_rewrite(path: Path) -> float:
    """Time the storage floor: rewrite a same-sized file with temp file, fsync, rename and folder fsync."""
    data = path.read_bytes()
    temp = path.with_name("baseline.tmp")
    started = time.perf_counter()
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path.with_name("baseline.json"))
    folder = os.open(path.parent, os.O_RDONLY)
    os.fsync(folder)
    os.close(folder)
    return time.perf_counter() - started


def p99(samples: list[float]) -> float:
    """Return the 99th percentile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]


def measure(size: int, samples: int) -> dict:
    """Time create, rotate and delete of one key with `size` keys stored; return samples per operation."""
    times = {"write": [], "rotate": [], "delete": [], "floor": []}
    with tempfile.TemporaryDirectory(prefix="scimwatch-bench-") as folder:
        data_file = fleet.seed(Path(folder) / "data", size)
        with Server(Path(folder) / "data", fleet.ADMIN_TOKEN) as server, requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {fleet.ADMIN_TOKEN}"
            existing = [record["id"] for record in http.get(server.url + "/api/v1/keys", timeout=60).json()["keys"]]
            body = {"org_id": fleet.org_id(3), "directory_name": "bench", "expires_at": "2027-03-01",
                    "identity_provider": "okta", "notify": ["ops@example.com"]}
            for number in range(samples):
                started = time.perf_counter()
                created = http.post(server.url + "/api/v1/keys", json=body, timeout=60)
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
            times["floor"] = [atomic_rewrite(data_file) for _ in range(samples)]
    return times


def run(sizes=SIZES, samples: int = 30) -> list[Row]:
    """Measure each size; return rows with median, p99 and growth from the smallest size."""
    rows, medians = [], {}
    for size in sizes:
        times = measure(size, samples if size <= 10_000 else max(10, samples // 3))
        floor = statistics.median(times["floor"])
        for operation in ("write", "rotate", "delete"):
            median = statistics.median(times[operation])
            medians.setdefault(operation, {})[size] = median
            first = medians[operation][sizes[0]]
            growth = f", {median / first:.1f}x the {sizes[0]:,} figure" if size != sizes[0] else ""
            checked = operation == "write" and size == 10_000
            rows.append(Row(f"{operation} one key, {size:,} stored: median / p99 (n={len(times[operation])})",
                            f"{ms(median)} / {ms(p99(times[operation]))}{growth}",
                            f"{ms(floor)} atomic rewrite of the file", ratio(median, floor),
                            "median < 50 ms" if checked else "-",
                            median < WRITE_TARGET if checked else None))
    return rows
