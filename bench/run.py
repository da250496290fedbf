"""Run every benchmark and the long fault runs; print one table (and optionally write it as JSON)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time

from . import banner_load, channels, crash, footprint, growth, imports, mail_faults, reminders, writes
from .serving import ROOT
from .table import Row, render

# Each suite runs at full length, or shorter and smaller with --quick.
SUITES = {
    "banners": (lambda quick: banner_load.run(seconds=3 if quick else 10, rounds=1 if quick else 2)),
    "writes": (lambda quick: writes.run(sizes=(1_000, 10_000) if quick else writes.SIZES, samples=10 if quick else 30)),
    "reminders": reminders.run,
    "growth": growth.run,
    "import": (lambda quick: imports.run(samples=1 if quick else 3)),
    "footprint": (lambda quick: footprint.run(starts=1 if quick else 3)),
    "crash": (lambda quick: crash.run(trials=10 if quick else 50)),
    "mail-faults": (lambda quick: mail_faults.run(cycles=20 if quick else 100)
                    + mail_faults.crash_run(trials=2 if quick else 5)),
    "channels": channels.run,
}


def machine() -> str:
    """Return a one-line description of where the figures were taken."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"commit {commit or '?'}, Python {platform.python_version()}, {os.cpu_count()} cores, "
            f"load average before the run {load}")


def main(argv=None) -> None:
    """Parse options, run the chosen suites and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="shorter runs and smaller sizes (a smoke test, not figures)")
    parser.add_argument("--only", default=",".join(SUITES), help=f"comma-separated suites from {', '.join(SUITES)}")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON to FILE")
    options = parser.parse_args(argv)
    chosen = [name.strip() for name in options.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    header = machine()
    rows: list[Row] = []
    for name in chosen:
        started = time.monotonic()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows += SUITES[name](options.quick)
        print(f"  {name} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print(header)
    print(render(rows))
    if options.json:
        with open(options.json, "w", encoding="utf-8") as handle:
            json.dump({"machine": header, "rows": [dataclasses.asdict(row) | {"result": row.verdict} for row in rows]},
                      handle, indent=2)
    sys.exit(1 if any(row.passed is False for row in rows) else 0)
