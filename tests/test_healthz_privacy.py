"""/healthz tells a stranger only states and times; an admin token gets the details."""
from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN
from jsonschema import Draft202012Validator
from smtp_helpers import Clock, Scimwatch

NOW = datetime.datetime(2026, 11, 29, 9, 0, tzinfo=datetime.UTC)
PUBLIC = {"status", "service", "time", "started_at", "db", "scheduler", "mail", "last_check"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def failing(data_dir, smtp):
    """An app whose relay refused a reminder with an answer naming the recipient."""
    scimwatch = Scimwatch(data_dir, Clock(NOW), **smtp.settings())
    scimwatch.add_key(days=6, notify=["alice.secret@example.com"])
    smtp.mailbox.refuse_with = "550 5.1.1 <alice.secret@example.com>: mailbox unknown"
    assert scimwatch.run()["failed"] == 1
    yield scimwatch
    scimwatch.close()


def assert_public(response, data_dir, smtp):
    assert response.status_code == 200 and response.mimetype == "application/json"
    health = response.json
    assert set(health) == PUBLIC
    assert health["db"] == {"status": "ok"}
    assert set(health["scheduler"]) <= {"status", "next_check"}
    assert health["mail"] == {"status": "failing", "failing_since": "2026-11-29T09:00:00Z", "last_sent_at": None}
    text = response.get_data(as_text=True)
    for secret in ("alice", "example.com", "127.0.0.1", str(smtp.port), str(data_dir), "smtp", "outbox"):
        assert secret not in text, secret
    assert "Authorization" in response.headers["Vary"]


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer wrong", "Basic dXNlcjpwYXNz",
                                           "Token " + ADMIN_TOKEN, ADMIN_TOKEN, "Bearer " + ADMIN_TOKEN + "x",
                                           "Bearer " + "x" * 10_000],
                         ids=["none", "empty", "no-token", "wrong", "basic", "other-scheme", "no-scheme",
                              "admin-plus-one", "huge"])
def test_without_a_valid_admin_token_healthz_shows_states_and_times_only(failing, data_dir, smtp, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_public(failing.client.get("/healthz", headers=headers), data_dir, smtp)


def test_a_read_token_sees_the_public_view_too(failing, data_dir, smtp):
    read = failing.app.extensions["scimwatch"].issue_token("read", "widget")
    assert_public(failing.client.get("/healthz", headers={"Authorization": f"Bearer {read}"}), data_dir, smtp)


def test_an_admin_token_sees_the_details(failing, smtp):
    response = failing.client.get("/healthz", headers=ADMIN)
    health = response.json
    assert health["db"]["keys"] == 1
    assert health["mail"]["backend"] == f"smtp 127.0.0.1:{smtp.port} (none)"
    assert "alice.secret@example.com" in health["mail"]["last_error"] and health["mail"]["outstanding"] == 1
    assert health["scheduler"] == {"status": "stopped"} and health["last_check"] == "2026-11-29T09:00:00Z"
    assert response.headers["Cache-Control"] == "no-store" and "Authorization" in response.headers["Vary"]


def test_the_outbox_folder_is_not_shown_to_strangers(data_dir):
    scimwatch = Scimwatch(data_dir, Clock(NOW))
    scimwatch.add_key(days=6)
    scimwatch.run()
    health = scimwatch.client.get("/healthz").json
    assert health["mail"] == {"status": "ok", "failing_since": None, "last_sent_at": "2026-11-29T09:00:00Z"}
    assert str(data_dir) not in scimwatch.client.get("/healthz").get_data(as_text=True)
    assert scimwatch.client.get("/healthz", headers=ADMIN).json["mail"]["backend"] == f"outbox {data_dir / 'outbox'}"
    scimwatch.close()


def test_both_views_match_the_openapi_description(failing):
    spec = json.loads((Path(__file__).resolve().parent.parent / "docs" / "openapi.json").read_text(encoding="utf-8"))
    schema = spec["paths"]["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    public, detailed = schema["anyOf"]
    for answer, view in ((failing.client.get("/healthz").json, public),
                         (failing.client.get("/healthz", headers=ADMIN).json, detailed)):
        validator = Draft202012Validator({**view, "components": spec["components"]})
        assert [error.message for error in validator.iter_errors(answer)] == []
