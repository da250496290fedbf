"""Backup while serving, restore when stopped, and the data file's schema version (DESIGN §17)."""
from __future__ import annotations

import json
import threading
from pathlib import Path

from conftest import ADMIN_TOKEN, run_cli, server_env

from server import create_app
from server.store.schema import META_TABLE, SCHEMA, meta_table
from server.store.storage import DATA_FILE, Store

FIXTURE = Path(__file__).parent / "fixtures" / "data-schema1.json"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_a_data_file_of_the_previous_release_is_migrated_and_a_copy_kept(data_dir):
    (data_dir / DATA_FILE).write_bytes(FIXTURE.read_bytes())
    app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN})
    try:
        keys = app.test_client().get("/api/v1/keys", headers=ADMIN).json["keys"]
        assert [key["label"] for key in keys] == ["Okta EU"]
    finally:
        app.extensions["scimwatch"].close()
    assert (data_dir / f"{DATA_FILE}.schema1").read_bytes() == FIXTURE.read_bytes()
    migrated = json.loads((data_dir / DATA_FILE).read_text())
    assert migrated == {**json.loads(FIXTURE.read_text()), META_TABLE: {"1": {"schema": SCHEMA}}}


def test_a_newer_schema_is_refused_naming_both_versions(data_dir):
    newer = {**json.loads(FIXTURE.read_text()), META_TABLE: {"1": {"schema": SCHEMA + 1}}}
    (data_dir / DATA_FILE).write_text(json.dumps(newer))
    before = (data_dir / DATA_FILE).read_bytes()
    result = run_cli("keys", "list", env=server_env(data_dir))
    assert result.returncode != 0
    assert f"schema version {SCHEMA + 1}" in result.stderr and f"version {SCHEMA}" in result.stderr
    assert (data_dir / DATA_FILE).read_bytes() == before


def test_a_new_data_folder_starts_at_the_current_schema(data_dir):
    Store(data_dir).close()
    assert json.loads((data_dir / DATA_FILE).read_text())[META_TABLE] == meta_table()


def test_backup_during_writes_is_one_consistent_state_and_restores(live_server_factory, tmp_path):
    data_dir = tmp_path / "data"
    server = live_server_factory(data_dir=data_dir)
    stop = threading.Event()
    added: list[str] = []

    def write():
        while not stop.is_set():
            added.append(server.add_key(org_id="org", expires_at="2030-01-01")["id"])

    writer = threading.Thread(target=write)
    writer.start()
    try:
        copies = []
        for number in range(3):
            target = tmp_path / f"backup-{number}.json"
            result = run_cli("backup", str(target), env=server_env(data_dir))
            assert result.returncode == 0, result.stderr
            copies.append(json.loads(target.read_text()))
    finally:
        stop.set()
        writer.join()
    acknowledged_before_last = set(added)
    for copy in copies:
        assert copy[META_TABLE] == meta_table()
        ids = [key["id"] for key in copy["keys"].values()]
        assert len(ids) == len(set(ids)) and set(ids) <= acknowledged_before_last
    # Restore refuses while the server runs, and works once it is stopped.
    last = tmp_path / "backup-2.json"
    refused = run_cli("restore", str(last), env=server_env(data_dir))
    assert refused.returncode != 0 and "stop it" in refused.stderr
    assert server.stop() == 0
    before = (data_dir / DATA_FILE).read_bytes()
    restored = run_cli("restore", str(last), env=server_env(data_dir))
    assert restored.returncode == 0, restored.stderr
    assert json.loads((data_dir / DATA_FILE).read_text()) == copies[2]
    [kept] = data_dir.glob(f"{DATA_FILE}.before-restore-*")
    assert kept.read_bytes() == before


def test_restore_checks_the_file_before_replacing_anything(data_dir, tmp_path):
    Store(data_dir).close()
    before = (data_dir / DATA_FILE).read_bytes()
    broken = json.loads(FIXTURE.read_text())
    broken["keys"]["1"]["expires_at"] = "soon"
    cases = {"not-json.json": b"{", "malformed.json": json.dumps(broken).encode(),
             "newer.json": json.dumps({META_TABLE: {"1": {"schema": SCHEMA + 1}}}).encode()}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        result = run_cli("restore", str(tmp_path / name), env=server_env(data_dir))
        assert result.returncode != 0 and "Error" in result.stderr, name
        assert (data_dir / DATA_FILE).read_bytes() == before
    assert not list(data_dir.glob(f"{DATA_FILE}.before-restore-*"))
    # A backup of the previous release restores, and the next start migrates it.
    assert run_cli("restore", str(FIXTURE), env=server_env(data_dir)).returncode == 0
    assert run_cli("remind", "--dry-run", env=server_env(data_dir)).returncode == 0
    assert json.loads((data_dir / DATA_FILE).read_text())[META_TABLE] == meta_table()
