"""The reminder loop in the server process and the `remind` command."""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from conftest import run_cli, server_env, wait_for
from smtp_helpers import Clock, Scimwatch

from server import create_app
from server.notify import scheduler

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def soon(days: int) -> str:
    """An expiry date `days` from the real now (the CLI and live server use the real clock)."""
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_key_with_cli(env, days, address="admin@example.com"):
    added = run_cli("keys", "add", "--org-id", "org-1", "--directory-name", "Okta EU", "--expires-at", soon(days),
                    "--notify", address, env=env)
    assert added.returncode == 0, added.stderr




def test_the_server_sends_due_reminders_at_start_and_not_again_after_a_restart(live_server_factory, tmp_path):
    data_dir = tmp_path / "data"
    add_key_with_cli(server_env(data_dir), days=2)
    server = live_server_factory(data_dir=data_dir)
    health = wait_for(lambda: (h := server.api("GET", "/healthz").json())["last_check"] and h)
    assert health["scheduler"]["status"] == "running" and health["scheduler"]["every_minutes"] == 15
    assert server.stop() == 0
    assert len(list((data_dir / "outbox").glob("*.eml"))) == 1

    again = live_server_factory(data_dir=data_dir)
    wait_for(lambda: again.api("GET", "/healthz").json()["last_check"])
    [delivery] = again.api("GET", "/api/v1/deliveries").json()["deliveries"]
    assert delivery["status"] == "sent" and delivery["attempts"] == 1
    assert again.stop() == 0
    assert len(list((data_dir / "outbox").glob("*.eml"))) == 1


def test_stopping_the_loop_waits_for_the_running_cycle(data_dir):
    scimwatch = Scimwatch(data_dir, Clock(NOW))
    scimwatch.add_key(days=3)
    stop = scheduler.start(scimwatch.app)
    stop()
    assert len(list((data_dir / "outbox").glob("*.eml"))) == 1
    assert scimwatch.health()["scheduler"]["status"] == "stopped"
    assert scimwatch.health()["last_check"] == "2026-11-29T09:00:00Z"
    scimwatch.close()


def test_creating_the_app_starts_no_reminder_loop(data_dir):
    app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": "x"})
    assert app.test_client().get("/healthz").json["scheduler"] == {"status": "stopped"}
    app.extensions["scimwatch"].close()


def test_an_exception_in_a_cycle_is_logged_and_does_not_end_the_loop(caplog):
    def broken_cycle():
        raise RuntimeError("disk on fire")

    with caplog.at_level(logging.ERROR, logger="server.notify.scheduler"):
        scheduler.run_guarded(broken_cycle)
    assert "reminder cycle failed" in caplog.text and "disk on fire" in caplog.text


def test_remind_sends_once_and_dry_run_only_lists(tmp_path):
    env = server_env(tmp_path / "data")
    add_key_with_cli(env, days=5)
    dry = run_cli("remind", "--dry-run", env=env)
    assert dry.returncode == 0 and "new       7d" in dry.stdout and "1 reminder due" in dry.stdout
    assert not (tmp_path / "data" / "outbox").exists()
    sent = run_cli("remind", env=env)
    assert sent.returncode == 0 and "1 reminder sent, 0 failed in 1 email" in sent.stdout
    again = run_cli("remind", env=env)
    assert "0 reminders sent" in again.stdout
    assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == 1


def test_remind_exits_non_zero_when_mail_fails(tmp_path):
    env = server_env(tmp_path / "data", {"SCIMWATCH_MAIL_BACKEND": "smtp", "SCIMWATCH_SMTP_HOST": "127.0.0.1",
                                         "SCIMWATCH_SMTP_PORT": "1", "SCIMWATCH_SMTP_SECURITY": "none"})
    add_key_with_cli(env, days=5)
    failed = run_cli("remind", env=env)
    assert failed.returncode == 1 and "failed" in failed.stdout and "cannot connect" in failed.stdout


def test_remind_while_serving_runs_the_cycle_in_the_server(live_server):
    live_server.add_key(org_id="org-1", expires_at="2026-01-01", notify=["it@acme.example"])
    ran = run_cli("remind", env=live_server.env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().endswith("1 reminder sent, 0 failed in 1 email")
    deliveries = live_server.api("GET", "/api/v1/deliveries").json()["deliveries"]
    assert [(d["recipient"], d["status"]) for d in deliveries] == [("it@acme.example", "sent")]


def test_remind_is_refused_clearly_when_the_server_left_no_token_file(live_server):
    (live_server.data_dir / "cli.token").unlink()
    refused = run_cli("remind", env=live_server.env)
    assert refused.returncode != 0
    assert "in use by another scimwatch process" in refused.stderr


def test_a_key_added_with_a_stage_already_due_is_reminded_without_waiting_for_the_interval(live_server_factory):
    server = live_server_factory({"SCIMWATCH_CHECK_ON_CHANGE": "true", "SCIMWATCH_CHECK_MINUTES": "60"})
    key = server.add_key(org_id="org-1", expires_at="2026-01-01", notify=["it@acme.example"])

    # Well within a minute (the loop looks every 10 s), not at the next hourly check.
    wait_for(lambda: [d["status"] for d in server.api("GET", f"/api/v1/deliveries?key_id={key['id']}").json()[
        "deliveries"]] == ["sent"], seconds=40)
    assert len(list((server.data_dir / "outbox").glob("*.eml"))) == 1
