"""The data folder under attack and hand edits: links, FIFOs, loose permissions, a lost lock file, bad records."""
from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from conftest import ADMIN_TOKEN, ROOT, LiveServer, run_cli, server_env
from smtp_helpers import Clock, Scimwatch, SmtpServer

from server import create_app
from server.domain import keys, reminders, tokens
from server.domain.times import DAY, format_time, utcnow
from server.notify.deliveries import outcome_record, pending_record
from server.store.files import DataFolderBusy, StorageError
from server.store.folder import LOCK_FILE
from server.store.schema import META_TABLE, meta_table
from server.store.storage import DATA_FILE, Store, thaw

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
VICTIM_TEXT = "precious: must never be truncated or overwritten\n"


def started(data_dir, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run `python -m server` over data_dir, its memory capped so that a runaway read fails fast."""
    def cap_memory():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    return subprocess.run([sys.executable, "-m", "server"], cwd=ROOT, env=server_env(data_dir), capture_output=True,
                          text=True, timeout=timeout, preexec_fn=cap_memory)


def assert_refused_with_message(result: subprocess.CompletedProcess, *texts: str) -> None:
    """The server stopped at start with a message, not a traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    for text in texts:
        assert text in result.stderr, result.stderr


@pytest.fixture
def victim(tmp_path):
    """A file outside the data folder that a planted link points at."""
    path = tmp_path / "victim.txt"
    path.write_text(VICTIM_TEXT)
    return path


# --- item 3: links, FIFOs, permissions, the lock ---------------------------------------------------

def test_a_link_planted_as_the_lock_file_does_not_truncate_its_target(data_dir, victim):
    (data_dir / LOCK_FILE).symlink_to(victim)
    store = Store(data_dir)
    store.collection("keys").insert({"id": "a"})
    store.close()
    assert victim.read_text() == VICTIM_TEXT


def test_a_hard_link_planted_as_the_lock_file_is_not_written_into(data_dir, victim):
    os.link(victim, data_dir / LOCK_FILE)
    Store(data_dir).close()
    assert victim.read_text() == VICTIM_TEXT


def test_a_link_planted_as_the_temp_file_while_running_is_not_written_through(data_dir, victim):
    store = Store(data_dir)
    (data_dir / (DATA_FILE + ".tmp")).symlink_to(victim)
    store.collection("things").insert({"id": "a"})
    store.close()
    assert victim.read_text() == VICTIM_TEXT
    assert json.loads((data_dir / DATA_FILE).read_text())["things"] == {"1": {"id": "a"}}
    assert not (data_dir / DATA_FILE).is_symlink()


def test_every_write_uses_a_new_private_temp_file(data_dir):
    store = Store(data_dir)
    store.collection("things").insert({"id": "a"})
    store.collection("things").insert({"id": "b"})
    assert stat.S_IMODE((data_dir / DATA_FILE).stat().st_mode) == 0o600
    assert [path.name for path in data_dir.iterdir() if path.name.endswith(".tmp")] == []
    store.close()


def test_stale_temp_files_are_removed_at_start_only_when_they_are_regular_files(data_dir, victim):
    stale = [data_dir / (DATA_FILE + ".tmp"), data_dir / f".{DATA_FILE}.k2j4x9.tmp"]
    for path in stale:
        path.write_text('{"keys": {"1": {"id": "half')
    linked = data_dir / f".{DATA_FILE}.linked.tmp"
    linked.symlink_to(victim)
    Store(data_dir).close()
    assert [path for path in stale if path.exists()] == []
    assert victim.read_text() == VICTIM_TEXT


def test_a_fifo_as_the_data_file_is_refused_with_its_name_instead_of_hanging(data_dir):
    os.mkfifo(data_dir / DATA_FILE)
    # The subprocess first: before the fix, opening the FIFO blocks for ever.
    assert_refused_with_message(started(data_dir), str(data_dir / DATA_FILE), "not a regular file")
    with pytest.raises(StorageError, match="not a regular file") as raised:
        Store(data_dir, readonly=True)
    assert str(data_dir / DATA_FILE) in str(raised.value)


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/null", "victim"])
def test_a_data_file_that_is_a_link_is_refused_with_its_name(data_dir, victim, target):
    (data_dir / DATA_FILE).symlink_to(victim if target == "victim" else target)
    assert_refused_with_message(started(data_dir), str(data_dir / DATA_FILE), "symbolic link")
    with pytest.raises(StorageError, match="symbolic link"):
        Store(data_dir, readonly=True)
    assert victim.read_text() == VICTIM_TEXT


def test_a_data_file_that_is_a_folder_is_refused_with_its_name(data_dir):
    (data_dir / DATA_FILE).mkdir()
    assert_refused_with_message(started(data_dir), str(data_dir / DATA_FILE), "not a regular file")


def test_a_lock_file_that_is_a_folder_is_refused_with_a_message(data_dir):
    (data_dir / LOCK_FILE).mkdir()
    assert_refused_with_message(started(data_dir), f"cannot write lock file {data_dir / LOCK_FILE}")


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o703])
def test_a_world_writable_data_folder_is_refused_with_the_fix(data_dir, mode):
    data_dir.chmod(mode)
    with pytest.raises(StorageError) as raised:
        Store(data_dir)
    assert str(data_dir) in str(raised.value) and f"chmod o-w {data_dir}" in str(raised.value)
    assert_refused_with_message(started(data_dir), str(data_dir), "chmod o-w")
    assert not (data_dir / LOCK_FILE).exists() and not (data_dir / DATA_FILE).exists()


