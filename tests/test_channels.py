"""Apprise channels (DESIGN §14): the tagged configuration, per-service results, no secret in errors or logs."""
from __future__ import annotations

import logging

import pytest
from receivers import Receiver

from server.notify.channels import ChannelConfigError, Channels

SECRET = "T000SECRET/B000SECRET"


def test_a_yaml_config_gives_tags_and_service_names_and_sends_markdown(tmp_path, receiver):
    config = tmp_path / "apprise.yml"
    config.write_text(f"version: 1\nurls:\n  - {receiver.url}/ops/{SECRET}:\n      - tag: ops\n"
                      f"  - {receiver.url}/sec/{SECRET}:\n      - tag: ops, security\n", encoding="utf-8")
    channels = Channels(config)
    assert channels.tags == ["ops", "security"]
    assert channels.describe() == [{"tag": "ops", "services": ["JSON", "JSON"]},
                                   {"tag": "security", "services": ["JSON"]}]
    assert SECRET not in repr(channels.describe())
    results = channels.send("security", "Okta production: SCIM API key expires in 2 days", "**Rotate** it")
    assert [(result.service, result.sent) for result in results] == [("JSON", True)]
    assert [(path, body["title"]) for path, body in receiver.received] == [
        (f"/sec/{SECRET}", "Okta production: SCIM API key expires in 2 days")]


def test_each_service_of_a_tag_reports_its_own_result(tmp_path):
    failing, working = Receiver([500]), Receiver()
    try:
        config = tmp_path / "apprise.txt"
        config.write_text(f"ops={failing.url}/a\nops={working.url}/b\n", encoding="utf-8")
        results = Channels(config).send("ops", "title", "body")
        assert [result.sent for result in results] == [False, True]
        assert len(failing.received) == 1 and len(working.received) == 1
    finally:
        failing.stop()
        working.stop()


@pytest.mark.parametrize("text", [
    "version: 1\nurls: [ : : oops " + SECRET + "\n",      # YAML that does not parse
    f"ops=json://127.0.0.1:9/{SECRET}\nnot a url at all {SECRET}\n",  # a text line Apprise skips
    "",                                                    # nothing in it
    f"json://127.0.0.1:9/{SECRET}\n",                      # a URL without a tag is never used
])
def test_a_config_that_does_not_parse_is_refused_naming_the_file_never_its_lines(tmp_path, caplog, text):
    config = tmp_path / "apprise.conf"
    config.write_text(text, encoding="utf-8")
    with caplog.at_level(logging.DEBUG), pytest.raises(ChannelConfigError) as refused:
        Channels(config)
    assert str(config) in str(refused.value)
    assert SECRET not in str(refused.value) and SECRET not in caplog.text


def test_a_tag_with_capitals_is_refused_since_keys_name_tags_without_case(tmp_path):
    config = tmp_path / "apprise.txt"
    config.write_text(f"Ops=json://127.0.0.1:9/{SECRET}\n", encoding="utf-8")
    with pytest.raises(ChannelConfigError, match="write tags in lower case \\(found Ops\\)"):
        Channels(config)


def test_a_retry_skips_the_services_that_already_took_the_message(tmp_path):
    first, second = Receiver(), Receiver()
    try:
        config = tmp_path / "apprise.txt"
        config.write_text(f"ops={first.url}/a\nops={second.url}/b\n", encoding="utf-8")
        results = Channels(config).send("ops", "title", "body", skip=frozenset({0}))
        assert [result.sent for result in results] == [True, True]
        assert (len(first.received), len(second.received)) == (0, 1)
    finally:
        first.stop()
        second.stop()


def test_a_missing_file_is_refused_naming_it(tmp_path):
    with pytest.raises(ChannelConfigError, match=r"apprise\.yml is not a readable file"):
        Channels(tmp_path / "apprise.yml")


def test_no_secret_reaches_the_log_while_sending(tmp_path, caplog):
    failing = Receiver([500])
    try:
        config = tmp_path / "apprise.txt"
        config.write_text(f"ops={failing.url}/{SECRET}\n", encoding="utf-8")
        channels = Channels(config)
        with caplog.at_level(logging.DEBUG):
            assert [result.sent for result in channels.send("ops", "t", "b")] == [False]
        assert SECRET not in caplog.text
    finally:
        failing.stop()
