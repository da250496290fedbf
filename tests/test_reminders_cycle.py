"""Reminder cycles end to end: a real data folder, a real SMTP server on loopback, an injected clock."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from smtp_helpers import Clock, Scimwatch

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def scimwatch(data_dir, clock, smtp):
    instance = Scimwatch(data_dir, clock, **smtp.settings())
    yield instance
    instance.close()


def subjects(smtp, address="admin@example.com"):
    return [message["Subject"] for message in smtp.mailbox.to(address)]


def test_each_stage_is_sent_once_across_repeated_cycles_and_a_restart(scimwatch, smtp, clock):
    scimwatch.add_key(days=40, directory_name="Okta EU", org_name="Acme")
    for day in range(40):
        for _ in range(3):
            scimwatch.run()
        if day == 20:
            scimwatch.restart()
        clock.advance(days=1)
    scimwatch.run()
    assert [s.split(": ")[1] for s in subjects(smtp)] == [
        "SCIM API key expires in 30 days", "SCIM API key expires in 14 days", "SCIM API key expires in 7 days",
        "SCIM API key expires in 3 days", "SCIM API key expires in 1 day", "SCIM API key expired today"]
    assert [d["stage"] for d in sorted(scimwatch.deliveries(), key=lambda d: d["created_at"])] == [
        "30d", "14d", "7d", "3d", "1d", "expired"]
    assert all(d["status"] == "sent" and d["attempts"] == 1 for d in scimwatch.deliveries())


def test_a_key_added_five_days_before_expiry_gets_only_the_7d_reminder(scimwatch, smtp):
    scimwatch.add_key(days=5)
    report = scimwatch.run()
    assert [item["stage"] for item in report["due"]] == ["7d"]
    assert subjects(smtp) == ["[scimwatch] A directory: SCIM API key expires in 5 days"]


def test_a_server_that_was_down_sends_only_the_current_stage_when_it_comes_back(scimwatch, smtp, clock):
    scimwatch.add_key(days=35)
    scimwatch.run()
    scimwatch.close()
    clock.advance(days=33)  # down through the 30d, 14d, 7d and 3d stages
    scimwatch.start()
    report = scimwatch.run()
    assert [item["stage"] for item in report["due"]] == ["3d"]
    assert subjects(smtp) == ["[scimwatch] A directory: SCIM API key expires in 2 days"]


def test_rotating_a_key_silences_it_and_re_arms_every_stage(scimwatch, smtp, clock):
    key = scimwatch.add_key(days=6)
    scimwatch.run()
    scimwatch.rotate(key["id"], expires_at="2027-11-01T09:00:00Z")
    clock.advance(days=2)
    assert scimwatch.run()["due"] == []
    clock.now = datetime(2027, 10, 25, 9, 0, tzinfo=UTC)
    scimwatch.run()
    assert subjects(smtp) == ["[scimwatch] A directory: SCIM API key expires in 6 days",
                              "[scimwatch] A directory: SCIM API key expires in 7 days"]


def test_expired_keys_are_reminded_again_every_repeat_interval(data_dir, clock, smtp):
    scimwatch = Scimwatch(data_dir, clock, **smtp.settings(EXPIRED_REPEAT_DAYS=7))
    scimwatch.add_key(days=-1)
    for _ in range(16):
        scimwatch.run()
        clock.advance(days=1)
    scimwatch.close()
    assert [d["stage"] for d in sorted(scimwatch_deliveries(data_dir, clock, smtp), key=lambda d: d["created_at"])] \
        == ["expired", "expired+7d", "expired+14d"]


def scimwatch_deliveries(data_dir, clock, smtp):
    reopened = Scimwatch(data_dir, clock, **smtp.settings())
    try:
        return reopened.deliveries()
    finally:
        reopened.close()


def test_a_per_key_threshold_override_replaces_the_global_stages(scimwatch, smtp, clock):
    scimwatch.add_key(days=70, thresholds=[60, 2])
    for _ in range(71):
        scimwatch.run()
        clock.advance(days=1)
    assert [d["stage"] for d in sorted(scimwatch.deliveries(), key=lambda d: d["created_at"])] == [
        "60d", "2d", "expired"]


def test_several_due_keys_become_one_digest_per_recipient_most_urgent_first(scimwatch, smtp):
    scimwatch.add_key(days=20, directory_name="Later", notify=["admin@example.com", "Team@Example.com"])
    scimwatch.add_key(days=2, directory_name="Soonest", notify=["ADMIN@example.com"])
    scimwatch.add_key(days=-3, directory_name="Gone", notify=["team@example.com"])
    report = scimwatch.run()
    assert report["messages"] == 2 and report["sent"] == 4
    [admin] = smtp.mailbox.to("admin@example.com")
    assert admin["Subject"] == "[scimwatch] Soonest: SCIM API key expires in 2 days (+1 more)"
    text = admin.get_body(("plain",)).get_content()
    assert text.index("Soonest") < text.index("Later")
    [team] = smtp.mailbox.to("team@example.com")
    assert team["Subject"] == "[scimwatch] Gone: SCIM API key expired 3 days ago (+1 more)"


def test_global_notify_addresses_are_added_and_deduplicated_case_insensitively(data_dir, clock, smtp):
    scimwatch = Scimwatch(data_dir, clock, **smtp.settings(NOTIFY="ops@example.com,Admin@Example.com"))
    scimwatch.add_key(days=3, notify=["admin@example.com", "OPS@example.com"])
    scimwatch.run()
    scimwatch.close()
    assert sorted(m["To"].lower() for m in smtp.mailbox.messages) == ["admin@example.com", "ops@example.com"]


def test_an_smtp_outage_loses_no_reminder_and_sends_none_twice(scimwatch, smtp, clock):
    scimwatch.add_key(days=6, directory_name="One")
    scimwatch.add_key(days=6, directory_name="Two", notify=["other@example.com"])
    smtp.stop()
    for _ in range(3):
        report = scimwatch.run()
        assert report["sent"] == 0 and report["failed"] == 2
    assert {d["status"] for d in scimwatch.deliveries()} == {"failed"}
    assert all(d["attempts"] == 3 and "cannot connect" in d["error"] for d in scimwatch.deliveries())
    assert scimwatch.health()["mail"]["status"] == "failing"
    smtp.start()
    clock.advance(hours=1)
    assert scimwatch.run()["sent"] == 2
    scimwatch.run()
    assert len(smtp.mailbox.to("admin@example.com")) == 1 and len(smtp.mailbox.to("other@example.com")) == 1
    assert [(d["status"], d["attempts"], d["error"]) for d in scimwatch.deliveries()] == [("sent", 4, None)] * 2
    assert scimwatch.health()["mail"]["status"] == "ok"


def test_a_refusing_server_is_retried_until_it_accepts(scimwatch, smtp):
    scimwatch.add_key(days=6)
    smtp.mailbox.refuse_with = "451 4.3.0 mailbox busy, try later"
    scimwatch.run()
    [delivery] = scimwatch.deliveries()
    assert delivery["status"] == "failed" and "451 4.3.0 mailbox busy" in delivery["error"]
    assert scimwatch.health()["mail"]["last_error"] == delivery["error"]
    smtp.mailbox.refuse_with = "554 5.7.1 rejected"
    scimwatch.run()
    smtp.mailbox.refuse_with = None
    scimwatch.run()
    scimwatch.run()
    assert len(smtp.mailbox.messages) == 1
    [delivery] = scimwatch.deliveries()
    assert (delivery["status"], delivery["attempts"]) == ("sent", 3)


def test_a_failed_reminder_superseded_by_a_later_stage_arrives_once_as_the_current_stage(scimwatch, smtp, clock):
    scimwatch.add_key(days=6)
    smtp.stop()
    scimwatch.run()
    smtp.start()
    clock.advance(days=4)
    scimwatch.run()
    assert subjects(smtp) == ["[scimwatch] A directory: SCIM API key expires in 2 days"]
    assert {(d["stage"], d["status"]) for d in scimwatch.deliveries()} == {("7d", "sent"), ("3d", "sent")}


def test_a_failed_reminder_for_a_key_rotated_meanwhile_is_cancelled_not_sent(scimwatch, smtp):
    key = scimwatch.add_key(days=6)
    smtp.stop()
    scimwatch.run()
    smtp.start()
    scimwatch.rotate(key["id"])
    assert scimwatch.run()["due"] == []
    assert smtp.mailbox.messages == []
    [delivery] = scimwatch.deliveries()
    assert delivery["status"] == "cancelled" and "now expires at" in delivery["error"]


def test_a_dry_run_lists_what_is_due_and_sends_nothing(scimwatch, smtp):
    key = scimwatch.add_key(days=10)
    report = scimwatch.run(dry_run=True)
    assert report["dry_run"] is True
    assert [(d["key_id"], d["stage"], d["recipient"], d["status"]) for d in report["due"]] == [
        (key["id"], "14d", "admin@example.com", "new")]
    assert smtp.mailbox.messages == [] and scimwatch.deliveries() == []
    assert scimwatch.run()["sent"] == 1


def test_the_delivery_log_can_be_read_for_one_key(scimwatch):
    first = scimwatch.add_key(days=2)
    scimwatch.add_key(days=5)
    scimwatch.run()
    assert len(scimwatch.deliveries()) == 2
    [delivery] = scimwatch.deliveries(first["id"])
    assert delivery["key_id"] == first["id"] and delivery["stage"] == "3d" and delivery["sent_at"]
    assert delivery["message_id"].startswith("<") and delivery["message_id"].endswith("@localhost>")


def test_the_reminder_api_needs_the_admin_token_and_a_clear_dry_run_value(scimwatch):
    client = scimwatch.client
    assert client.post("/api/v1/reminders/run").status_code == 401
    assert client.get("/api/v1/deliveries").status_code == 401
    response = client.post("/api/v1/reminders/run?dry_run=maybe", headers=scimwatch.headers)
    assert response.status_code == 400 and response.json["error"]["fields"] == {"dry_run": "must be true or false"}
    assert client.get("/api/v1/reminders/run", headers=scimwatch.headers).status_code == 405


def test_healthz_reports_the_last_check_and_mail_state(scimwatch, clock):
    assert scimwatch.health()["last_check"] is None
    scimwatch.run()
    health = scimwatch.health()
    assert health["status"] == "ok" and health["last_check"] == "2026-11-01T09:00:00Z"
    assert health["mail"]["status"] == "ok" and health["scheduler"]["status"] == "stopped"


def test_keys_without_any_recipient_send_nothing(data_dir, clock, smtp):
    scimwatch = Scimwatch(data_dir, clock, **smtp.settings())
    scimwatch.add_key(days=2, notify=[])
    assert scimwatch.run()["due"] == []
    scimwatch.close()