def test_a_data_folder_owned_by_another_user_is_refused_with_the_fix(data_dir):
    if os.geteuid() != 0:
        pytest.skip("only root can give a folder to another user")
    os.chown(data_dir, 65534, -1)
    with pytest.raises(StorageError) as raised:
        Store(data_dir)
    assert str(data_dir) in str(raised.value) and "chown" in str(raised.value)
    assert_refused_with_message(started(data_dir), str(data_dir), "chown")


def test_a_data_folder_that_scimwatch_creates_is_private(tmp_path):
    Store(tmp_path / "new" / "data").close()
    assert stat.S_IMODE((tmp_path / "new" / "data").stat().st_mode) == 0o700


def test_a_deleted_lock_file_does_not_let_a_second_owner_in(data_dir):
    first = Store(data_dir)
    (data_dir / LOCK_FILE).unlink()
    with pytest.raises(DataFolderBusy, match="in use by another scimwatch process"):
        Store(data_dir)
    (data_dir / LOCK_FILE).write_text("")
    with pytest.raises(DataFolderBusy):
        Store(data_dir)
    first.close()
    Store(data_dir).close()


def test_a_deleted_lock_file_does_not_let_a_second_server_start(live_server):
    (live_server.data_dir / LOCK_FILE).unlink()
    second = run_cli(env=live_server.env)
    assert second.returncode != 0 and "in use by another scimwatch process" in second.stderr
    assert "Traceback" not in second.stderr
    assert live_server.api("GET", "/healthz").status_code == 200


def test_the_lock_file_names_the_owner_and_is_gone_after_a_clean_stop(data_dir):
    store = Store(data_dir)
    assert (data_dir / LOCK_FILE).read_text() == str(os.getpid())
    store.close()
    assert not (data_dir / LOCK_FILE).exists()


# --- item 4: malformed records are set aside -------------------------------------------------------

def key_record(name: str, days: float, **changes) -> dict:
    """A key record named `name` as the server writes it, expiring `days` after NOW."""
    fields = {"org_id": "org-1", "expires_at": format_time(NOW + days * DAY), "label": name,
              "identity_provider": "okta", "notify": ["it@example.com"]}
    return {**keys.new_key(keys.check_fields(fields, partial=False), NOW - 30 * DAY), **changes}


