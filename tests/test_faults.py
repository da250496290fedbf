"""Nothing lost under faults: writers killed mid-write, many writers at once, a full disk, a read-only folder."""
from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
from conftest import ROOT, stored_bytes

from server.domain import keys
from server.domain.times import utcnow
from server.store.storage import DATA_FILE, TEMP_PREFIX, Store

# A writer that stores key records one at a time and prints each id once the store has acknowledged it.
WRITER = """
import sys
from server.domain import keys as rules
from server.domain.times import utcnow
from server.store.storage import Store
keys = Store(sys.argv[1]).collection("keys")
while True:
    document = rules.new_key(rules.check_fields({"org_id": "org", "expires_at": "2027-03-01", "notes": "n" * 400},
                                                partial=False), utcnow())
    keys.insert(document)
    print(document["id"], flush=True)
"""
FUTURE = "2027-03-01"


def seed_data_file(data_dir, count: int) -> None:
    """Write a data file holding `count` key records, so each later write takes a while."""
    fields = keys.check_fields({"org_id": "org", "expires_at": FUTURE, "notes": "s" * 400}, partial=False)
    documents = {str(n + 1): {**keys.new_key(fields, utcnow()), "id": f"seed-{n}"} for n in range(count)}
    (data_dir / DATA_FILE).write_text(json.dumps({"keys": documents}), encoding="utf-8")


def stored_keys(data_dir) -> dict:
    """Open the data folder as the next server start would and return its key documents by id."""
    store = Store(data_dir)
    try:
        return {document["id"]: document for document in store.collection("keys").all()}
    finally:
        store.close()


def test_a_writer_killed_mid_write_keeps_every_acknowledged_write(data_dir):
    seed_data_file(data_dir, 1500)
    rng = random.Random(6)
    acknowledged = []
    for _ in range(12):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(data_dir)], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True)
        for _ in range(rng.randint(1, 6)):
            acknowledged.append(writer.stdout.readline().strip())
        # The next write is under way: kill at a random point inside it.
        time.sleep(rng.uniform(0, 0.03))
        writer.kill()
        writer.wait()
        writer.stdout.close()
        stored = stored_keys(data_dir)
        assert [key_id for key_id in acknowledged if key_id not in stored] == []
    assert len(acknowledged) >= 12


def test_a_server_killed_while_clients_write_keeps_every_acknowledged_key(live_server_factory, tmp_path):
    data_dir = tmp_path / "data"
    acknowledged = []
    for _ in range(3):
        server = live_server_factory(data_dir=data_dir)
        enough = threading.Semaphore(0)

        def write(server=server, enough=enough):
            with contextlib.suppress(requests.RequestException):
                while True:
                    created = server.add_key(org_id="org", expires_at=FUTURE, label="crash")
                    acknowledged.append(created["id"])
                    enough.release()

        clients = [threading.Thread(target=write) for _ in range(4)]
        for client in clients:
            client.start()
        for _ in range(10):
            enough.acquire()
        server.stop(signal.SIGKILL)
        for client in clients:
            client.join()
    stored = stored_keys(data_dir)
    assert [key_id for key_id in acknowledged if key_id not in stored] == []


