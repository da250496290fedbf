"""Start and stop scimwatch server processes for the bench, and read what they cost."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def server_env(data_dir: Path, admin_token: str, extra: dict | None = None) -> dict:
    """Return an environment for a server on a free loopback port over `data_dir`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SCIMWATCH_")}
    env.update(SCIMWATCH_DATA_DIR=str(data_dir), SCIMWATCH_PORT="0", SCIMWATCH_HOST="127.0.0.1",
               SCIMWATCH_ADMIN_TOKEN=admin_token, PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


class Server:
    """A server subprocess: `python -m server`, or the bench app with its baseline route.

    With `settle`, the start waits for the reminder cycle the server runs as it starts to finish.
    """

    def __init__(self, data_dir: Path, admin_token: str, *, module: str = "bench.serve_app", env: dict | None = None,
                 settle: bool = True):
        self.started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-m", module], cwd=ROOT,
                                        env=server_env(data_dir, admin_token, env), stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        self.url = self._listen_url()
        # Keep draining the output so a chatty server never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        self.healthy_after = self._wait_healthy()
        if settle:
            self.wait_for_first_reminder_cycle()

    def _listen_url(self) -> str:
        for line in self.process.stdout:
            self.output.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                return match.group(1)
        raise RuntimeError("server exited before listening:\n" + "".join(self.output))

    def _drain(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)

    def _wait_healthy(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=5).status_code == 200:
                    return time.perf_counter() - self.started
            except requests.ConnectionError:
                time.sleep(0.005)
        raise RuntimeError("server never became healthy")

    def wait_for_first_reminder_cycle(self, timeout: float = 120) -> None:
        """Wait until the reminder cycle the server runs as it starts has finished, so it skews no figure."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = requests.get(self.url + "/healthz", timeout=5).json()
            if health.get("last_check") or health.get("scheduler", {}).get("status") != "running":
                return
            time.sleep(0.05)
        raise RuntimeError("the first reminder cycle did not finish")

    def rss_bytes(self) -> int:
        """Return the server's resident memory."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024

    def cpu_seconds(self) -> float:
        """Return the CPU time (user + system) the server has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        """SIGKILL the server, as a crash or power loss would stop it."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> int:
        """SIGTERM the server and wait; return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