def token_record(**changes) -> dict:
    """A read token record as the server writes it."""
    return {**tokens.token_record(tokens.new_token(), "read", "portal", NOW), **changes}


def delivery_record(key: dict, **changes) -> dict:
    """A `sent` delivery record of the key's current stage, as the reminder cycle writes it."""
    identity = reminders.delivery_id(key["id"], key["expires_at"], "7d", "it@example.com")
    reminder = reminders.Reminder(identity, key["id"], key["expires_at"], "7d", "it@example.com")
    return {**outcome_record(pending_record(reminder, None, "<m1@scimwatch.example>", NOW), None, NOW), **changes}


GOOD_KEYS = [key_record("first", 5), key_record("second", 20), key_record("later", 200)]
GOOD = {"keys": {str(n): key for n, key in enumerate(GOOD_KEYS, 1)},
        "tokens": {"1": token_record()},
        "deliveries": {"1": delivery_record(GOOD_KEYS[0])}}


def without(record: dict, name: str) -> dict:
    """The record with one field taken out."""
    return {field: value for field, value in record.items() if field != name}


# (table, doc id, bad record, the field named)
BAD_RECORDS = {
    "key-without-id": ("keys", "4", without(key_record("no id", 3), "id"), "id"),
    "key-id-a-number": ("keys", "4", key_record("x", 3, id=7), "id"),
    "key-id-empty": ("keys", "4", key_record("x", 3, id=""), "id"),
    "key-without-org": ("keys", "4", without(key_record("x", 3), "org_id"), "org_id"),
    "key-without-expiry": ("keys", "4", without(key_record("x", 3), "expires_at"), "expires_at"),
    "expires-at-a-number": ("keys", "4", key_record("x", 3, expires_at=1796601600), "expires_at"),
    "expires-at-garbage": ("keys", "4", key_record("x", 3, expires_at="next tuesday"), "expires_at"),
    "expires-at-null": ("keys", "4", key_record("x", 3, expires_at=None), "expires_at"),
    "expires-at-not-as-stored": ("keys", "4", key_record("x", 3, expires_at="2026-12-02T10:00:00+02:00"),
                                 "expires_at"),
    "expires-at-year-99999": ("keys", "4", key_record("x", 3, expires_at="99999-01-01T00:00:00Z"), "expires_at"),
    "notify-a-string": ("keys", "4", key_record("x", 3, notify="it@example.com"), "notify"),
    "notify-holds-a-number": ("keys", "4", key_record("x", 3, notify=[5]), "notify"),
    "thresholds-text": ("keys", "4", key_record("x", 3, thresholds=["7"]), "thresholds"),
    "thresholds-empty": ("keys", "4", key_record("x", 3, thresholds=[]), "thresholds"),
    "label-null": ("keys", "4", key_record("x", 3, label=None), "label"),
    "label-an-object": ("keys", "4", key_record("x", 3, label={"a": 1}), "label"),
    "provider-unknown": ("keys", "4", key_record("x", 3, identity_provider="okta2"), "identity_provider"),
    "org-id-with-a-slash": ("keys", "4", key_record("x", 3, org_id="a/b"), "org_id"),
    "created-at-a-number": ("keys", "4", key_record("x", 3, created_at=5), "created_at"),
    "rotated-at-garbage": ("keys", "4", key_record("x", 3, rotated_at="yesterday"), "rotated_at"),
    "history-an-object": ("keys", "4", key_record("x", 3, history={"rotated_at": "x"}), "history"),
    "history-entry-bad": ("keys", "4", key_record("x", 3, history=[{"rotated_at": 1}]), "history"),
    "key-holding-a-key-value": ("keys", "4", key_record("x", 3, api_key="secret-value"), "api_key"),
    "key-a-list": ("keys", "4", ["not", "a", "record"], None),
    "key-a-string": ("keys", "4", "k", None),
    "key-id-taken": ("keys", "4", key_record("copy", 3, id=GOOD_KEYS[0]["id"]), "id"),
    "key-doc-id-text": ("keys", "abc", key_record("x", 3), None),
    "key-doc-id-zero": ("keys", "0", key_record("x", 3), None),
    "key-doc-id-negative": ("keys", "-4", key_record("x", 3), None),
    "key-doc-id-leading-zero": ("keys", "04", key_record("x", 3), None),
    "key-doc-id-huge": ("keys", "9" * 5000, key_record("x", 3), None),
    "key-doc-id-arabic-digits": ("keys", "٤", key_record("x", 3), None),
    "token-without-hash": ("tokens", "2", without(token_record(), "hash"), "hash"),
    "token-hash-a-number": ("tokens", "2", token_record(hash=12), "hash"),
    "token-hash-upper-case": ("tokens", "2", token_record(hash="A" * 64), "hash"),
    "token-scope-unknown": ("tokens", "2", token_record(scope="root"), "scope"),
    "token-without-id": ("tokens", "2", without(token_record(), "id"), "id"),
    "token-label-a-number": ("tokens", "2", token_record(label=3), "label"),
    "token-created-at-garbage": ("tokens", "2", token_record(created_at="?"), "created_at"),
    "token-null": ("tokens", "2", None, None),
    "delivery-without-status": ("deliveries", "2", without(delivery_record(GOOD_KEYS[1]), "status"), "status"),
    "delivery-status-unknown": ("deliveries", "2", delivery_record(GOOD_KEYS[1], status="lost"), "status"),
    "delivery-without-key": ("deliveries", "2", without(delivery_record(GOOD_KEYS[1]), "key_id"), "key_id"),
    "delivery-recipient-null": ("deliveries", "2", delivery_record(GOOD_KEYS[1], recipient=None), "recipient"),
    "delivery-attempts-text": ("deliveries", "2", delivery_record(GOOD_KEYS[1], attempts="1"), "attempts"),
    "delivery-attempts-true": ("deliveries", "2", delivery_record(GOOD_KEYS[1], attempts=True), "attempts"),
    "delivery-updated-at-number": ("deliveries", "2", delivery_record(GOOD_KEYS[1], updated_at=3), "updated_at"),
    "delivery-sent-at-garbage": ("deliveries", "2", delivery_record(GOOD_KEYS[1], sent_at="then"), "sent_at"),
    "delivery-stage-unknown": ("deliveries", "2", delivery_record(GOOD_KEYS[1], stage="soon"), "stage"),
    "delivery-error-a-list": ("deliveries", "2", delivery_record(GOOD_KEYS[1], error=[]), "error"),
    "delivery-id-not-its-own": ("deliveries", "2", delivery_record(GOOD_KEYS[1], id="x"), "id"),
    "delivery-only-an-id": ("deliveries", "2", {"id": "x"}, "key_id"),
    "delivery-an-empty-object": ("deliveries", "2", {}, "id"),
}


