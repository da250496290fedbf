"""Channels and escalation in real reminder cycles: a real data folder, real SMTP, a real local webhook receiver."""
from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import pytest
from conftest import run_cli, server_env, wait_for
from receivers import Receiver
from smtp_helpers import Clock, Scimwatch
from test_openapi import check

from server.notify import deliveries

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SECRET = "hooks/T0SECRET/B0SECRET/x0secret"


@pytest.fixture
def clock():
    return Clock(START)


def write_config(folder, receiver, scheme="json"):
    # rto: the receiver may hold a request while the test looks at email and banners.
    config = folder / "apprise.yml"
    config.write_text(f"version: 1\nurls:\n  - {scheme}://{receiver.address}/{SECRET}?rto=30:\n      - tag: ops\n",
                      encoding="utf-8")
    return config


@pytest.fixture
def scimwatch(tmp_path, data_dir, clock, smtp, receiver):
    instance = Scimwatch(data_dir, clock, **smtp.settings(APPRISE_CONFIG=write_config(tmp_path, receiver)))
    yield instance
    instance.close()


def channel_deliveries(scimwatch):
    return [d for d in scimwatch.deliveries() if d["recipient"] == "channel:ops"]


def test_each_stage_reaches_a_channel_once_across_repeated_cycles_and_a_restart(scimwatch, receiver, clock):
    scimwatch.add_key(days=40, directory_name="Okta EU", org_name="Acme", channels=["ops"])
    for day in range(40):
        for _ in range(2):
            scimwatch.run()
        if day == 20:
            scimwatch.restart()
        clock.advance(days=1)
    scimwatch.run()
    assert [body["title"] for _, body in receiver.taken] == [
        f"[scimwatch] Okta EU: SCIM API key {when}" for when in (
            "expires in 30 days", "expires in 14 days", "expires in 7 days", "expires in 3 days",
            "expires in 1 day", "expired today")]
    assert [(d["stage"], d["status"], d["attempts"]) for d in reversed(channel_deliveries(scimwatch))] == [
        (stage, "sent", 1) for stage in ("30d", "14d", "7d", "3d", "1d", "expired")]


def test_several_keys_due_for_a_channel_become_one_message_with_the_facts_steps_and_links(
        tmp_path, data_dir, clock, smtp, receiver):
    scimwatch = Scimwatch(data_dir, clock, **smtp.settings(APPRISE_CONFIG=write_config(tmp_path, receiver),
                                                           CHANNELS="ops", PUBLIC_URL="https://sw.example.com"))
    try:
        scimwatch.add_key(days=2, directory_name="Okta *prod* <!channel> !here>", identity_provider="okta",
                          directory_id="d1")
        scimwatch.add_key(days=10, directory_name="Entra [x](https://evil.example)", identity_provider="entra")
        scimwatch.run()
    finally:
        scimwatch.close()
    [(_, body)] = receiver.taken
    assert body["title"] == "[scimwatch] Okta \\*prod\\* \u2039!channel\u203a !here\u203a: SCIM API key expires in 2 " \
                            "days (+1 more)"
    text = body["message"]
    assert "Okta \\*prod\\* \u2039!channel\u203a !here\u203a · org-1 · Okta: Expires in 2 days (" in text
    assert "Entra \\[x\\](https://evil.example)" in text
    assert "!channel>" not in text and "!here>" not in text and "[x](https://evil" not in text
    assert "UTC)" in text and "Directory: <https://admin.atlassian.com/o/org-1/" in text
    assert "I regenerated it: <https://sw.example.com/r/" in text and "I'm on it: <https://sw.example.com/r/" in text
    assert "**Okta" in text and "\n1. " in text and "Atlassian's instructions: <https://support.atlassian.com/" in text


def test_a_receiver_answering_500_then_200_gets_the_message_once_and_nothing_is_lost(scimwatch, receiver):
    receiver.codes = [500]
    scimwatch.add_key(days=5, channels=["ops"])
    assert scimwatch.run()["failed"] == 1
    [failed] = channel_deliveries(scimwatch)
    assert failed["status"] == "failed" and "not delivered by JSON (service 1 of 1)" in failed["error"]
    [state] = scimwatch.health()["channels"]
    assert (state["tag"], state["services"], state["status"]) == ("ops", ["JSON"], "failing")
    scimwatch.run()
    scimwatch.run()
    assert len(receiver.received) == 2 and len(receiver.taken) == 1
    [sent] = channel_deliveries(scimwatch)
    assert (sent["status"], sent["attempts"]) == ("sent", 2)
    assert scimwatch.health()["channels"][0]["status"] == "ok"


