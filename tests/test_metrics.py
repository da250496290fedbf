"""GET /metrics (DESIGN §17): values after known events, its scopes, and bounded label sets."""
from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families
from smtp_helpers import Clock, Scimwatch, free_port

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def scrape(instance: Scimwatch, headers=None) -> dict:
    """Return {(sample name, sorted labels): value} from one scrape."""
    response = instance.client.get("/metrics", headers=instance.headers if headers is None else headers)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def test_metrics_after_keys_and_a_cycle_with_the_outbox(data_dir):
    clock = Clock(START)
    instance = Scimwatch(data_dir, clock)
    try:
        before = scrape(instance)
        assert before[("scimwatch_keys", (("severity", "ok"),))] == 0
        assert before[("scimwatch_last_cycle_timestamp_seconds", ())] == 0
        assert before[("scimwatch_reminder_cycle_seconds_count", ())] == 0
        soon = instance.add_key(days=2, directory_id="dir-a", notify=["a@example.com", "b@example.com"])
        instance.add_key(days=10)
        instance.add_key(days=200)
        clock.advance(minutes=5)
        report = instance.run()
        assert report["sent"] == 3 and report["failed"] == 0
        values = scrape(instance)
        assert {name[1][0][1]: value for name, value in values.items() if name[0] == "scimwatch_keys"} == {
            "expired": 0, "critical": 1, "warning": 1, "info": 0, "ok": 1}
        expiry = [(labels, value) for (name, labels), value in values.items()
                  if name == "scimwatch_key_expiry_timestamp_seconds"]
        assert len(expiry) == 3
        assert ((("directory", "dir-a"), ("key_id", soon["id"]), ("org_id", "org-1")),
                datetime.fromisoformat(soon["expires_at"]).timestamp()) in expiry
        assert values[("scimwatch_deliveries_total", (("channel", "email"), ("status", "sent")))] == 3
        assert values[("scimwatch_deliveries_total", (("channel", "email"), ("status", "failed")))] == 0
        assert values[("scimwatch_reminder_cycle_seconds_count", ())] == 1
        assert values[("scimwatch_reminder_cycle_seconds_bucket", (("le", "+Inf"),))] == 1
        assert values[("scimwatch_last_cycle_timestamp_seconds", ())] == clock.now.timestamp()
        assert values[("scimwatch_mail_failing", ())] == 0
        # A second cycle sends nothing new: the histogram counts it, the delivery totals stay.
        instance.run()
        again = scrape(instance)
        assert again[("scimwatch_reminder_cycle_seconds_count", ())] == 2
        assert again[("scimwatch_deliveries_total", (("channel", "email"), ("status", "sent")))] == 3
        # A dry run is no cycle.
        instance.run(dry_run=True)
        assert scrape(instance)[("scimwatch_reminder_cycle_seconds_count", ())] == 2
    finally:
        instance.close()


def test_labels_stay_per_key_however_many_deliveries(data_dir):
    clock = Clock(START)
    instance = Scimwatch(data_dir, clock)
    try:
        instance.add_key(days=40, notify=[f"r{n}@example.com" for n in range(8)])
        for _ in range(12):
            clock.advance(days=4)
            instance.run()
        series = scrape(instance)
        assert len(instance.deliveries()) > 8
        assert sum(1 for name, _ in series if name == "scimwatch_key_expiry_timestamp_seconds") == 1
        assert {name for name, labels in series if any(label == "recipient" for label, _ in labels)} == set()
    finally:
        instance.close()


def test_failing_mail_shows_in_the_gauge_and_the_failed_total(data_dir):
    clock = Clock(START)
    instance = Scimwatch(data_dir, clock, MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(),
                         SMTP_SECURITY="none")
    try:
        instance.add_key(days=2)
        assert instance.run()["failed"] == 1
        values = scrape(instance)
        assert values[("scimwatch_mail_failing", ())] == 1
        assert values[("scimwatch_deliveries_total", (("channel", "email"), ("status", "failed")))] == 1
    finally:
        instance.close()


def test_metrics_needs_a_metrics_or_admin_token_unless_public(data_dir, tmp_path):
    instance = Scimwatch(data_dir, Clock(START))
    try:
        assert instance.client.get("/metrics").status_code == 401
        tokens = {scope: instance.client.post("/api/v1/tokens", headers=instance.headers,
                                              json={"scope": scope}).json["token"] for scope in ("metrics", "read")}
        assert instance.client.get("/metrics", headers={"Authorization": f"Bearer {tokens['read']}"}).status_code \
            == 403
        assert scrape(instance, {"Authorization": f"Bearer {tokens['metrics']}"})
    finally:
        instance.close()
    public = Scimwatch(tmp_path, Clock(START), METRICS_PUBLIC="true")
    try:
        assert scrape(public, {})
    finally:
        public.close()


def test_each_app_has_its_own_registry(data_dir, tmp_path):
    first, second = Scimwatch(data_dir, Clock(START)), Scimwatch(tmp_path, Clock(START))
    try:
        first.add_key(days=2)
        assert scrape(first)[("scimwatch_keys", (("severity", "critical"),))] == 1
        assert scrape(second)[("scimwatch_keys", (("severity", "critical"),))] == 0
    finally:
        first.close()
        second.close()