def write_data(data_dir, tables: dict) -> None:
    """Write a data file by hand, as an admin with an editor would."""
    (data_dir / DATA_FILE).write_text(json.dumps(tables, indent=1), encoding="utf-8")


def with_bad(table: str, doc_id: str, record) -> dict:
    """The good tables plus one bad record."""
    tables = json.loads(json.dumps(GOOD))
    tables[table][doc_id] = record
    return tables


def quarantine_files(data_dir) -> list:
    """The quarantine files written so far."""
    folder = data_dir / "quarantine"
    return sorted(folder.glob("*.json")) if folder.exists() else []


def open_app(data_dir):
    """An app over data_dir with the admin token and a pinned clock."""
    return create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": lambda: NOW})


def assert_still_watching(client, first_run: bool = True) -> None:
    """Banners answer with the good keys, and a real reminder cycle runs without a failure."""
    banners = client.get("/api/v1/banners", headers=ADMIN)
    assert banners.status_code == 200, banners.get_data(as_text=True)[:300]
    assert [b["key_id"] for b in banners.get_json()["banners"]] == [GOOD_KEYS[0]["id"], GOOD_KEYS[1]["id"]]
    run = client.post("/api/v1/reminders/run", headers=ADMIN)
    assert run.status_code == 200, run.get_data(as_text=True)[:300]
    assert run.get_json()["failed"] == 0 and (run.get_json()["sent"] >= 1) == first_run
    assert client.get("/api/v1/deliveries", headers=ADMIN).status_code == 200
    assert client.get("/api/v1/keys", headers=ADMIN).status_code == 200


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_a_malformed_record_is_set_aside_and_every_other_record_still_watched(data_dir, case, caplog):
    table, doc_id, record, field = BAD_RECORDS[case]
    write_data(data_dir, with_bad(table, doc_id, record))
    app = open_app(data_dir)
    [file] = quarantine_files(data_dir)
    [entry] = json.loads(file.read_text())
    assert entry["record"] == record and entry["table"] == table and entry["doc_id"] == doc_id
    assert entry["field"] == field and entry["reason"] and entry["quarantined_at"]
    on_disk = json.loads((data_dir / DATA_FILE).read_text())
    assert on_disk == {**GOOD, META_TABLE: meta_table()}  # migrated from the old shape (DESIGN §17)
    client = app.test_client()
    assert_still_watching(client)

    health = client.get("/healthz", headers=ADMIN)
    assert health.status_code == 200
    assert health.get_json()["status"] == "degraded"
    assert health.get_json()["db"]["quarantine"]["count"] == 1
    assert health.get_json()["db"]["quarantine"]["records"] == [{"table": table, "doc_id": doc_id, "field": field}]
    [stored] = app.extensions["scimwatch"].store.quarantined
    assert {name: stored[name] for name in ("table", "doc_id", "field")} == {"table": table, "doc_id": doc_id,
                                                                             "field": field}
    assert stored["reason"] == entry["reason"] and stored["file"] == str(file)

    [warning] = [r.getMessage() for r in caplog.records if "quarantine" in r.getMessage()]
    assert table in warning and doc_id[:30] in warning and (field or "record") in warning
    if isinstance(record, dict) and isinstance(record.get("hash"), str):
        assert record["hash"] not in caplog.text
    assert "secret-value" not in caplog.text and "secret-value" not in health.get_data(as_text=True)
    assert GOOD["tokens"]["1"]["hash"] not in caplog.text

    app.extensions["scimwatch"].close()

    again = open_app(data_dir)
    assert quarantine_files(data_dir) == [file] and json.loads(file.read_text()) == [entry]
    assert again.extensions["scimwatch"].store.quarantined == [stored]
    assert again.test_client().get("/healthz").get_json()["status"] == "degraded"
    assert_still_watching(again.test_client(), first_run=False)
    again.extensions["scimwatch"].close()


