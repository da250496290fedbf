"""The journal beside the data file: replay after a crash, a torn or damaged line, a stale or planted journal."""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ROOT, stored_bytes

from server.store.files import StorageError, WriteFailed
from server.store.journal import JOURNAL_FILE
from server.store.storage import DATA_FILE, Store, stored_tables, thaw

# A writer that applies random batches (put or remove by id) and says "try <batch>" before each and "ack"
# once the store has acknowledged it. The journal is folded into the data file every few KiB, so kills
# also land inside compactions.
WRITER = """
import json, random, sys
from server.store import storage
storage.COMPACT_FLOOR = 4096
store = storage.Store(sys.argv[1])
things = store.collection("things")
rng = random.Random(int(sys.argv[2]))
step = 0
while True:
    step += 1
    ids = sorted(document["id"] for document in things.all())
    batch = []
    for _ in range(rng.choice((1, 1, 1, 3))):
        if ids and rng.random() < 0.3:
            batch.append(["remove", ids.pop(rng.randrange(len(ids)))])
        else:
            name = rng.choice(ids) if ids and rng.random() < 0.5 else f"{sys.argv[2]}-{step}-{len(batch)}"
            batch.append(["put", name, {"id": name, "step": step, "text": "x" * rng.randrange(300)}])
    # One write, so a kill cannot leave half a line: the batch starts only once the whole line is out.
    sys.stdout.write("try " + json.dumps(batch) + "\\n")
    sys.stdout.flush()
    with store.batch():
        for operation in batch:
            if operation[0] == "remove":
                things.remove(operation[1])
            elif not things.replace(operation[2]):
                things.insert(operation[2])
    print("ack", flush=True)
"""


def applied(state: dict, batch: list) -> dict:
    """Return the state after one batch of the writer."""
    state = dict(state)
    for operation in batch:
        if operation[0] == "remove":
            state.pop(operation[1], None)
        else:
            state[operation[1]] = operation[2]
    return state


def loaded(data_dir) -> dict:
    """Open the folder as the next start would and return its documents by id."""
    store = Store(data_dir)
    try:
        return {document["id"]: thaw(document) for document in store.collection("things").all()}
    finally:
        store.close()


def test_after_sigkill_at_random_points_the_loaded_data_equals_the_acknowledged_writes(data_dir):
    rng = random.Random(15)
    state: dict = {}
    acknowledged = 0
    for trial in range(25):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(data_dir), str(trial)], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True)
        # Wait until it writes, then kill it at a random moment: in a write, a compaction or between.
        lines = [writer.stdout.readline()]
        time.sleep(rng.uniform(0, 0.15))
        writer.kill()
        writer.wait()
        lines += writer.stdout.read().splitlines()
        writer.stdout.close()
        in_flight = None
        for line in lines:
            if line.strip() == "ack":
                state, in_flight = applied(state, in_flight), None
                acknowledged += 1
            elif line.startswith("try "):
                in_flight = json.loads(line[4:])
        found = loaded(data_dir)
        # The batch in flight when the kill came may or may not be there, but never half of it.
        if in_flight is not None and found != state:
            state = applied(state, in_flight)
        assert found == state
    assert acknowledged >= 100


def copy_of_folder(data_dir, target):
    """Copy the data file and journal of a store that is still open, as a crash would leave them."""
    target.mkdir(mode=0o700)
    for name in (DATA_FILE, JOURNAL_FILE):
        shutil.copy(data_dir / name, target / name)
    return target


@pytest.fixture
def crashed(data_dir, tmp_path):
    """A folder left by a store that wrote a, b and c (one line each) and never stopped."""
    store = Store(data_dir)
    things = store.collection("things")
    for name in "abc":
        things.insert({"id": name, "text": "é ✓"})
    folder = copy_of_folder(data_dir, tmp_path / "crashed")
    store.close()
    return folder


def journal_lines(folder) -> list[bytes]:
    return (folder / JOURNAL_FILE).read_bytes().splitlines(keepends=True)


def test_a_crashed_store_loads_every_write_from_its_journal_and_folds_it_in(crashed):
    assert len(journal_lines(crashed)) == 4
    assert sorted(loaded(crashed)) == ["a", "b", "c"]
    # Start-up folded the journal into the data file and began an empty one.
    assert sorted(document["id"] for document in json.loads((crashed / DATA_FILE).read_text())["things"].values()) \
        == ["a", "b", "c"]
    assert len(journal_lines(crashed)) == 1


@pytest.mark.parametrize("cut", [1, 10, -2])
def test_a_torn_last_line_is_ignored_and_the_writes_before_it_kept(crashed, cut, caplog):
    lines = journal_lines(crashed)
    (crashed / JOURNAL_FILE).write_bytes(b"".join(lines[:-1]) + lines[-1][:cut])
    assert sorted(loaded(crashed)) == ["a", "b"]
    assert "torn line" in caplog.text


def test_a_damaged_last_line_is_ignored_as_a_write_never_acknowledged(crashed):
    lines = journal_lines(crashed)
    (crashed / JOURNAL_FILE).write_bytes(b"".join(lines[:-1]) + lines[-1].replace(b'"c"', b'"C"'))
    assert sorted(loaded(crashed)) == ["a", "b"]


def test_a_damaged_line_before_the_last_stops_start_up_naming_the_file_and_line(crashed):
    lines = journal_lines(crashed)
    lines[2] = lines[2].replace(b'"b"', b'"B"')
    (crashed / JOURNAL_FILE).write_bytes(b"".join(lines))
    before = stored_bytes(crashed)
    with pytest.raises(StorageError) as raised:
        Store(crashed)
    assert f"journal {crashed / JOURNAL_FILE} line 3 is damaged" in str(raised.value)
    # Nothing was dropped or rewritten.
    assert stored_bytes(crashed) == before