def test_a_channel_failing_longer_than_the_alert_hours_fails_healthz(scimwatch, receiver, clock):
    receiver.codes = [500] * 10
    scimwatch.add_key(days=5, channels=["ops"])
    scimwatch.run()
    clock.advance(hours=25)
    scimwatch.run()
    response = scimwatch.client.get("/healthz")
    assert response.status_code == 503 and response.json["failing"] == ["channel_failing"]
    assert "channel ops has been failing for 25 hours" in scimwatch.health()["channels"][0]["reason"]


def test_a_slow_receiver_does_not_delay_email_or_banners(scimwatch, receiver, smtp):
    scimwatch.add_key(days=5, channels=["ops"], org_id="org-1")
    receiver.hold()
    cycle = threading.Thread(target=deliveries.service_for(scimwatch.app).run_cycle)
    cycle.start()
    try:
        receiver.arrived.wait(20)
        # The channel's request is still held: the email is already at the SMTP server and banners answer.
        assert wait_for(lambda: smtp.mailbox.to("admin@example.com"))
        banners = scimwatch.app.test_client().get("/api/v1/banners?org_id=org-1", headers=scimwatch.headers)
        assert banners.status_code == 200 and len(banners.json["banners"]) == 1
        assert receiver.taken == [] and cycle.is_alive()
    finally:
        receiver.release()
        cycle.join()
    assert [d["status"] for d in scimwatch.deliveries()] == ["sent", "sent"] and len(receiver.taken) == 1


def test_a_rotation_between_a_failure_and_its_retry_cancels_the_channel_delivery(scimwatch, receiver):
    receiver.codes = [500]
    key = scimwatch.add_key(days=5, channels=["ops"])
    scimwatch.run()
    scimwatch.rotate(key["id"], expires_at="2027-11-01T09:00:00Z")
    assert scimwatch.run()["due"] == []
    [cancelled] = channel_deliveries(scimwatch)
    assert cancelled["status"] == "cancelled" and "rotated" in cancelled["error"]
    assert receiver.taken == []


def test_a_form_url_receiver_gets_the_message_too(tmp_path, data_dir, clock, smtp, receiver):
    scimwatch = Scimwatch(data_dir, clock, **smtp.settings(APPRISE_CONFIG=write_config(tmp_path, receiver, "form"),
                                                           CHANNELS="ops"))
    try:
        scimwatch.add_key(days=5, directory_name="Okta")
        scimwatch.run()
    finally:
        scimwatch.close()
    [(path, body)] = receiver.taken
    assert path.startswith(f"/{SECRET}") and body["title"] == "[scimwatch] Okta: SCIM API key expires in 5 days"


def test_escalation_addresses_get_their_stage_and_each_later_one(tmp_path, data_dir, clock, smtp):
    scimwatch = Scimwatch(data_dir, clock, **smtp.settings(ESCALATION="expired=cio@example.com"))
    try:
        scimwatch.add_key(days=8, escalation={"3d": ["security@example.com"]})
        for _ in range(9):
            scimwatch.run()
            clock.advance(days=1)
    finally:
        scimwatch.close()

    def stages(address):
        return [message["Subject"].split(": ")[1] for message in smtp.mailbox.to(address)]
    assert stages("admin@example.com") == ["SCIM API key expires in 8 days", "SCIM API key expires in 7 days",
                                           "SCIM API key expires in 3 days", "SCIM API key expires in 1 day",
                                           "SCIM API key expired today"]
    assert stages("security@example.com") == ["SCIM API key expires in 3 days", "SCIM API key expires in 1 day",
                                              "SCIM API key expired today"]
    assert stages("cio@example.com") == ["SCIM API key expired today"]


def test_a_key_naming_a_tag_the_config_lacks_is_refused_naming_the_known_tags(scimwatch):
    response = scimwatch.client.post("/api/v1/keys", headers=scimwatch.headers, json={
        "org_id": "org-1", "expires_at": "2027-01-01T00:00:00Z", "channels": ["ops", "Sec"]})
    assert response.status_code == 400
    assert response.json["error"]["fields"]["channels"] == "'sec' is not a channel tag; the known tags are ops"
    assert scimwatch.client.get("/api/v1/keys", headers=scimwatch.headers).json["keys"] == []


