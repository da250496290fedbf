"""The CLI while a server runs (DESIGN §11): the same commands, outputs and exit codes, through the API."""
from __future__ import annotations

import json
import os
import stat

import pytest
from conftest import normalised_cli_output, run_cli

from server.cli_access import TOKEN_FILE

ORG = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"




def test_keys_add_while_serving_is_seen_by_the_server_at_once(live_server):
    added = run_cli("keys", "add", "--org-id", ORG, "--expires-at", "2026-12-20", "--directory-name", "Okta EU",
                    env=live_server.env)
    assert added.returncode == 0, added.stderr
    key = json.loads(added.stdout)
    served = live_server.api("GET", f"/api/v1/keys/{key['id']}")
    assert served.status_code == 200 and served.json()["directory_name"] == "Okta EU"
    assert key["id"][:8] in run_cli("keys", "list", env=live_server.env).stdout


def test_a_token_made_while_serving_works_without_a_restart_and_revoking_it_ends_it(live_server):
    created = run_cli("tokens", "create", "--scope", "read", "--label", "portal", env=live_server.env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert live_server.api("GET", "/api/v1/banners", token=token).status_code == 200
    listed = run_cli("tokens", "list", env=live_server.env).stdout
    token_id = next(line.split()[0] for line in listed.splitlines() if line.endswith("portal"))

    revoked = run_cli("tokens", "revoke", token_id, env=live_server.env)

    assert revoked.returncode == 0 and revoked.stdout.strip() == f"revoked {token_id}"
    assert live_server.api("GET", "/api/v1/banners", token=token).status_code == 401


def test_remind_dry_run_while_serving_reports_what_is_due_and_sends_nothing(live_server):
    live_server.add_key(org_id=ORG, expires_at="2026-01-01", notify=["it@acme.example"])
    outbox = live_server.data_dir / "outbox"
    before = sorted(outbox.iterdir()) if outbox.exists() else []

    result = run_cli("remind", "--dry-run", env=live_server.env)

    assert result.returncode == 0, result.stderr
    assert "it@acme.example" in result.stdout and result.stdout.strip().endswith("due")
    assert (sorted(outbox.iterdir()) if outbox.exists() else []) == before


SCRIPT = [
    ["keys", "add", "--org-id", ORG, "--expires-at", "2026-12-20", "--directory-name", "Okta"],
    ["keys", "add", "--org-id", ORG, "--expires-at", "2026-02-30"],
    ["keys", "add", "--org-id", "not-a-uuid", "--expires-at", "2027-01-01", "--notify", "nobody"],
    ["keys", "rotate", "missing-id"],
    ["keys", "rotate", "missing-id", "--expires-at", "soon"],
    ["keys", "remove", "missing-id"],
    ["keys", "list"],
    ["keys", "list", "--json", "--org-id", ORG],
    ["tokens", "create", "--scope", "calendar", "--label", "team calendar"],
    ["tokens", "create", "--scope", "read", "--label", "x" * 201],
    ["tokens", "revoke", "missing-id"],
    ["remind", "--dry-run"],
    ["remind"],
]


@pytest.fixture
def stopped_and_serving(tmp_path, live_server_factory):
    """Two data folders: one with no server, one held by a running server."""
    from conftest import server_env

    return server_env(tmp_path / "alone"), live_server_factory().env


def test_outputs_and_exit_codes_are_the_same_with_or_without_a_running_server(stopped_and_serving):
    alone, serving = stopped_and_serving
    for args in SCRIPT:
        without = run_cli(*args, env=alone)
        with_server = run_cli(*args, env=serving)
        assert with_server.returncode == without.returncode, (args, with_server.stderr, without.stderr)
        assert normalised_cli_output(with_server.stdout) == normalised_cli_output(without.stdout), args
        assert normalised_cli_output(with_server.stderr) == normalised_cli_output(without.stderr), args


def test_the_cli_token_file_is_private_while_serving_and_gone_after(live_server):
    path = live_server.data_dir / TOKEN_FILE
    info = path.lstat()
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    first = json.loads(path.read_text())["token"]
    # The file's token is an admin token only while this server runs.
    assert live_server.api("GET", "/api/v1/keys", token=first).status_code == 200

    assert live_server.stop() == 0

    assert not path.exists()


def test_a_token_file_not_private_or_a_link_is_ignored(live_server, tmp_path):
    path = live_server.data_dir / TOKEN_FILE
    os.chmod(path, 0o644)
    refused = run_cli("keys", "rotate", "missing-id", env=live_server.env)
    assert refused.returncode == 1 and "in use by another scimwatch process" in refused.stderr
    os.chmod(path, 0o600)
    assert run_cli("keys", "rotate", "missing-id", env=live_server.env).stderr.strip().endswith(
        "no key with id 'missing-id'")
