"""SIGKILL the server at random moments while clients write; after each restart check every acknowledged write."""
from __future__ import annotations

import random
import tempfile
import threading
import time
from pathlib import Path

import requests

from . import fleet
from .serving import Server
from .table import Row


class Writer(threading.Thread):
    """A client that creates, relabels and deletes its own keys, remembering which states each key may be in."""

    def __init__(self, url: str, number: int, acknowledged: dict):
        super().__init__(daemon=True)
        self.url, self.number, self.acknowledged = url, number, acknowledged
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {fleet.ADMIN_TOKEN}"

    def run(self) -> None:
        step = 0
        try:
            while True:
                step += 1
                created = self.http.post(self.url + "/api/v1/keys", timeout=10, json={
                    "org_id": fleet.org_id(self.number), "label": f"w{self.number}-{step}", "expires_at": "2027-01-01"})
                if created.status_code != 201:
                    raise RuntimeError(created.text)
                key_id = created.json()["id"]
                self.acknowledged[key_id] = {f"w{self.number}-{step}"}
                self.attempt(key_id, "relabelled", lambda key_id=key_id: self.http.patch(
                    self.url + f"/api/v1/keys/{key_id}", json={"label": "relabelled"}, timeout=10), 200)
                if step % 3 == 0:
                    self.attempt(key_id, None, lambda key_id=key_id: self.http.delete(
                        self.url + f"/api/v1/keys/{key_id}", timeout=10), 204)
        except requests.RequestException:
            return  # the server was killed

    def attempt(self, key_id: str, outcome, send, status: int) -> None:
        """Send a change: until it is acknowledged, the old and the new state are both acceptable."""
        self.acknowledged[key_id] = self.acknowledged[key_id] | {outcome}
        if send().status_code == status:
            self.acknowledged[key_id] = {outcome}


def lost_writes(url: str, acknowledged: dict) -> set:
    """Return the ids of keys whose acknowledged state (or a later unacknowledged one) the server does not show."""
    stored = {record["id"]: record["label"] for record in requests.get(
        url + "/api/v1/keys", headers={"Authorization": f"Bearer {fleet.ADMIN_TOKEN}"}, timeout=60).json()["keys"]}
    return {key_id for key_id, labels in acknowledged.items() if stored.get(key_id) not in labels}


def run(trials: int = 50, clients: int = 4, seeded: int = 2_000, seed_value: int = 6) -> list[Row]:
    """Run the kill trials on one data folder; return a row with trials, acknowledged writes and losses."""
    rng = random.Random(seed_value)
    acknowledged: dict = {}
    lost: set = set()
    failed_starts = 0
    with tempfile.TemporaryDirectory(prefix="scimwatch-crash-") as folder:
        data_dir = Path(folder) / "data"
        fleet.seed(data_dir, seeded)
        for trial in range(trials + 1):
            try:
                server = Server(data_dir, fleet.ADMIN_TOKEN, module="server")
            except RuntimeError:
                failed_starts += 1
                break
            lost |= lost_writes(server.url, acknowledged)
            if trial == trials:
                server.stop()
                break
            writers = [Writer(server.url, number, acknowledged) for number in range(clients)]
            for writer in writers:
                writer.start()
            time.sleep(rng.uniform(0.05, 1.0))
            server.kill()
            for writer in writers:
                writer.join()
    return [Row(f"SIGKILL mid-write: {trials} trials, {clients} writing clients, {seeded:,} keys",
                f"{len(lost)} lost of {len(acknowledged):,} acknowledged keys, {failed_starts} failed restarts",
                "-", "-", "0 lost", not lost and not failed_starts)]
