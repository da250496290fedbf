"""/healthz answers 503 "failing" while scimwatch has stopped watching (DESIGN §17), and recovers."""
from __future__ import annotations

import time
from datetime import UTC, datetime

from conftest import ADMIN_TOKEN
from smtp_helpers import Clock, Scimwatch
from test_faults import read_only

from server.notify import deliveries, scheduler

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def health(instance: Scimwatch, headers=None):
    response = instance.client.get("/healthz", headers=headers or {})
    return response.status_code, response.json


def test_a_stalled_scheduler_fails_the_health_check_until_a_cycle_completes(data_dir):
    clock = Clock(START)
    instance = Scimwatch(data_dir, clock, CHECK_MINUTES=10)
    service = deliveries.service_for(instance.app)
    stop = scheduler.start(instance.app)
    try:
        deadline = time.monotonic() + 30
        while service.stats.count < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.stats.count == 1
        clock.advance(minutes=30)
        assert health(instance)[0] == 200
        clock.advance(minutes=1)
        code, public = health(instance)
        assert (code, public["status"], public["failing"], public["scheduler"]["status"]) == (
            503, "failing", ["reminders_stalled"], "stalled")
        assert "reason" not in public["scheduler"]
        detailed = health(instance, ADMIN)[1]
        assert "2026-11-01T09:00:00Z" in detailed["scheduler"]["reason"]
        instance.run()
        assert health(instance) == (200, health(instance)[1])
        assert health(instance)[1]["scheduler"]["status"] == "running"
    finally:
        stop()
        instance.close()


def test_without_a_scheduler_no_cycle_is_overdue(data_dir):
    clock = Clock(START)
    instance = Scimwatch(data_dir, clock, CHECK_MINUTES=1)
    try:
        clock.advance(days=30)
        code, public = health(instance)
        assert (code, public["status"], public["scheduler"]["status"]) == (200, "ok", "stopped")
    finally:
        instance.close()


def test_a_data_folder_that_refuses_writes_fails_the_health_check_until_a_write_succeeds(data_dir):
    instance = Scimwatch(data_dir, Clock(START))
    try:
        with read_only(data_dir):
            response = instance.client.post("/api/v1/keys", headers=ADMIN, json={"org_id": "o",
                                                                                 "expires_at": "2027-01-01"})
            assert response.status_code == 507
            code, public = health(instance)
            assert (code, public["failing"], public["db"]) == (503, ["data_folder_unwritable"],
                                                               {"status": "failing"})
            assert str(data_dir) not in str(public)
            assert str(data_dir) in health(instance, ADMIN)[1]["db"]["reason"]
        # Reads alone do not clear it: only a write that succeeds does.
        assert health(instance)[0] == 503
        instance.add_key(days=50)
        assert health(instance) == (200, health(instance)[1]) and health(instance)[1]["status"] == "ok"
    finally:
        instance.close()


def test_mail_failing_longer_than_the_alert_hours_fails_the_health_check_until_a_send(data_dir, smtp):
    clock = Clock(START)
    instance = Scimwatch(data_dir, clock, ALERT_AFTER_HOURS=6, **smtp.settings())
    try:
        instance.add_key(days=2, notify=["alice.secret@example.com"])
        smtp.mailbox.refuse_with = "550 5.1.1 <alice.secret@example.com>: mailbox unknown"
        assert instance.run()["failed"] == 1
        clock.advance(hours=6)
        code, public = health(instance)
        assert (code, public["status"], public["mail"]["status"]) == (200, "ok", "failing")
        clock.advance(minutes=1)
        code, public = health(instance)
        assert (code, public["failing"], public["mail"]["failing_since"]) == (
            503, ["mail_failing"], "2026-11-01T09:00:00Z")
        assert "alice" not in str(public) and "alert" not in public["mail"]
        assert "SCIMWATCH_ALERT_AFTER_HOURS=6" in health(instance, ADMIN)[1]["mail"]["reason"]
        smtp.mailbox.refuse_with = None
        assert instance.run()["sent"] == 1
        assert health(instance)[0] == 200
    finally:
        instance.close()