def test_new_records_get_fresh_doc_ids_after_a_bad_one_is_set_aside(data_dir, admin):
    write_data(data_dir, with_bad("keys", "abc", key_record("x", 3)))
    app = open_app(data_dir)
    created = app.test_client().post("/api/v1/keys", json={"org_id": "org-2", "expires_at": "2027-01-01"},
                                     headers=admin)
    assert created.status_code == 201
    app.extensions["scimwatch"].close()
    on_disk = json.loads((data_dir / DATA_FILE).read_text())["keys"]
    assert sorted(on_disk, key=int) == ["1", "2", "3", "4"] and on_disk["4"]["id"] == created.get_json()["id"]


def test_every_bad_record_of_one_start_goes_to_one_file_and_health_lists_them(data_dir):
    tables = with_bad("keys", "7", without(key_record("no id", 3), "id"))
    tables["tokens"]["5"] = without(token_record(), "hash")
    tables["deliveries"]["x"] = delivery_record(GOOD_KEYS[1])
    write_data(data_dir, tables)
    app = open_app(data_dir)
    assert_still_watching(app.test_client())
    quarantine = app.test_client().get("/healthz", headers=ADMIN).get_json()["db"]["quarantine"]
    assert quarantine == {"count": 3, "records": [{"table": "keys", "doc_id": "7", "field": "id"},
                                                  {"table": "tokens", "doc_id": "5", "field": "hash"},
                                                  {"table": "deliveries", "doc_id": "x", "field": None}]}
    assert len(quarantine_files(data_dir)) == 1
    app.extensions["scimwatch"].close()


