"""`keys import` and `keys export` on the command line, with and without a running server (DESIGN §11, §16)."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from conftest import ROOT, normalised_cli_output, run_cli, server_env

ORG = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
GOOD = (f"org_id,directory_name,identity_provider,expires_at,notify,notes\r\n"
        f"{ORG},Okta EU,okta,2026-12-20,it@acme.example;sec@acme.example,\"two\r\nlines\"\r\n"
        f"{ORG},=Formula directory,entra,2027-01-15,,\r\n")
BAD = f"org_id,expires_at,label\r\n{ORG},2027-02-30,x\r\n,2027-01-01,y\r\n{ORG},2027-01-01,fine\r\n"




@pytest.fixture
def both(tmp_path, live_server_factory):
    """Two environments: a data folder with no server, and one held by a running server."""
    return {"alone": server_env(tmp_path / "alone"), "serving": live_server_factory().env}


@pytest.fixture
def files(tmp_path):
    """The good and bad CSV files, and a JSON one."""
    (tmp_path / "good.csv").write_text(GOOD, encoding="utf-8", newline="")
    (tmp_path / "bad.csv").write_text(BAD, encoding="utf-8", newline="")
    (tmp_path / "extra.json").write_text(json.dumps({"keys": [{"org_id": ORG, "expires_at": "2027-03-01",
                                                               "kind": "api_token", "label": "ci"}]}))
    (tmp_path / "noextension").write_text(json.dumps({"keys": []}))
    return tmp_path


SCRIPT = [
    ["keys", "import", "{bad.csv}"],
    ["keys", "import", "{good.csv}", "--dry-run"],
    ["keys", "import", "{good.csv}"],
    ["keys", "import", "{good.csv}"],
    ["keys", "import", "{extra.json}"],
    ["keys", "import", "{noextension}"],
    ["keys", "import", "{missing.csv}"],
    ["keys", "export", "--format", "csv"],
    ["keys", "export", "--format", "json"],
    ["keys", "export", "--format", "xlsx"],
    ["keys", "list"],
]


def test_import_and_export_give_the_same_output_and_exit_codes_with_or_without_a_server(both, files):
    outputs = {}
    for name, env in both.items():
        outputs[name] = []
        for args in SCRIPT:
            result = run_cli(*(re.sub(r"{(.+)}", lambda m: str(files / m.group(1)), arg) for arg in args), env=env)
            outputs[name].append((args, result.returncode, normalised_cli_output(result.stdout),
                                  normalised_cli_output(result.stderr)))
    assert outputs["serving"] == outputs["alone"]
    by_args = {tuple(args): (code, out, err) for args, code, out, err in outputs["alone"]}
    code, _, err = by_args[("keys", "import", "{bad.csv}")]
    assert code == 1 and "2 rows cannot be imported; nothing was changed" in err
    assert "row 2: expires_at: '2027-02-30' is not a real date" in err and "row 3: org_id: is required" in err
    assert by_args[("keys", "import", "{good.csv}", "--dry-run")][:2] == (
        0, "dry run, nothing written: 2 created, 0 updated, 0 unchanged\n")
    assert by_args[("keys", "import", "{good.csv}")][1] == "0 created, 0 updated, 2 unchanged\n"
    assert by_args[("keys", "import", "{extra.json}")][1] == "1 created, 0 updated, 0 unchanged\n"
    assert by_args[("keys", "import", "{noextension}")][1] == "0 created, 0 updated, 0 unchanged\n"
    exported = by_args[("keys", "export", "--format", "csv")][1]
    assert exported.startswith("\ufeffid,org_id,") and "'=Formula directory" in exported


def test_an_export_piped_back_into_import_changes_nothing(tmp_path):
    env = server_env(tmp_path / "data")
    (tmp_path / "good.csv").write_text(GOOD, encoding="utf-8", newline="")
    assert run_cli("keys", "import", str(tmp_path / "good.csv"), env=env).returncode == 0
    exported = subprocess.run([sys.executable, "-m", "server", "keys", "export", "--format", "csv"], cwd=ROOT,
                              env=env, capture_output=True, timeout=60, check=True).stdout

    again = subprocess.run([sys.executable, "-m", "server", "keys", "import", "-"], cwd=ROOT, env=env, input=exported,
                           capture_output=True, timeout=60)

    assert again.returncode == 0, again.stderr
    assert again.stdout == b"0 created, 0 updated, 2 unchanged\n"


def test_a_file_over_the_import_limit_is_refused_before_it_is_sent(tmp_path):
    big = tmp_path / "big.csv"
    with open(big, "wb") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)
    result = run_cli("keys", "import", str(big), env=server_env(tmp_path / "data"))
    assert result.returncode == 1 and "larger than the 16 MiB import limit" in result.stderr
