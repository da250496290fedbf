"""Start-up time to a healthy /healthz and resident memory, with 10,000 keys and with none."""
from __future__ import annotations

import gzip
import statistics
import tempfile
from pathlib import Path

import requests

from . import fleet
from .serving import ROOT, Server
from .table import Row, ms, ratio

WIDGET = ROOT / "widget" / "scim-banner.js"
# The budget tests/test_widget.py enforces: 5.5 KB since the compact bar (widget/README.md says why).
WIDGET_BUDGET = 5632


def start_once(data_dir: Path) -> tuple[float, int]:
    """Start `python -m server`, wait for /healthz, serve one banner request; return (seconds, RSS bytes)."""
    with Server(data_dir, fleet.ADMIN_TOKEN, module="server") as server:
        requests.get(server.url + "/api/v1/banners", headers={"Authorization": f"Bearer {fleet.READ_TOKEN}"},
                     timeout=30).raise_for_status()
        return server.healthy_after, server.rss_bytes()


def run(keys: int = 10_000, starts: int = 3) -> list[Row]:
    """Return rows for start-up time, memory and the widget's gzipped size."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="scimwatch-bench-") as folder:
        for name, count in (("empty", 0), ("full", keys)):
            data_dir = Path(folder) / name
            fleet.seed(data_dir, count)
            runs = [start_once(data_dir) for _ in range(starts)]
            results[name] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
    (full_time, full_rss), (empty_time, empty_rss) = results["full"], results["empty"]
    size = len(gzip.compress(WIDGET.read_bytes(), 9))
    return [
        Row(f"start-up to healthy /healthz, {keys:,} keys (median of {starts})", ms(full_time),
            f"{ms(empty_time)} with no keys", ratio(full_time, empty_time)),
        Row(f"resident memory, {keys:,} keys, after one banner request", f"{full_rss / 2**20:.0f} MiB",
            f"{empty_rss / 2**20:.0f} MiB with no keys", ratio(full_rss, empty_rss)),
        Row("widget size, gzip -9", f"{size:,} bytes", "-", "-", f"<= {WIDGET_BUDGET:,} bytes", size <= WIDGET_BUDGET),
    ]
