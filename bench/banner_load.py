"""Banner API under load (wrk) next to the constant-JSON route on the same waitress server."""
from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import requests

from . import fleet
from .serve_app import CONSTANT_PATH
from .serving import Server
from .table import Row, ratio

CONCURRENCY = (1, 8, 32)
KEYS, ORGS = 10_000, 1_000
P99_TARGET = 0.020
RATIO_TARGET = 0.8

# Each request asks for one random org's banners, as the extension on an org page or an embed with data-org does.
LUA = """
math.randomseed(%(seed)d)
request = function()
  local path = string.format("/api/v1/banners?org_id=00000000-0000-4000-8000-%%012d", math.random(0, %(orgs)d - 1))
  return wrk.format("GET", path)
end
"""


def ensure_wrk() -> str:
    """Return the wrk binary, installing Debian's package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", "wrk"], check=False,
                   env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    found = shutil.which("wrk")
    if not found:
        subprocess.run([*prefix, "apt-get", "update", "-qq"], check=True)
        subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    return found


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def wrk_run(wrk: str, server: Server, path: str, connections: int, seconds: float, headers: dict,
            script: Path | None) -> dict:
    """Run wrk once; return requests/s, p50, p99, server CPU per request and the failed-request count."""
    threads = min(2, connections)
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", str(script)]
    cpu_before = server.cpu_seconds()
    output = subprocess.run([*command, server.url + path], capture_output=True, text=True, check=True).stdout
    cpu = server.cpu_seconds() - cpu_before
    count = int(re.search(r"(\d+) requests in", output).group(1))
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.M))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "p50": _seconds(latency["50"]), "p99": _seconds(latency["99"]),
            "cpu": cpu / max(count, 1), "failed": errors + (int(bad.group(1)) if bad else 0), "raw": output}


def combine(runs: list[dict]) -> dict:
    """Merge repeated wrk runs: mean rate and CPU, median p50, worst p99; refuse any failed request."""
    if any(run["failed"] for run in runs):
        raise RuntimeError("failed requests under load:\n" + "\n".join(run["raw"] for run in runs))
    return {"rps": statistics.mean(r["rps"] for r in runs), "cpu": statistics.mean(r["cpu"] for r in runs),
            "p50": statistics.median(r["p50"] for r in runs), "p99": max(r["p99"] for r in runs)}


def run(seconds: float = 10, keys: int = KEYS, orgs: int = ORGS, rounds: int = 2) -> list[Row]:
    """Measure both routes at each concurrency; return the table rows."""
    wrk = ensure_wrk()
    rows = []
    with tempfile.TemporaryDirectory(prefix="scimwatch-bench-") as folder:
        folder = Path(folder)
        fleet.seed(folder / "data", keys, orgs)
        script = folder / "banners.lua"
        script.write_text(LUA % {"seed": 6, "orgs": orgs})
        # Org 7 has one banner, the most common count (the mean is 1.2): a typical answer for the baseline.
        env = {"BENCH_CONSTANT_ORG": fleet.org_id(7)}
        with Server(folder / "data", fleet.ADMIN_TOKEN, env=env) as server:
            headers = {"Authorization": f"Bearer {fleet.READ_TOKEN}"}
            sample = requests.get(server.url + "/api/v1/banners", params={"org_id": fleet.org_id(7)},
                                  headers=headers, timeout=10)
            constant = requests.get(server.url + CONSTANT_PATH, timeout=10)
            assert sample.status_code == 200 and sample.json()["banners"] == constant.json()["banners"], \
                "baseline must match a banner answer"
            wrk_run(wrk, server, CONSTANT_PATH, 8, min(seconds, 2), headers, None)  # warm-up
            wrk_run(wrk, server, "/", 8, min(seconds, 2), headers, script)
            for connections in CONCURRENCY:
                # Alternate the two routes so that a change in the machine's load hits both alike.
                runs = {"base": [], "banner": []}
                for _ in range(rounds):
                    runs["base"].append(wrk_run(wrk, server, CONSTANT_PATH, connections, seconds, headers, None))
                    runs["banner"].append(wrk_run(wrk, server, "/", connections, seconds, headers, script))
                base, banner = combine(runs["base"]), combine(runs["banner"])
                top = connections == 32
                rows.append(Row(f"banner API req/s, {connections} client(s), {keys:,} keys",
                                f"{banner['rps']:.0f}/s", f"{base['rps']:.0f}/s constant JSON",
                                ratio(banner["rps"], base["rps"]), f">= {RATIO_TARGET}x" if top else "-",
                                banner["rps"] / base["rps"] >= RATIO_TARGET if top else None))
                rows.append(Row(f"banner API p50 / p99, {connections} client(s)",
                                f"{banner['p50'] * 1000:.2f} / {banner['p99'] * 1000:.2f} ms",
                                f"{base['p50'] * 1000:.2f} / {base['p99'] * 1000:.2f} ms",
                                ratio(banner["p99"], base["p99"]) + " (p99)",
                                "p99 < 20 ms" if top else "-", banner["p99"] < P99_TARGET if top else None))
                rows.append(Row(f"banner API server CPU per request, {connections} client(s)",
                                f"{banner['cpu'] * 1e6:.0f} us", f"{base['cpu'] * 1e6:.0f} us",
                                ratio(banner["cpu"], base["cpu"])))
            rows.append(Row(f"server RSS after load, {keys:,} keys", f"{server.rss_bytes() / 2**20:.0f} MiB"))
    return rows
