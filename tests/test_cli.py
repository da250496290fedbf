"""`python -m server`: serving, first-start token, clean stop, and the keys and tokens commands."""
import json
import re
import signal
import subprocess
import sys

import pytest
import requests
from conftest import ROOT, LiveServer, run_cli, server_env


@pytest.fixture
def env(data_dir):
    return server_env(data_dir)


def test_keys_add_list_rotate_and_remove(env):
    added = run_cli("keys", "add", "--org-id", "org-1", "--expires-at", "2026-12-06", "--idp", "okta",
                    "--directory-name", "Okta", "--notify", "a@acme.example", "--notify", "b@acme.example",
                    "--threshold", "10", "--threshold", "2", env=env)
    assert added.returncode == 0, added.stderr
    key = json.loads(added.stdout)
    assert key["notify"] == ["a@acme.example", "b@acme.example"] and key["thresholds"] == [10, 2]
    listed = run_cli("keys", "list", env=env).stdout.splitlines()
    assert listed[0].split() == ["STATUS", "DAYS", "DIRECTORY", "ORG", "EXPIRES", "(UTC)", "ID"]
    assert listed[1].split()[2:] == ["Okta", "org-1", "2026-12-06T00:00:00Z", key["id"][:8]]
    # The short id that the listing shows is enough to rotate the key.
    rotated = run_cli("keys", "rotate", key["id"][:8], "--expires-at", "2027-12-06", env=env)
    assert json.loads(rotated.stdout)["expires_at"] == "2027-12-06T00:00:00Z"
    as_json = json.loads(run_cli("keys", "list", "--json", "--org-id", "org-1", env=env).stdout)
    assert [k["history"][0]["previous_expires_at"] for k in as_json["keys"]] == ["2026-12-06T00:00:00Z"]
    removed = run_cli("keys", "remove", key["id"], env=env)
    assert removed.returncode == 0
    assert "no keys recorded" in run_cli("keys", "list", env=env).stdout


@pytest.mark.parametrize("args, says", [
    (["keys", "add", "--org-id", "o"], "Missing option '--expires-at'"),
    (["keys", "add", "--org-id", "o", "--expires-at", "2026-02-30"], "--expires-at: '2026-02-30' is not a real date"),
    (["keys", "add", "--org-id", "o", "--expires-at", "2026-12-01", "--idp", "azure"],
     "--identity-provider: must be one of"),
    (["keys", "add", "--org-id", "o", "--expires-at", "2026-12-01", "--threshold", "soon"],
     "'soon' is not a whole number of days"),
    # int() takes other scripts' digits; a threshold takes 0-9 only, as SCIMWATCH_THRESHOLDS does.
    (["keys", "add", "--org-id", "o", "--expires-at", "2026-12-01", "--threshold", "\u0663"],
     "'\u0663' is not a whole number of days"),
    (["keys", "rotate", "missing-id"], "no key with id 'missing-id'"),
    (["keys", "remove", "missing-id"], "no key with id 'missing-id'"),
    (["tokens", "create", "--scope", "root"], "'root' is not one of 'admin', 'read', 'track', 'calendar', 'metrics'"),
    (["keys", "explode"], "No such command 'explode'"),
])
def test_bad_arguments_get_a_clear_error(env, args, says):
    result = run_cli(*args, env=env)
    assert result.returncode != 0
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_created_token_is_printed_once_and_works(env):
    created = run_cli("tokens", "create", "--scope", "read", "--label", "intranet", env=env)
    token = created.stdout.strip()
    assert re.fullmatch(r"sw_[A-Za-z0-9_-]{40,}", token)
    assert "shown only once" in created.stderr
    server = LiveServer(env["SCIMWATCH_DATA_DIR"], {"SCIMWATCH_ADMIN_TOKEN": "x" * 20})
    try:
        assert server.api("GET", "/api/v1/banners", token=token).status_code == 200
        assert server.api("GET", "/api/v1/keys", token=token).status_code == 403
    finally:
        server.stop()


@pytest.mark.parametrize("variable, value", [
    ("SCIMWATCH_PORT", "eighty"), ("SCIMWATCH_PORT", "70000"), ("SCIMWATCH_PUBLIC_BANNERS", "maybe"),
    ("SCIMWATCH_BANNER_ORIGINS", "https://*.example.com"), ("SCIMWATCH_NOTIFY", "nobody"),
    ("SCIMWATCH_THRESHOLDS", "30,fortnight"), ("SCIMWATCH_MAIL_BACKEND", "pigeon"),
    ("SCIMWATCH_CHECK_MINUTES", "0"), ("SCIMWATCH_EXPIRED_REPEAT_DAYS", "-1"),
    ("SCIMWATCH_SMTP_SECURITY", "tls"), ("SCIMWATCH_PUBLIC_URL", "ftp://x"),
])
def test_a_setting_that_does_not_parse_stops_start_up_naming_it(env, variable, value):
    result = subprocess.run([sys.executable, "-m", "server"], cwd=ROOT, env={**env, variable: value},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert variable in result.stderr and value in result.stderr
    assert "Traceback" not in result.stderr


def test_a_secret_file_setting_is_read_and_a_missing_one_named(env, tmp_path):
    token_file = tmp_path / "admin-token"
    token_file.write_text("from-a-file-token\n")
    server = LiveServer(env["SCIMWATCH_DATA_DIR"],
                        {"SCIMWATCH_ADMIN_TOKEN": "", "SCIMWATCH_ADMIN_TOKEN_FILE": str(token_file)})
    try:
        assert server.api("GET", "/api/v1/keys", token="from-a-file-token").status_code == 200
    finally:
        server.stop()
    result = subprocess.run([sys.executable, "-m", "server"], cwd=ROOT, capture_output=True, text=True, timeout=30,
                            env={**env, "SCIMWATCH_ADMIN_TOKEN": "", "SCIMWATCH_ADMIN_TOKEN_FILE": "/nonexistent"})
    assert result.returncode != 0 and "SCIMWATCH_ADMIN_TOKEN_FILE" in result.stderr


def first_start_output(env) -> tuple[str, int]:
    process = subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "listening on" in line:
            break
    url = re.search(r"http://\S+", lines[-1]).group(0)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=20)
    return "".join(lines), process.returncode, url