def test_health_is_ok_again_once_the_quarantine_file_is_dealt_with(data_dir):
    write_data(data_dir, with_bad("tokens", "2", without(token_record(), "hash")))
    open_app(data_dir).extensions["scimwatch"].close()
    for file in quarantine_files(data_dir):
        file.unlink()
    app = open_app(data_dir)
    health = app.test_client().get("/healthz", headers=ADMIN).get_json()
    assert health["status"] == "ok" and health["db"]["quarantine"] == {"count": 0, "records": []}
    app.extensions["scimwatch"].close()


def test_a_quarantine_file_that_does_not_parse_keeps_health_degraded(data_dir):
    (data_dir / "quarantine").mkdir(mode=0o700)
    (data_dir / "quarantine" / "edited.json").write_text("[{")
    app = open_app(data_dir)
    health = app.test_client().get("/healthz", headers=ADMIN).get_json()
    assert health["status"] == "degraded" and health["db"]["quarantine"]["count"] == 1
    app.extensions["scimwatch"].close()


def test_unknown_tables_are_left_alone(data_dir):
    tables = json.loads(json.dumps(GOOD))
    tables["later_feature"] = {"x": "anything", "2": {"no": "id"}}
    write_data(data_dir, tables)
    app = open_app(data_dir)
    assert app.extensions["scimwatch"].store.quarantined == []
    assert app.test_client().get("/healthz").get_json()["status"] == "ok"
    app.extensions["scimwatch"].close()
    assert json.loads((data_dir / DATA_FILE).read_text()) == {**tables, META_TABLE: meta_table()}


def test_a_table_that_is_not_an_object_stops_start_up_naming_it_and_is_left_alone(data_dir):
    # Not one record but the table's own shape: nothing to set aside record by record.
    tables = {**GOOD, "deliveries": ["not", "records"]}
    write_data(data_dir, tables)
    before = (data_dir / DATA_FILE).read_bytes()
    assert_refused_with_message(started(data_dir), "'deliveries' must be an object", str(data_dir / DATA_FILE))
    assert (data_dir / DATA_FILE).read_bytes() == before


def test_nothing_is_lost_when_the_quarantine_file_cannot_be_written(data_dir):
    write_data(data_dir, with_bad("keys", "4", without(key_record("no id", 3), "id")))
    before = (data_dir / DATA_FILE).read_bytes()
    (data_dir / "quarantine").write_text("a file where the folder should be")
    with pytest.raises(StorageError, match="quarantine"):
        Store(data_dir)
    assert (data_dir / DATA_FILE).read_bytes() == before
    # The lock was released.
    (data_dir / "quarantine").unlink()
    store = Store(data_dir)
    assert len(store.quarantined) == 1
    store.close()


def test_a_read_only_reader_skips_bad_records_and_changes_nothing(data_dir):
    write_data(data_dir, with_bad("keys", "4", without(key_record("no id", 3), "id")))
    before = (data_dir / DATA_FILE).read_bytes()
    listed = run_cli("keys", "list", "--json", env=server_env(data_dir))
    assert listed.returncode == 0, listed.stderr
    assert [k["id"] for k in json.loads(listed.stdout)["keys"]] == [k["id"] for k in GOOD_KEYS]
    assert (data_dir / DATA_FILE).read_bytes() == before and quarantine_files(data_dir) == []
    reader = Store(data_dir, readonly=True)
    assert [(q["table"], q["doc_id"], q["field"], q["file"]) for q in reader.quarantined] == [
        ("keys", "4", "id", None)]
    assert [thaw(k) for k in reader.collection("keys").all()] == GOOD_KEYS
    reader.close()


