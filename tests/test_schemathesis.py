"""Schemathesis against docs/openapi.json (issue 16, item 12): every built-in check, a fixed number of
derandomized examples per operation, and not one failure."""
from __future__ import annotations

import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import schemathesis
from conftest import ADMIN_TOKEN, ROOT
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks, positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from server import create_app

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
CONFIG = SchemathesisConfig.from_dict({
    "generation": {"max-examples": 25, "deterministic": True, "database": "none"},
    "headers": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
})
# One app over a temp data folder, with a pinned clock, answers every request in-process (WSGI); it is
# made at import because schemathesis binds the app to the schema before collection.
_DATA = tempfile.TemporaryDirectory(prefix="scimwatch-schemathesis-")
# One channel tag, `ops`, on a port where nothing listens: a channel post simply fails.
CHANNEL_TAGS = {"ops"}
(Path(_DATA.name) / "apprise.txt").write_text("ops=json://127.0.0.1:9/hook\n", encoding="utf-8")
APP = create_app({"DATA_DIR": Path(_DATA.name) / "data", "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": lambda: NOW,
                  "APPRISE_CONFIG": Path(_DATA.name) / "apprise.txt"})
schema = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.json", config=CONFIG)
schema.app = APP


def written_time(text: str) -> datetime:
    """Read a TimeInput the way its description says: fractions dropped, a plain date is 00:00 UTC."""
    text = re.sub(r"\.[0-9]+", "", text.upper().replace(" ", "T").replace("Z", "+00:00"))
    moment = datetime.fromisoformat(text if "T" in text else text + "T00:00:00+00:00")
    return moment.astimezone(UTC)


def rotation_is_possible(body) -> bool:
    """The one rule a schema cannot state: the new expiry is later than the rotation, and within 2999."""
    if not isinstance(body, dict):
        return True
    rotated_at = written_time(body["rotated_at"]) if body.get("rotated_at") else NOW
    expires_at = written_time(body["expires_at"]) if body.get("expires_at") else rotated_at + timedelta(days=365)
    return rotated_at < expires_at and expires_at.year <= 2999


def observation_is_possible(body) -> bool:
    """The rule the Observation description states in words: page_url is inside the body's own org."""
    if not isinstance(body, dict) or not isinstance(body.get("page_url"), str):
        return True
    return body["page_url"].startswith(f"https://admin.atlassian.com/o/{body.get('org_id')}/")


def channels_are_known(body) -> bool:
    """The rule the Channels description states in words: each tag is one the Apprise configuration defines."""
    channels = body.get("channels") if isinstance(body, dict) else None
    return not isinstance(channels, list) or all(isinstance(tag, str) and tag.strip().lower() in CHANNEL_TAGS
                                                 for tag in channels)


def is_possible(case) -> bool:
    """Whether a case is possible: a schema-valid rotation or observation must also keep its cross-field rule."""
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if positive and not channels_are_known(case.body):
        return False
    if positive and case.operation.path == "/api/v1/observations":
        return observation_is_possible(case.body)
    return not (positive and case.operation.path.endswith("/rotate")) or rotation_is_possible(case.body)


@schema.hook
def filter_case(context, case) -> bool:
    """Drop generated rotations that break the rule the Rotation description states in words."""
    return is_possible(case)


@schema.hook
def before_add_examples(context, examples: list) -> None:
    """Drop rotations built from the document's examples that break the same rule."""
    examples[:] = [case for case in examples if is_possible(case)]


@pytest.fixture(scope="module", autouse=True)
def close_the_app():
    """Release the data folder once the module's tests are done."""
    yield
    APP.extensions["scimwatch"].close()
    _DATA.cleanup()


@schema.parametrize()
def test_the_server_does_what_its_description_says(case):
    # An import file's rows follow the key rules, which a schema for a text/csv body cannot state: a
    # generated "valid" file is any text, so it may be refused. Every other check still runs on import;
    # its row rules are tested in tests/test_import_export.py.
    excluded = [positive_data_acceptance] if case.operation.path == "/api/v1/import" else []
    case.call_and_validate(excluded_checks=excluded)


def test_chains_of_calls_keep_to_the_description():
    # Create, read, update, rotate and delete linked by the ids they return: where use_after_free and
    # ensure_resource_availability have something to check.
    schema.as_state_machine().run(settings=settings(
        max_examples=10, stateful_step_count=6, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck)))


def test_every_check_is_enabled():
    load_all_checks()
    operation = next(iter(schema.get_all_operations())).ok()
    for phase in ("examples", "coverage", "fuzzing", "stateful"):
        enabled = schema.config.checks_config_for(operation=operation, phase=phase)
        assert [check.__name__ for check in CHECKS.get_all() if not getattr(enabled, check.__name__).enabled] == []


def test_every_operation_of_the_description_is_tested():
    described = {(method.upper(), path) for path, item in schema.raw_schema["paths"].items()
                 for method in item if method != "parameters"}
    tested = {(result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()}
    assert tested == described and len(described) >= 10