@pytest.mark.parametrize("body, message", [
    ({"5x": ["a@example.com"]}, "'5x' is not a stage; a stage is Nd"),
    ({"3d": ["not an address"]}, "stage 3d: 'not an address' is not a valid email address"),
    ({"3d": []}, "stage 3d: must list at least one email address"),
    (["3d"], "must be an object from a stage to addresses"),
])
def test_a_bad_escalation_is_refused_with_a_clear_message(scimwatch, body, message):
    response = scimwatch.client.post("/api/v1/keys", headers=scimwatch.headers, json={
        "org_id": "org-1", "expires_at": "2027-01-01T00:00:00Z", "escalation": body})
    assert response.status_code == 400 and response.json["error"]["fields"]["escalation"].startswith(message)


def test_no_channel_secret_reaches_an_api_answer_a_log_line_or_the_data_file(scimwatch, receiver, data_dir, caplog):
    receiver.codes = [500]
    with caplog.at_level(logging.DEBUG):
        key = scimwatch.add_key(days=5, channels=["ops"])
        scimwatch.run()
        scimwatch.run()
        answers = [scimwatch.client.get(path, headers=scimwatch.headers).get_data(as_text=True) for path in (
            "/api/v1/deliveries", "/api/v1/keys", f"/api/v1/keys/{key['id']}", "/healthz", "/metrics",
            "/api/v1/export?format=json")]
    scimwatch.close()
    assert len(receiver.taken) == 1 and "channel:ops" in answers[0] and '"channels"' in answers[3]
    assert 'scimwatch_deliveries_total{channel="channel:ops",status="failed"} 1.0' in answers[4]
    stored = "".join(path.read_text(errors="replace") for path in data_dir.rglob("*") if path.is_file())
    for part in SECRET.split("/"):
        assert part not in caplog.text and part not in stored
        assert not any(part in answer for answer in answers)


def test_a_config_file_that_does_not_parse_stops_start_up_naming_the_file(tmp_path, data_dir):
    config = tmp_path / "apprise.yml"
    config.write_text(f"version: 1\nurls: [ : : {SECRET}\n", encoding="utf-8")
    started = run_cli("keys", "list", env=server_env(data_dir, {"SCIMWATCH_APPRISE_CONFIG": str(config)}))
    assert started.returncode != 0
    assert f"SCIMWATCH_APPRISE_CONFIG: {config} does not parse" in started.stderr
    assert "B0SECRET" not in started.stderr + started.stdout


def test_a_default_channel_the_config_lacks_stops_start_up(tmp_path, data_dir, receiver):
    env = server_env(data_dir, {"SCIMWATCH_APPRISE_CONFIG": str(write_config(tmp_path, receiver)),
                                "SCIMWATCH_CHANNELS": "ops,security"})
    started = run_cli("keys", "list", env=env)
    assert started.returncode != 0
    assert "SCIMWATCH_CHANNELS: security is not a tag of SCIMWATCH_APPRISE_CONFIG; its tags are ops" in started.stderr


def test_answers_about_channels_and_escalation_match_the_documented_schemas(scimwatch, receiver, clock):
    receiver.codes = [500] * 3
    client, exercised = scimwatch.client, set()
    created = client.post("/api/v1/keys", headers=scimwatch.headers, json={
        "org_id": "org-1", "expires_at": "2026-11-04T09:00:00Z", "channels": ["ops"],
        "escalation": {"3d": ["security@example.com"]}})
    key = "/api/v1/keys/{key_id}"
    answers = [
        ("post", "/api/v1/keys", created),
        ("patch", key, client.patch(f"/api/v1/keys/{created.json['id']}", headers=scimwatch.headers,
                                    json={"escalation": {"expired": ["cio@example.com"]}, "channels": None})),
        ("patch", key, client.patch(f"/api/v1/keys/{created.json['id']}", headers=scimwatch.headers,
                                    json={"channels": ["ops"]})),
        ("post", "/api/v1/keys", client.post("/api/v1/keys", headers=scimwatch.headers, json={
            "org_id": "org-1", "expires_at": "2027-01-01", "channels": ["nope"]})),
        ("post", "/api/v1/reminders/run", client.post("/api/v1/reminders/run", headers=scimwatch.headers)),
    ]
    clock.advance(hours=25)
    answers += [
        ("post", "/api/v1/reminders/run", client.post("/api/v1/reminders/run", headers=scimwatch.headers)),
        ("get", "/api/v1/deliveries", client.get("/api/v1/deliveries", headers=scimwatch.headers)),
        ("get", "/healthz", client.get("/healthz", headers=scimwatch.headers)),
        ("get", "/healthz", client.get("/healthz")),
        ("get", key, client.get(f"/api/v1/keys/{created.json['id']}", headers=scimwatch.headers)),
    ]
    for method, path, response in answers:
        check(response, method, path, exercised)
    [posted] = [d for d in answers[-4][2].json["deliveries"] if d["recipient"] == "channel:ops"]
    assert posted["services"] == [{"service": "JSON", "sent": False}]
    assert answers[-3][2].status_code == 503 and "channels" not in answers[-2][2].json


