"""How a reminder run reads dry_run: a run meant as a dry run never sends mail."""
from __future__ import annotations

import datetime

import pytest
from smtp_helpers import Clock, Scimwatch

NOW = datetime.datetime(2026, 11, 29, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def scimwatch(data_dir, smtp):
    instance = Scimwatch(data_dir, Clock(NOW), **smtp.settings())
    instance.add_key(days=6)
    yield instance
    instance.close()


def post_run(scimwatch, query: str, **kwargs):
    return scimwatch.client.post(f"/api/v1/reminders/run{query}", headers=scimwatch.headers, **kwargs)


@pytest.mark.parametrize("query", ["?dry_run", "?dry_run=", "?dry_run=true", "?dry_run=TRUE", "?dry_run=1",
                                   "?dry_run=yes", "?dry_run=Yes"])
def test_a_dry_run_however_spelled_sends_and_records_nothing(scimwatch, smtp, query):
    response = post_run(scimwatch, query)
    assert response.status_code == 200, response.json
    assert response.json["dry_run"] is True and [item["status"] for item in response.json["due"]] == ["new"]
    assert smtp.mailbox.messages == [] and scimwatch.deliveries() == []


@pytest.mark.parametrize("query", ["", "?dry_run=false", "?dry_run=False", "?dry_run=0", "?dry_run=no"])
def test_a_real_run_sends(scimwatch, smtp, query):
    response = post_run(scimwatch, query)
    assert response.status_code == 200 and response.json["dry_run"] is False and response.json["sent"] == 1
    assert len(smtp.mailbox.messages) == 1


@pytest.mark.parametrize("query, field", [
    ("?dry_run=maybe", "dry_run"), ("?dry_run=%20true", "dry_run"), ("?dry_run=true%20", "dry_run"),
    ("?dry_run=2", "dry_run"), ("?dry_run=on", "dry_run"), ("?dry_run=t", "dry_run"),
    ("?dry_run=false&dry_run=true", "dry_run"), ("?dry_run=true&dry_run=true", "dry_run"),
    # A misspelt dry_run would otherwise be ignored and the run would send.
    ("?dryrun=true", "dryrun"), ("?dry-run=1", "dry-run"), ("?DRY_RUN=true", "DRY_RUN"),
    ("?dry_run=true&x=1", "x"),
])
def test_anything_else_is_refused_and_sends_nothing(scimwatch, smtp, query, field):
    response = post_run(scimwatch, query)
    assert response.status_code == 400, response.json
    assert field in response.json["error"]["fields"]
    assert smtp.mailbox.messages == [] and scimwatch.deliveries() == []


@pytest.mark.parametrize("body", [{"dry_run": True}, {"dry_run": "true"}, {}, [], "dry_run=true"])
def test_a_body_is_refused_since_the_run_takes_its_options_from_the_query(scimwatch, smtp, body):
    data = {"json": body} if not isinstance(body, str) else {"data": body,
                                                             "content_type": "application/x-www-form-urlencoded"}
    response = post_run(scimwatch, "", **data)
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid"
    assert "query" in response.json["error"]["message"]
    assert smtp.mailbox.messages == [] and scimwatch.deliveries() == []