def test_the_server_sets_bad_records_aside_and_says_so_without_secrets(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    now = utcnow()
    good = keys.new_key(keys.check_fields({"org_id": "org-1", "expires_at": format_time(now + 5 * DAY),
                                           "notify": ["it@example.com"]}, partial=False), now)
    bad_token = without(tokens.token_record(tokens.new_token(), "admin", "x", now), "id")
    write_data(data_dir, {"keys": {"1": good, "2": {"org_id": "org-1", "expires_at": "soon"}},
                          "tokens": {"1": bad_token}})
    env = server_env(data_dir)
    listed = run_cli("keys", "list", env=env)
    assert listed.returncode == 0 and good["id"][:8] in listed.stdout and quarantine_files(data_dir) == []
    created = run_cli("tokens", "create", "--scope", "read", env=env)
    assert created.returncode == 0, created.stderr
    for named in ("keys", "'2'", "id", "tokens", "'1'"):
        assert named in created.stderr
    assert bad_token["hash"] not in created.stderr
    server = LiveServer(data_dir)
    try:
        # A stranger sees that something is wrong; an admin sees what.
        assert server.api("GET", "/healthz", token=None).json()["db"] == {"status": "degraded"}
        health = server.api("GET", "/healthz").json()
        assert health["status"] == "degraded" and health["db"]["quarantine"]["count"] == 2
        assert bad_token["hash"] not in json.dumps(health)
        banners = server.api("GET", "/api/v1/banners", token="read")
        assert banners.status_code == 200 and [b["key_id"] for b in banners.json()["banners"]] == [good["id"]]
        # The scheduler's first check may have sent the reminder already.
        run = server.api("POST", "/api/v1/reminders/run")
        assert run.status_code == 200 and run.json()["failed"] == 0
        sent = server.api("GET", "/api/v1/deliveries").json()["deliveries"]
        assert [(d["key_id"], d["status"]) for d in sent] == [(good["id"], "sent")]
    finally:
        assert server.stop() == 0
    logged = "".join(server.output + server.errors)
    assert bad_token["hash"] not in logged
    [file] = quarantine_files(data_dir)
    assert [entry["record"] for entry in json.loads(file.read_text())] == [
        {"org_id": "org-1", "expires_at": "soon"}, bad_token]


def test_every_record_the_server_writes_passes_the_checks_at_the_next_start(data_dir):
    smtp = SmtpServer()
    clock = Clock(NOW)
    scimwatch = Scimwatch(data_dir, clock, **smtp.settings())
    try:
        plain = scimwatch.add_key(days=5)
        full = scimwatch.add_key(days=12, org_name="Acme", directory_id="dir-1", directory_name="Okta EU",
                                 identity_provider="entra", kind="admin_api_key", label="prod", notes="a\nb",
                                 thresholds=[20, 5], notify=["a@example.com", "B@example.com"])
        patched = scimwatch.client.patch(f"/api/v1/keys/{full['id']}", json={"notes": None, "thresholds": None},
                                         headers=scimwatch.headers)
        assert patched.status_code == 200
        scimwatch.rotate(plain["id"], expires_at=format_time(NOW + 3 * DAY))
        scimwatch.app.extensions["scimwatch"].issue_token("read", "")
        smtp.stop()
        scimwatch.run()
        scimwatch.rotate(full["id"])
        smtp.start()
        clock.advance(hours=1)
        scimwatch.run()
        scimwatch.add_key(days=2)
        smtp.stop()
        scimwatch.run()
        statuses = {d["status"] for d in scimwatch.deliveries()}
        assert statuses == {"sent", "cancelled", "failed"}, statuses
        scimwatch.restart()
        assert scimwatch.app.extensions["scimwatch"].store.quarantined == []
        assert scimwatch.health()["status"] == "ok" and quarantine_files(data_dir) == []
    finally:
        scimwatch.close()
        smtp.stop()