def test_a_retry_posts_only_to_the_service_that_failed_even_when_the_key_moved_to_a_later_stage(
        tmp_path, data_dir, clock, smtp):
    failing, working = Receiver([500, 500]), Receiver()
    try:
        config = tmp_path / "apprise.txt"
        config.write_text(f"ops={failing.url}/a/{SECRET}\nops={working.url}/b/{SECRET}\n", encoding="utf-8")
        scimwatch = Scimwatch(data_dir, clock, **smtp.settings(APPRISE_CONFIG=config, CHANNELS="ops"))
        try:
            scimwatch.add_key(days=4, directory_name="Okta")
            scimwatch.run()  # 7d: the first service fails, the second takes it
            clock.advance(days=1)
            scimwatch.run()  # 3d is due too: the first fails again; the second gets only the new stage
            scimwatch.run()  # the first takes both stages in one message
            scimwatch.run()
            records = {d["stage"]: d for d in channel_deliveries(scimwatch)}
        finally:
            scimwatch.close()
    finally:
        failing.stop()
        working.stop()
    assert [body["title"].split(": ")[1] for _, body in working.taken] == [
        "SCIM API key expires in 4 days", "SCIM API key expires in 3 days"]
    assert [body["title"].split(": ")[1] for _, body in failing.taken] == ["SCIM API key expires in 3 days"]
    assert {stage: (r["status"], r["attempts"], [s["sent"] for s in r["services"]]) for stage, r in records.items()} \
        == {"7d": ("sent", 3, [True, True]), "3d": ("sent", 2, [True, True])}


def test_channels_and_escalation_survive_a_csv_export_and_import_and_unknown_tags_are_refused(scimwatch):
    scimwatch.add_key(days=40, directory_id="d1", channels=["ops"],
                      escalation={"3d": ["security@example.com", "soc@example.com"], "expired": ["cio@example.com"]})
    exported = scimwatch.client.get("/api/v1/export?format=csv", headers=scimwatch.headers)
    assert 'ops,"3d=security@example.com,soc@example.com;expired=cio@example.com"' in exported.text
    again = scimwatch.client.post("/api/v1/import", headers=scimwatch.headers, data=exported.data,
                                  content_type="text/csv")
    assert again.status_code == 200 and again.json["unchanged"] == 1
    refused = scimwatch.client.post("/api/v1/import", headers=scimwatch.headers, content_type="application/json",
                                    json={"keys": [{"org_id": "x", "expires_at": "2027-01-01", "channels": ["pager"]}]})
    assert refused.status_code == 400
    assert "'pager' is not a channel tag; the known tags are ops" in refused.text


def test_a_check_that_only_posts_to_channels_says_so(tmp_path, data_dir, clock, smtp, receiver):
    scimwatch = Scimwatch(data_dir, clock, **smtp.settings(APPRISE_CONFIG=write_config(tmp_path, receiver)))
    try:
        scimwatch.add_key(days=5, notify=[], channels=["ops"])
        report = scimwatch.run()
        assert (report["messages"], report["channel_messages"], report["sent"]) == (0, 1, 1)
        assert deliveries.messages_text(report) == "1 channel message"
        assert deliveries.messages_text({**report, "messages": 2, "channel_messages": 3}) == \
            "2 emails and 3 channel messages"
    finally:
        scimwatch.close()
