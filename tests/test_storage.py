"""The data folder: persistence, frozen reads, refusal of corrupt files and of a second owner."""
import json
import subprocess
import sys

import pytest
from conftest import ROOT, server_env

from server.store.files import DataFolderBusy, StorageError
from server.store.journal import JOURNAL_FILE
from server.store.storage import DATA_FILE, Store, stored_tables, thaw


def test_documents_survive_closing_and_reopening(data_dir):
    # A table without record rules: the key, token and delivery rules are tested in test_storage_hardening.py.
    store = Store(data_dir)
    store.collection("things").insert({"id": "k1", "org_id": "o", "notify": ["a@b.example"]})
    store.close()
    reopened = Store(data_dir)
    assert thaw(reopened.collection("things").get("k1")) == {"id": "k1", "org_id": "o", "notify": ["a@b.example"]}
    reopened.close()


def test_returned_documents_cannot_change_the_stored_ones(data_dir):
    store = Store(data_dir)
    keys = store.collection("keys")
    keys.insert({"id": "k1", "notify": ["a@b.example"], "history": [{"at": "x"}]})
    frozen = keys.get("k1")
    with pytest.raises(TypeError):
        frozen["notify"] = []
    with pytest.raises(AttributeError):
        frozen["notify"].append("c@d.example")
    with pytest.raises(TypeError):
        frozen["history"][0]["at"] = "y"
    copy = thaw(frozen)
    copy["notify"].append("c@d.example")
    copy["history"][0]["at"] = "y"
    assert thaw(keys.get("k1")) == {"id": "k1", "notify": ["a@b.example"], "history": [{"at": "x"}]}
    store.close()


def test_a_batch_is_written_once_and_kept_whole_or_not_at_all(data_dir):
    store = Store(data_dir)
    keys = store.collection("keys")
    with store.batch():
        keys.insert({"id": "a"})
        keys.insert({"id": "b"})
    def half_a_batch():
        with store.batch():
            keys.insert({"id": "c"})
            keys.remove("a")
            raise RuntimeError("half way")

    with pytest.raises(RuntimeError, match="half way"):
        half_a_batch()
    assert sorted(d["id"] for d in keys.all()) == ["a", "b"]
    assert sorted(d["id"] for d in stored_tables(data_dir)["keys"].values()) == ["a", "b"]
    # The first batch is one journal line after the header; the dropped one left none.
    assert len((data_dir / JOURNAL_FILE).read_bytes().splitlines()) == 2
    store.close()


def test_replace_and_remove_report_missing_documents(data_dir):
    store = Store(data_dir)
    keys = store.collection("keys")
    assert keys.replace({"id": "nope"}) is False
    assert keys.remove("nope") is False
    keys.insert({"id": "a", "x": 1})
    assert keys.replace({"id": "a", "y": 2}) is True
    assert thaw(keys.get("a")) == {"id": "a", "y": 2}
    store.close()


def test_a_data_file_that_does_not_parse_is_refused_and_left_alone(data_dir):
    broken = '{"keys": {"1": {"id": "k1"'
    (data_dir / DATA_FILE).write_text(broken)
    with pytest.raises(StorageError) as raised:
        Store(data_dir)
    assert str(data_dir / DATA_FILE) in str(raised.value) and "does not parse" in str(raised.value)
    started = subprocess.run([sys.executable, "-m", "server"], cwd=ROOT, env=server_env(data_dir),
                             capture_output=True, text=True, timeout=30)
    assert started.returncode != 0
    assert "does not parse" in started.stderr and DATA_FILE in started.stderr
    assert "Traceback" not in started.stderr
    assert (data_dir / DATA_FILE).read_text() == broken
    # The lock was released, so a fixed file can be used at once.
    (data_dir / DATA_FILE).write_text("{}")
    Store(data_dir).close()


def test_a_second_owner_of_the_data_folder_is_refused(data_dir):
    first = Store(data_dir)
    with pytest.raises(DataFolderBusy):
        Store(data_dir)
    first.close()
    Store(data_dir).close()


def test_a_second_server_process_on_the_same_folder_exits_at_once(live_server):
    started = subprocess.run([sys.executable, "-m", "server"], cwd=ROOT, env=live_server.env,
                             capture_output=True, text=True, timeout=30)
    assert started.returncode != 0
    assert "in use by another scimwatch process" in started.stderr
    assert str(live_server.process.pid) in started.stderr
    assert live_server.api("GET", "/healthz").status_code == 200


def test_a_leftover_temp_file_from_a_crash_is_removed_on_start(data_dir):
    (data_dir / (DATA_FILE + ".tmp")).write_text('{"keys": {"1": {"id": "half')
    Store(data_dir).close()
    assert not (data_dir / (DATA_FILE + ".tmp")).exists()


def test_a_read_only_store_reads_without_the_lock_and_refuses_writes(data_dir):
    owner = Store(data_dir)
    owner.collection("things").insert({"id": "a"})
    reader = Store(data_dir, readonly=True)
    assert [d["id"] for d in reader.collection("things").all()] == ["a"]
    with pytest.raises(StorageError):
        reader.collection("things").insert({"id": "b"})
    owner.close()


def test_the_data_file_always_holds_exactly_the_stored_documents(data_dir):
    store = Store(data_dir)
    keys, tokens = store.collection("keys"), store.collection("tokens")
    expected = {}
    for step in range(60):
        doc_id = f"k{step % 7}"
        if doc_id in expected and step % 3 == 0:
            keys.remove(doc_id)
            del expected[doc_id]
        elif doc_id in expected:
            expected[doc_id] = {"id": doc_id, "step": step, "text": "é \" \\ ✓", "list": [step]}
            keys.replace(expected[doc_id])
        else:
            expected[doc_id] = {"id": doc_id, "step": step}
            keys.insert(expected[doc_id])
        if step % 10 == 0:
            tokens.insert({"id": f"t{step}", "hash": "x"})
        on_disk = stored_tables(data_dir)
        assert {d["id"]: d for d in on_disk["keys"].values()} == expected
        assert len(on_disk["tokens"]) == step // 10 + 1
    store.close()


def test_put_many_after_a_restart_keeps_replaced_and_new_documents_apart(data_dir):
    first = Store(data_dir)
    first.collection("things").put_many([{"id": "a", "status": "failed"}, {"id": "b", "status": "failed"}])
    first.close()
    # A fresh process: TinyDB has not counted its doc ids yet, and "b" holds the highest one.
    second = Store(data_dir)
    second.collection("things").put_many([{"id": "new", "status": "pending"}, {"id": "b", "status": "sent"}])
    second.close()
    third = Store(data_dir)
    stored = {d["id"]: d["status"] for d in third.collection("things").all()}
    assert stored == {"a": "failed", "b": "sent", "new": "pending"}
    on_disk = json.loads((data_dir / DATA_FILE).read_text())["things"]
    assert len(on_disk) == 3
    third.close()


def test_an_insert_after_put_many_gets_a_fresh_doc_id(data_dir):
    store = Store(data_dir)
    # A table without load-time record checks, so these bare documents stay as written.
    keys = store.collection("things")
    keys.insert({"id": "a"})
    keys.put_many([{"id": "b"}, {"id": "c"}])
    keys.insert({"id": "d"})
    assert sorted(d["id"] for d in keys.all()) == ["a", "b", "c", "d"]
    store.close()
    reopened = Store(data_dir)
    assert sorted(d["id"] for d in reopened.collection("things").all()) == ["a", "b", "c", "d"]
    reopened.close()