def test_many_threads_writing_at_once_lose_nothing(live_server_factory, tmp_path):
    data_dir = tmp_path / "data"
    server = live_server_factory(data_dir=data_dir)
    created, failures = [], []

    def write(number):
        for step in range(6):
            response = server.api("POST", "/api/v1/keys", json={
                "org_id": f"org-{number}", "expires_at": FUTURE, "label": f"{number}-{step}"})
            if response.status_code != 201:
                failures.append(response.text)
                continue
            key_id = response.json()["id"]
            patched = server.api("PATCH", f"/api/v1/keys/{key_id}", json={"notes": f"patched {number}-{step}"})
            if patched.status_code != 200:
                failures.append(patched.text)
            created.append((key_id, f"{number}-{step}"))

    threads = [threading.Thread(target=write, args=(number,)) for number in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert server.stop() == 0
    stored = stored_keys(data_dir)
    assert len(stored) == 16 * 6
    assert {(stored[key_id]["label"], stored[key_id]["notes"]) for key_id, _ in created} == {
        (label, f"patched {label}") for _, label in created}


def assert_refused_write(response, reason: str):
    """A write the disk refused: 507, the one JSON error shape, a message that says what happened."""
    assert response.status_code == 507
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "storage_unavailable"
    assert "could not write" in error["message"] and reason in error["message"]


def check_writes_refused_and_reads_served(server, data_dir, key_id, reason: str):
    """Every kind of write answers 507; reads keep working; the data file and journal are as before the faults."""
    before = stored_bytes(data_dir)
    assert_refused_write(server.api("POST", "/api/v1/keys", json={"org_id": "org", "expires_at": FUTURE}), reason)
    assert_refused_write(server.api("PATCH", f"/api/v1/keys/{key_id}", json={"label": "changed"}), reason)
    assert_refused_write(server.api("POST", f"/api/v1/keys/{key_id}/rotate"), reason)
    assert_refused_write(server.api("DELETE", f"/api/v1/keys/{key_id}"), reason)
    assert server.api("GET", f"/api/v1/keys/{key_id}").json()["label"] == "kept"
    assert server.api("GET", "/api/v1/banners", token="read").json()["banners"][0]["key_id"] == key_id
    # A monitor is told (DESIGN §17): 503 until a write succeeds again.
    health = server.api("GET", "/healthz", token=None)
    assert (health.status_code, health.json()["failing"]) == (503, ["data_folder_unwritable"])
    assert stored_bytes(data_dir) == before
    assert sorted(path.name for path in data_dir.iterdir()
                  if path.name.startswith((DATA_FILE, TEMP_PREFIX + DATA_FILE))) == [DATA_FILE]


def test_a_full_disk_refuses_writes_with_507_and_keeps_serving_reads(live_server_factory, tmp_path):
    data_dir = tmp_path / "data"
    server = live_server_factory(data_dir=data_dir)
    kept = server.add_key(org_id="org", expires_at="2026-01-10", label="kept")
    acknowledged = {kept["id"]}
    # A file size limit on the server process makes the disk "full" a few keys from now (Python ignores
    # SIGXFSZ, so the write fails with EFBIG as it would with ENOSPC); it stops root as well.
    limit = (data_dir / DATA_FILE).stat().st_size + 1500
    resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    for _ in range(20):
        response = server.api("POST", "/api/v1/keys", json={"org_id": "org", "expires_at": FUTURE, "label": "x" * 100})
        if response.status_code != 201:
            break
        acknowledged.add(response.json()["id"])
    assert_refused_write(response, os.strerror(errno.EFBIG))
    # Now no write fits at all, not even one that makes the file smaller.
    resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, (1024, resource.RLIM_INFINITY))
    check_writes_refused_and_reads_served(server, data_dir, kept["id"], os.strerror(errno.EFBIG))

    resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    acknowledged.add(server.add_key(org_id="org", expires_at=FUTURE)["id"])
    # The key whose DELETE was refused is whole again: it can be changed and deleted.
    assert server.api("PATCH", f"/api/v1/keys/{kept['id']}", json={"label": "relabelled"}).status_code == 200
    assert server.api("GET", f"/api/v1/keys/{kept['id']}").json()["label"] == "relabelled"
    assert server.api("DELETE", f"/api/v1/keys/{kept['id']}").status_code == 204
    acknowledged.discard(kept["id"])
    assert server.stop() == 0
    assert set(stored_keys(data_dir)) == acknowledged


@contextlib.contextmanager
def read_only(folder):
    """Make `folder` refuse writes, even to root: a read-only bind mount, else the immutable flag, else chmod."""
    undo = None
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = lambda: folder.chmod(0o755)  # noqa: E731
    elif subprocess.run(["mount", "--bind", folder, folder], capture_output=True).returncode == 0:
        undo = lambda: subprocess.run(["umount", folder], check=True)  # noqa: E731
        if subprocess.run(["mount", "-o", "remount,bind,ro", folder], capture_output=True).returncode != 0:
            undo()
            undo = None
    if undo is None and shutil.which("chattr") and \
            subprocess.run(["chattr", "+i", folder], capture_output=True).returncode == 0:
        undo = lambda: subprocess.run(["chattr", "-i", folder], check=True)  # noqa: E731
    if undo is None:
        pytest.skip("cannot make a folder read-only here (no mount, chattr or chmod that stops this user)")
    try:
        probe = folder / f"probe-{uuid.uuid4()}"
        with contextlib.suppress(OSError):
            probe.touch()
            probe.unlink()
            pytest.skip("the folder still accepts writes")
        yield
    finally:
        undo()


def test_a_read_only_data_folder_refuses_writes_with_507_and_keeps_serving_reads(live_server_factory, tmp_path):
    data_dir = tmp_path / "data"
    server = live_server_factory(data_dir=data_dir)
    kept = server.add_key(org_id="org", expires_at="2026-01-10", label="kept")
    with read_only(data_dir):
        response = server.api("POST", "/api/v1/keys", json={"org_id": "org", "expires_at": FUTURE})
        reason = response.json()["error"]["message"]
        assert any(text in reason for text in ("read-only", "permission denied", "Operation not permitted")), reason
        check_writes_refused_and_reads_served(server, data_dir, kept["id"], "nothing was changed")
    added = server.add_key(org_id="org", expires_at=FUTURE)
    assert server.stop() == 0
    assert set(stored_keys(data_dir)) == {kept["id"], added["id"]}