def test_a_first_start_prints_an_admin_token_once_that_works(env):
    env = {**env, "SCIMWATCH_ADMIN_TOKEN": ""}
    output, code, _url = first_start_output(env)
    assert code == 0
    token = re.search(r"admin token: (\S+)", output).group(1)
    assert re.search(r"listening on http://127\.0\.0\.1:\d+", output)
    again, code, _ = first_start_output(env)
    assert code == 0 and "SCIMWATCH admin token:" not in again and token not in again
    server = LiveServer(env["SCIMWATCH_DATA_DIR"], {"SCIMWATCH_ADMIN_TOKEN": ""})
    try:
        assert server.api("GET", "/api/v1/keys", token=token).status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_server_stops_cleanly_and_keeps_its_data(live_server_factory, data_dir, sig):
    server = live_server_factory(data_dir=data_dir)
    key = server.add_key(org_id="org-1", expires_at="2026-12-06")
    assert server.stop(sig) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/healthz", timeout=2)
    restarted = live_server_factory(data_dir=data_dir)
    assert restarted.api("GET", f"/api/v1/keys/{key['id']}").json() == key


def test_without_the_servers_token_file_the_cli_refuses_to_write_and_says_why(live_server):
    (live_server.data_dir / "cli.token").unlink()
    result = run_cli("keys", "add", "--org-id", "o", "--expires-at", "2026-12-06", env=live_server.env)
    assert result.returncode != 0 and "in use by another scimwatch process" in result.stderr
    assert live_server.api("GET", "/api/v1/keys").json()["keys"] == []
    listed = run_cli("keys", "list", env=live_server.env)
    assert listed.returncode == 0


def test_a_port_in_use_is_reported_plainly(live_server):
    port = live_server.url.rsplit(":", 1)[1]
    env = server_env(live_server.data_dir.parent / "other", {"SCIMWATCH_PORT": port})
    result = subprocess.run([sys.executable, "-m", "server"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode != 0 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_tokens_are_listed_without_their_value_and_can_be_revoked(env):
    token = run_cli("tokens", "create", "--scope", "read", "--label", "intranet portal", env=env).stdout.strip()
    listed = run_cli("tokens", "list", env=env).stdout
    assert "intranet portal" in listed and "read" in listed and token not in listed
    token_id = listed.split()[0]
    server = LiveServer(env["SCIMWATCH_DATA_DIR"], env)
    try:
        assert server.api("GET", "/api/v1/banners", token=token).status_code == 200
    finally:
        server.stop()
    assert run_cli("tokens", "revoke", token_id, env=env).returncode == 0
    assert "intranet portal" not in run_cli("tokens", "list", env=env).stdout
    server = LiveServer(env["SCIMWATCH_DATA_DIR"], env)
    try:
        assert server.api("GET", "/api/v1/banners", token=token).status_code == 401
    finally:
        server.stop()
    again = run_cli("tokens", "revoke", token_id, env=env)
    assert again.returncode != 0 and "no token with id" in again.stderr


def test_start_up_says_where_to_sign_in_where_mail_goes_and_when_checks_run(env):
    output, code, url = first_start_output({**env, "SCIMWATCH_ADMIN_TOKEN": "", "SCIMWATCH_CHECK_MINUTES": "20"})
    assert code == 0
    assert f"Sign in at {url}/ui/ with it." in output
    assert "reminder checks: now, then every 20 minutes" in output
    outbox = f"{env['SCIMWATCH_DATA_DIR']}/outbox"
    assert f"mail: OUTBOX mode, nothing is emailed; reminders are written as .eml files to {outbox}" in output
    # The sign-in address works.
    again, code, url = first_start_output(env)
    assert f"admin UI: {url}/ui/ (sign in with an admin token)" in again
    assert "warning" not in again


@pytest.mark.parametrize("sender, warned", [("scimwatch@localhost", True), ("scimwatch@mailhost", True),
                                            ("scimwatch@acme.example", False)])
def test_start_up_warns_that_relays_junk_a_localhost_sender(env, sender, warned):
    output, code, _ = first_start_output({**env, "SCIMWATCH_MAIL_BACKEND": "smtp", "SCIMWATCH_SMTP_HOST": "127.0.0.1",
                                          "SCIMWATCH_SMTP_PORT": "9", "SCIMWATCH_MAIL_FROM": sender})
    assert code == 0
    assert "mail: sent through 127.0.0.1:9 (starttls) from " + sender in output
    assert (f"warning: SCIMWATCH_MAIL_FROM is {sender}: relays" in output) is warned
