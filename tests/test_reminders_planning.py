"""Reminder planning without Flask, TinyDB or SMTP: which reminders are due and how digests are grouped."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.domain import reminders
from server.domain.times import format_time

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def key(key_id, days, notify=("admin@example.com",), **fields):
    return {"id": key_id, "org_id": "org-1", "expires_at": format_time(NOW + timedelta(days=days)),
            "notify": list(notify), **fields}


def sent(reminder, status="sent"):
    return {"id": reminder.delivery_id, "key_id": reminder.key_id, "expires_at": reminder.expires_at,
            "stage": reminder.stage, "recipient": reminder.recipient, "status": status, "attempts": 1}


def test_only_the_current_stage_of_each_key_is_due():
    plan = reminders.plan([key("a", 5), key("b", 29), key("c", 31), key("d", -1)], {}, NOW)
    assert sorted((r.key_id, r.stage) for r in plan.due) == [("a", "7d"), ("b", "30d"), ("d", "expired")]


def test_a_reminder_already_sent_is_not_due_again_but_a_failed_one_is():
    first = reminders.plan([key("a", 5), key("b", 2)], {}, NOW).due
    log = {first[0].delivery_id: sent(first[0]), first[1].delivery_id: sent(first[1], "failed")}
    assert [r.key_id for r in reminders.plan([key("a", 5), key("b", 2)], log, NOW).due] == ["b"]


def test_a_new_expiry_date_makes_every_stage_due_again():
    [before] = reminders.plan([key("a", 5)], {}, NOW).due
    [after] = reminders.plan([key("a", 5.5)], {before.delivery_id: sent(before)}, NOW).due
    assert after.stage == "7d" and after.delivery_id != before.delivery_id


def test_recipients_are_the_keys_addresses_then_the_global_ones_without_case_duplicates():
    record = key("a", 5, notify=["Admin@Example.com", "team@example.com"])
    audience = reminders.Audience(notify=("ADMIN@example.com", "ops@example.com"))
    assert reminders.recipients(record, audience, "7d") == ["Admin@Example.com", "team@example.com", "ops@example.com"]


def test_escalated_addresses_receive_their_stage_and_every_later_one_but_no_earlier():
    record = key("a", 5, escalation={"3d": ["security@example.com"]})
    audience = reminders.Audience(escalation={"expired": ("cio@example.com",)})
    by_stage = {stage: reminders.recipients(record, audience, stage)
                for stage in ("30d", "7d", "3d", "1d", "expired", "expired+14d")}
    assert by_stage == {"30d": ["admin@example.com"], "7d": ["admin@example.com"],
                        "3d": ["admin@example.com", "security@example.com"],
                        "1d": ["admin@example.com", "security@example.com"],
                        "expired": ["admin@example.com", "security@example.com", "cio@example.com"],
                        "expired+14d": ["admin@example.com", "security@example.com", "cio@example.com"]}


def test_an_escalation_due_this_stage_is_planned_with_its_own_delivery():
    plan = reminders.plan([key("a", 2, escalation={"3d": ["security@example.com"]})], {}, NOW)
    assert sorted((r.stage, r.recipient) for r in plan.due) == [("3d", "admin@example.com"),
                                                                ("3d", "security@example.com")]


def test_channels_are_recipients_named_by_tag_after_the_addresses():
    record = key("a", 5, channels=["ops"])
    audience = reminders.Audience(channels=("ops", "security"))
    assert reminders.recipients(record, audience, "7d") == ["admin@example.com", "channel:ops", "channel:security"]
    plan = reminders.plan([record], {}, NOW, audience=audience)
    assert [r.delivery_id for r in plan.due if reminders.is_channel(r.recipient)] == [
        f"a|{record['expires_at']}|7d|channel:ops", f"a|{record['expires_at']}|7d|channel:security"]


def test_an_outstanding_channel_delivery_is_cancelled_once_the_key_no_longer_names_the_channel():
    [_, reminder] = reminders.plan([key("a", 5, channels=["ops"])], {}, NOW).due
    plan = reminders.plan([key("a", 5)], {reminder.delivery_id: sent(reminder, "failed")}, NOW)
    assert [reason for _, reason in plan.cancelled] == ["the channel no longer receives this key's reminders"]


def test_stages_are_measured_in_days_before_expiry():
    assert [reminders.stage_days(s) for s in ("30d", "1d", "expired", "expired+7d")] == [30, 1, 0, -7]
    for wrong in ("0d", "3 days", "expired-7d", "EXPIRED", 3):
        with pytest.raises(ValueError, match="is not a stage; a stage is Nd"):
            reminders.stage_days(wrong)


def test_an_outstanding_reminder_for_a_deleted_key_is_cancelled_with_the_reason():
    [reminder] = reminders.plan([key("a", 5)], {}, NOW).due
    plan = reminders.plan([], {reminder.delivery_id: sent(reminder, "failed")}, NOW)
    assert plan.due == [] and [reason for _, reason in plan.cancelled] == ["the key was deleted"]


def test_an_outstanding_reminder_for_a_removed_address_is_cancelled():
    [reminder] = reminders.plan([key("a", 5)], {}, NOW).due
    plan = reminders.plan([key("a", 5, notify=["new@example.com"])], {reminder.delivery_id: sent(reminder, "failed")},
                          NOW)
    assert [r.recipient for r in plan.due] == ["new@example.com"]
    assert [reason for _, reason in plan.cancelled] == ["the address no longer receives this key's reminders"]


def test_a_digest_lists_expired_keys_first_then_by_soonest_expiry():
    keys = [key("later", 10), key("soon", 2), key("expired", -3), key("info", 29)]
    plan = reminders.plan(keys, {}, NOW)
    [digest] = reminders.digests(plan.due, plan.keys, NOW)
    assert [item.key["id"] for item in digest.items] == ["expired", "soon", "later", "info"]
    assert [item.severity for item in digest.items] == ["expired", "critical", "warning", "info"]


def test_one_digest_per_recipient_whatever_the_address_case():
    keys = [key("a", 2, notify=["Admin@example.com"]), key("b", 5, notify=["admin@EXAMPLE.com", "x@example.com"])]
    plan = reminders.plan(keys, {}, NOW)
    digests = reminders.digests(plan.due, plan.keys, NOW)
    assert [(d.recipient, [i.key["id"] for i in d.items]) for d in digests] == [
        ("Admin@example.com", ["a", "b"]), ("x@example.com", ["b"])]


def test_a_tag_that_left_the_configuration_is_skipped_and_its_outstanding_post_cancelled():
    audience = reminders.Audience(known_tags=frozenset({"ops"}))
    record = key("a", 5, channels=["ops", "gone"])
    assert reminders.recipients(record, audience, "7d") == ["admin@example.com", "channel:ops"]
    [_, _, gone] = reminders.plan([record], {}, NOW).due
    plan = reminders.plan([record], {gone.delivery_id: sent(gone, "failed")}, NOW, audience=audience)
    assert [r.recipient for r in plan.due] == ["admin@example.com", "channel:ops"]
    assert [(r["recipient"], why) for r, why in plan.cancelled] == [
        ("channel:gone", "the channel no longer receives this key's reminders")]