def test_a_journal_that_does_not_continue_the_data_file_is_not_applied(crashed, caplog):
    # The data file copied in by hand (not through restore) from a folder that never held a, b or c.
    (crashed / DATA_FILE).write_text(json.dumps({"things": {"1": {"id": "z"}}}))
    assert sorted(loaded(crashed)) == ["z"]
    assert "does not continue the data file" in caplog.text


def test_a_journal_that_is_a_link_is_refused_at_start_and_never_written_through(crashed, tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes((crashed / JOURNAL_FILE).read_bytes())
    (crashed / JOURNAL_FILE).unlink()
    (crashed / JOURNAL_FILE).symlink_to(victim)
    with pytest.raises(StorageError, match="symbolic link"):
        Store(crashed)


def test_a_journal_replaced_while_running_is_not_written_through_and_the_next_write_starts_afresh(data_dir,
                                                                                                tmp_path):
    store = Store(data_dir)
    things = store.collection("things")
    things.insert({"id": "a"})
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    (data_dir / JOURNAL_FILE).unlink()
    (data_dir / JOURNAL_FILE).symlink_to(victim)
    with pytest.raises(WriteFailed, match="nothing was changed"):
        things.insert({"id": "b"})
    assert sorted(document["id"] for document in things.all()) == ["a"]
    # The next write rewrites the data file and replaces the link with a journal of its own.
    things.insert({"id": "c"})
    assert victim.read_bytes() == b"precious\n"
    assert not (data_dir / JOURNAL_FILE).is_symlink()
    assert sorted(stored_tables(data_dir)["things"][doc_id]["id"] for doc_id in stored_tables(data_dir)["things"]) \
        == ["a", "c"]
    store.close()


def test_a_write_costs_one_appended_line_and_the_data_file_is_rewritten_only_when_the_journal_outgrows_it(
        data_dir, monkeypatch):
    store = Store(data_dir)
    things = store.collection("things")
    things.put_many([{"id": f"seed-{n}", "text": "s" * 500} for n in range(2000)])
    store.close()
    store = Store(data_dir)
    things = store.collection("things")
    data_file = (data_dir / DATA_FILE).stat()
    for n in range(20):
        things.replace({"id": f"seed-{n}", "text": "changed"})
    # Twenty writes: twenty lines, the data file untouched.
    assert len(journal_lines(data_dir)) == 21
    assert (data_dir / DATA_FILE).stat().st_ino == data_file.st_ino
    # Writes until the journal holds a quarter of the data file's size: then it is folded in.
    while (data_dir / DATA_FILE).stat().st_ino == data_file.st_ino:
        things.replace({"id": "seed-0", "text": "t" * 2000})
    assert len(journal_lines(data_dir)) == 1
    assert (data_dir / JOURNAL_FILE).stat().st_size < 200
    store.close()
    assert thaw(loaded(data_dir)["seed-0"]) == {"id": "seed-0", "text": "t" * 2000}


def test_a_backup_is_one_file_holding_the_writes_still_in_the_journal(data_dir):
    store = Store(data_dir)
    things = store.collection("things")
    things.insert({"id": "a"})
    things.remove("a")
    things.insert({"id": "b"})
    # The data file has not been rewritten since start: these writes are only in the journal.
    assert "things" not in json.loads((data_dir / DATA_FILE).read_text())
    backup = json.loads(store.snapshot())
    assert [document["id"] for document in backup["things"].values()] == ["b"]
    assert backup == stored_tables(data_dir)
    store.close()


def test_a_malformed_record_in_the_journal_is_set_aside_at_start_like_one_in_the_data_file(data_dir, tmp_path):
    store = Store(data_dir)
    # Collection stores what it is given; the table rules are checked at load (server/domain/records.py).
    store.collection("tokens").insert({"id": "t1", "hash": "not a hash"})
    crashed = copy_of_folder(data_dir, tmp_path / "crashed")
    store.close()
    reopened = Store(crashed)
    assert reopened.collection("tokens").all() == []
    [entry] = reopened.quarantined
    assert (entry["table"], entry["field"]) == ("tokens", "scope")
    reopened.close()
    assert stored_tables(crashed).get("tokens", {}) == {}


# A writer whose files may not grow past a limit (a full disk for files that size), dying without a clean stop.
LIMITED_WRITER = """
import os, resource, sys
from server.store.storage import Store
store = Store(sys.argv[1])
things = store.collection("things")
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
for n in range(int(sys.argv[3])):
    things.insert({"id": f"new-{n}", "text": "x" * 500})
print(store.write_failure, flush=True)
os._exit(0)
"""


def test_a_data_file_that_cannot_be_rewritten_leaves_writes_going_to_the_journal(data_dir):
    store = Store(data_dir)
    store.collection("things").put_many([{"id": f"seed-{n}", "text": "s" * 500} for n in range(2000)])
    store.close()
    snapshot = (data_dir / DATA_FILE).stat().st_size
    # The journal may grow to 600 KB, the data file (1.1 MB) not be rewritten: each fold of the journal
    # into it fails once the journal passes a quarter of it, and every write must still be kept.
    result = subprocess.run([sys.executable, "-c", LIMITED_WRITER, str(data_dir), "600000", "800"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"
    assert "could not be folded into the data file" in result.stderr
    assert (data_dir / DATA_FILE).stat().st_size == snapshot
    assert len(loaded(data_dir)) == 2800
