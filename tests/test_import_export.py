"""Import and export of key records as CSV and JSON (DESIGN §16): all rows or none, in one atomic write."""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from conftest import ADMIN_TOKEN, stored_bytes

from server import create_app
from server.domain.key_files import escape_cell, unescape_cell
from server.domain.keys import NEVER_STORED
from server.store.journal import Journal

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ORG = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
HEADER = "org_id,org_name,directory_id,directory_name,identity_provider,expires_at,notify,thresholds,notes"
# Values a spreadsheet would run as formulas, and values that look like the escape itself.
# Tabs and carriage returns cannot start a label (no control characters there); notes test them.
FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+2", "-3", "@SUM(A1)", "'=already quoted", "''",
            "'plain apostrophe", "'"]
# Notes refuse a carriage return (the key rules), so these use the tab and the newline they keep.
NOTES_FORMULAS = ["\ttab first", "\n=a formula on the next line", "'\tquoted tab"]


class Api:
    """An app over a temp data folder with a pinned clock."""

    def __init__(self, data_dir):
        self.app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": lambda: NOW})
        self.client = self.app.test_client()
        self.data_dir = data_dir

    def upload(self, body, media_type="text/csv", dry_run=None):
        """POST a file to /api/v1/import."""
        query = "" if dry_run is None else f"?dry_run={dry_run}"
        data = body.encode("utf-8") if isinstance(body, str) else body
        return self.client.post("/api/v1/import" + query, data=data, content_type=media_type, headers=ADMIN)

    def export(self, file_format="csv"):
        """Return the export's bytes."""
        response = self.client.get(f"/api/v1/export?format={file_format}", headers=ADMIN)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.data

    def records(self):
        """Return the stored records, soonest expiry first."""
        return self.client.get("/api/v1/keys", headers=ADMIN).get_json()["keys"]

    def add(self, **fields):
        """Create a key through the API and return it."""
        response = self.client.post("/api/v1/keys", headers=ADMIN, json={"org_id": ORG, "expires_at": "2027-01-01",
                                                                          **fields})
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()


@pytest.fixture
def api(data_dir):
    """An app over an empty data folder."""
    application = Api(data_dir)
    yield application
    application.app.extensions["scimwatch"].close()


def csv_text(*rows, header=HEADER):
    """Return CSV text with the header and rows (lists of cells), as a spreadsheet writes it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header.split(","))
    writer.writerows(rows)
    return out.getvalue()


def refusal(response):
    """Assert an import_invalid refusal in the one error shape; return its rows."""
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "fields", "rows"} and error["code"] == "import_invalid"
    return error["rows"]


# --- creating, counting, matching ----------------------------------------------------------------

def test_a_csv_file_creates_its_keys_and_the_answer_counts_them(api):
    body = csv_text([ORG, "Acme", "dir-1", "Okta EU", "okta", "2026-12-06", "it@acme.example;sec@acme.example",
                     "30;7", ""],
                    [ORG, "Acme", "", "Entra staff", "entra", "2027-02-01T12:00:00+01:00", "", "", "two\nlines"])

    response = api.upload(body)

    assert response.status_code == 200
    assert response.get_json() == {"dry_run": False, "created": 2, "updated": 0, "unchanged": 0}
    first, second = api.records()
    assert first["directory_name"] == "Okta EU" and first["notify"] == ["it@acme.example", "sec@acme.example"]
    assert first["thresholds"] == [30, 7] and first["source"] == "import"
    assert first["expires_at"] == "2026-12-06T00:00:00Z"
    assert second["expires_at"] == "2027-02-01T11:00:00Z" and second["notes"] == "two\nlines"
    assert "thresholds" not in second and second["identity_provider"] == "entra" and second["directory_id"] == ""


def test_rows_match_by_id_else_by_org_kind_and_directory_id_or_name_ignoring_case(api):
    by_id = api.add(directory_name="Renamed later", label="a")
    by_directory_id = api.add(directory_id="dir-2", label="b")
    by_name = api.add(directory_name="Okta EU", label="c")
    other_kind = api.add(directory_name="Okta EU", kind="api_token", label="d")
    body = csv_text([by_id["id"], ORG, "", "New name", "2027-01-01"],
                    ["", ORG, "dir-2", "", "2027-05-05"],
                    ["", ORG, "", "okta eu", "2027-01-01"],
                    ["", ORG, "dir-9", "", "2027-01-01"],
                    header="id,org_id,directory_id,directory_name,expires_at")

    response = api.upload(body)

    assert response.get_json() == {"dry_run": False, "created": 1, "updated": 3, "unchanged": 0}
    stored = {record["id"]: record for record in api.records()}
    assert stored[by_id["id"]]["directory_name"] == "New name"
    assert stored[by_directory_id["id"]]["expires_at"] == "2027-05-05T00:00:00Z"
    assert stored[by_name["id"]]["directory_name"] == "okta eu" and stored[other_kind["id"]] == other_kind
    assert len(stored) == 5


def test_an_unknown_id_creates_the_record_under_that_id_so_importing_twice_changes_nothing(api):
    body = csv_text(["from-another-server", ORG, "2027-01-01", "Contractors token"],
                    header="id,org_id,expires_at,label")

    assert api.upload(body).get_json()["created"] == 1
    assert api.upload(body).get_json() == {"dry_run": False, "created": 0, "updated": 0, "unchanged": 1}
    assert [record["id"] for record in api.records()] == ["from-another-server"]


def test_an_export_imported_again_reports_everything_unchanged(api):
    api.add(directory_id="dir-1", directory_name="Ünïcödé 目录", identity_provider="okta",
            notify=["a@acme.example", "b@acme.example"], thresholds=[30, 14, 1],
            notes="line one\nline two, \"quoted\"")
    api.add(label="no directory", kind="admin_api_key", notes="  leading spaces kept")
    for number, text in enumerate(FORMULAS + NOTES_FORMULAS):
        label = text if text in FORMULAS else "notes"
        api.add(directory_name=label, label=label, notes=text, org_name=label, expires_at=f"2027-01-{number + 1:02d}")
    before = stored_bytes(api.data_dir)

    for file_format, media_type in (("csv", "text/csv"), ("json", "application/json")):
        response = api.upload(api.export(file_format), media_type)
        assert response.get_json() == {"dry_run": False, "created": 0, "updated": 0,
                                       "unchanged": 2 + len(FORMULAS + NOTES_FORMULAS)}, file_format

    assert stored_bytes(api.data_dir) == before


def test_an_export_moved_to_an_empty_server_recreates_every_record(api, tmp_path):
    api.add(directory_id="dir-1", notify=["a@acme.example"], thresholds=[7], notes="=cmd|' /C calc'!A0")
    api.add(kind="api_token", label="@token")
    exported = api.export()
    fresh = Api(tmp_path / "other")
    try:
        assert fresh.upload(exported).get_json()["created"] == 2
        keep = ("id", "org_id", "directory_id", "label", "notify", "thresholds", "notes", "expires_at", "kind")
        assert [{k: r.get(k) for k in keep} for r in fresh.records()] == [
            {k: r.get(k) for k in keep} for r in api.records()]
    finally:
        fresh.app.extensions["scimwatch"].close()


def test_a_json_file_imports_like_the_api_and_ignores_what_the_server_sets(api):
    body = {"keys": [{"org_id": ORG, "expires_at": "2027-01-01", "directory_name": "Okta",
                      "notify": ["it@acme.example"], "source": "atlassian", "created_at": "2020-01-01T00:00:00Z",
                      "history": [], "removed_upstream": True}]}

    response = api.upload(json.dumps(body), "application/json")

    assert response.get_json()["created"] == 1
    (record,) = api.records()
    assert record["source"] == "import" and record["created_at"] == "2026-11-29T09:00:00Z"
    assert record["removed_upstream"] is False


# --- CSV details: BOM, newlines, formulas --------------------------------------------------------

def test_a_bom_is_tolerated(api):
    body = csv_text([ORG, "", "", "Okta", "okta", "2027-01-01", "", "", ""])

    assert api.upload(b"\xef\xbb\xbf" + body.encode()).get_json()["created"] == 1
    assert api.upload(body).get_json() == {"dry_run": False, "created": 0, "updated": 0, "unchanged": 1}
    assert api.records()[0]["org_id"] == ORG


def test_quoted_newlines_stay_in_their_cell_and_rows_are_numbered_by_line(api):
    body = (HEADER + "\r\n"
            + f'{ORG},Acme,,Okta,okta,2027-01-01,,,"first line\r\nsecond line\nthird"\r\n'
            + f'{ORG},Acme,,Entra,entra,2027-02-30,,,"a\r\nb"\r\n'
            + f"{ORG},Acme,,Ping,pingone,not a date,,,\r\n")

    rows = refusal(api.upload(body))

    assert [row["row"] for row in rows] == [5, 7]
    assert set(rows[0]["fields"]) == {"expires_at"}
    assert api.upload(body.replace("2027-02-30", "2027-02-28").replace("not a date", "2027-03-01")).status_code == 200
    # A spreadsheet's CRLF inside a cell becomes the newline that notes keep.
    assert api.records()[0]["notes"] == "first line\nsecond line\nthird"


@pytest.mark.parametrize("text", FORMULAS + NOTES_FORMULAS)
def test_formula_cells_are_quoted_on_export_and_restored_on_import(api, text):
    field = "label" if text in FORMULAS else "notes"
    api.add(**{field: text})

    exported = api.export().decode("utf-8-sig")

    header, row = list(csv.reader(io.StringIO(exported, newline="")))
    cells = dict(zip(header, row, strict=True))
    assert cells[field] == escape_cell(text) and unescape_cell(cells[field]) == text
    for cell in row:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert api.upload(exported).get_json()["unchanged"] == 1
    assert api.records()[0][field] == text


def test_an_export_is_a_csv_or_json_download(api):
    api.add(directory_name="Okta")

    response = api.client.get("/api/v1/export?format=csv", headers=ADMIN)
    assert response.mimetype == "text/csv" and response.data.startswith(b"\xef\xbb\xbfid,org_id,")
    assert response.headers["Content-Disposition"] == 'attachment; filename="scimwatch-keys.csv"'
    document = json.loads(api.export("json"))
    assert [record["directory_name"] for record in document["keys"]] == ["Okta"]
    for query in ("?format=xlsx", ""):
        refused = api.client.get("/api/v1/export" + query, headers=ADMIN)
        assert refused.status_code == 400 and refused.get_json()["error"]["fields"] == {"format": "must be csv or json"}


# --- refusals: every bad row, nothing applied -----------------------------------------------------

def test_every_bad_row_is_listed_with_its_field_messages_and_nothing_is_applied(api):
    api.add(directory_name="Existing")
    before = stored_bytes(api.data_dir)
    good = [ORG, "Acme", "", "Good", "okta", "2027-01-01", "", "", ""]
    body = csv_text(good,
                    ["", "Acme", "has space", "Bad", "azure", "2027-02-30", "not-an-address", "0;x", ""],
                    [*good[:3], "Another good one", *good[4:]],
                    [ORG, "Acme", "", "Bad notes", "okta", "2027-01-01", "", "", "bell\x07"])

    rows = refusal(api.upload(body))

    assert [row["row"] for row in rows] == [3, 5]
    assert set(rows[0]["fields"]) == {"org_id", "directory_id", "identity_provider", "expires_at", "notify",
                                      "thresholds"}
    assert set(rows[1]["fields"]) == {"notes"}
    assert stored_bytes(api.data_dir) == before
    assert [record["directory_name"] for record in api.records()] == ["Existing"]


def test_json_rows_are_numbered_from_one(api):
    body = {"keys": [{"org_id": ORG, "expires_at": "2027-01-01"}, "not an object",
                     {"org_id": ORG, "expires_at": "2027-01-01", "api_key": "s3cr3t-value"}, {"expires_at": "2027"}]}

    rows = refusal(api.upload(json.dumps(body), "application/json"))

    assert rows == [{"row": 2, "fields": {"row": "must be an object with the key's fields"}},
                    {"row": 3, "fields": {"api_key": NEVER_STORED}},
                    {"row": 4, "fields": {"expires_at": rows[2]["fields"]["expires_at"], "org_id": "is required"}}]
    assert "s3cr3t" not in json.dumps(rows)


@pytest.mark.parametrize("header, field, message", [
    ("org_id,expires_at,colour", "colour", "unknown column"),
    ("org_id,expires_at,api_key", "api_key", NEVER_STORED),
    ("org_id,expires_at,Token", "Token", NEVER_STORED),
    ("org_id,expires_at,org_id", "org_id", "appears more than once"),
    ("org_id,expires_at,", "column 3", "has no name"),
])
def test_a_header_with_unknown_secret_or_repeated_columns_is_refused_at_line_one(api, header, field, message):
    rows = refusal(api.upload(f"{header}\r\n{ORG},2027-01-01,x\r\n"))

    assert rows[0]["row"] == 1 and message in rows[0]["fields"][field]


def test_two_rows_for_one_record_are_refused(api):
    existing = api.add(directory_id="dir-1")
    body = csv_text([existing["id"], ORG, "", "2027-01-01"], ["", ORG, "dir-1", "2027-02-01"],
                    ["", ORG, "dir-2", "2027-01-01"], ["", ORG, "DIR-2", "2027-01-01"],
                    ["", ORG, "dir-2", "2027-01-01"], header="id,org_id,directory_id,expires_at")

    rows = refusal(api.upload(body))

    assert [row["row"] for row in rows] == [3, 6]
    assert rows[0]["fields"] == {"row": "matches the same record as row 2"}
    assert rows[1]["fields"] == {"row": "describes the same new record as row 4"}


def test_a_row_that_matches_several_records_asks_for_the_id(api):
    api.add(directory_name="Okta", label="one")
    api.add(directory_name="OKTA", label="two")

    rows = refusal(api.upload(csv_text([ORG, "okta", "2027-01-01"], header="org_id,directory_name,expires_at")))

    assert rows == [{"row": 2, "fields": {"directory_name": "matches 2 records; add the id column to say which"}}]


@pytest.mark.parametrize("body, message", [
    (b"org_id,expires_at\r\nx,\"2027-01-01\"junk\r\n", "not valid CSV at line 2"),
    (b"org_id,expires_at\r\nx,2027-01-01,extra\r\n", None),
    (b"", "the file is empty"),
    (b"\r\n\r\n", "the file is empty"),
    (b"org_id,expires_at\r\n\xff\xfe,2027-01-01\r\n", "not UTF-8"),
])
def test_a_file_that_is_not_strict_csv_is_refused(api, body, message):
    before = stored_bytes(api.data_dir)

    response = api.upload(body)

    rows = refusal(response)
    if message:
        assert message in response.get_json()["error"]["message"]
    else:
        assert rows == [{"row": 2, "fields": {"row": "has 3 cells; the header has 2"}}]
    assert stored_bytes(api.data_dir) == before


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"keys": {}}', b'{"keys": [], "extra": 1}', b"[" * 100_000])
def test_a_json_body_of_another_shape_is_refused(api, body):
    refusal(api.upload(body, "application/json"))


def test_other_media_types_and_bad_flags_are_refused(api):
    body = csv_text([ORG, "", "", "", "", "2027-01-01", "", "", ""])
    assert api.upload(body, "text/plain").status_code == 415
    assert api.upload(body, "application/vnd.ms-excel").status_code == 415
    refused = api.upload(body, dry_run="maybe")
    assert refused.status_code == 400 and refused.get_json()["error"]["fields"] == {"dry_run": "must be true or false"}
    assert api.records() == []


# --- dry run, size, one write ---------------------------------------------------------------------

def test_a_dry_run_counts_but_changes_nothing(api):
    existing = api.add(directory_name="Okta")
    before = stored_bytes(api.data_dir)
    body = csv_text([existing["id"], ORG, "Okta", "2028-01-01"], ["", ORG, "Entra", "2027-01-01"],
                    header="id,org_id,directory_name,expires_at")

    response = api.upload(body, dry_run="true")

    assert response.get_json() == {"dry_run": True, "created": 1, "updated": 1, "unchanged": 0}
    assert stored_bytes(api.data_dir) == before
    bad = refusal(api.upload(body.replace("2027-01-01", "someday"), dry_run="true"))
    assert bad[0]["row"] == 3


def test_the_import_route_reads_more_than_64_kib_but_not_past_16_mib(api):
    notes = "n" * 1900
    body = csv_text(*([ORG, "", "", f"Directory {n}", "", "2027-01-01", "", "", notes] for n in range(600)))
    assert len(body) > 1024 * 1024

    assert api.upload(body).get_json()["created"] == 600

    too_large = api.client.post("/api/v1/import", data=b"x" * (16 * 1024 * 1024 + 1), content_type="text/csv",
                                headers=ADMIN)
    assert too_large.status_code == 413 and "16 MiB" in too_large.get_json()["error"]["message"]
    # Other routes keep the 64 KiB limit.
    assert api.client.post("/api/v1/keys", data=b"x" * 70_000, content_type="application/json",
                           headers=ADMIN).status_code == 413


def test_ten_thousand_rows_import_in_one_atomic_write(api, monkeypatch):
    rows = [[ORG, f"Org {n % 50}", f"dir-{n:05d}", f"Directory {n}", "okta", f"2027-{n % 12 + 1:02d}-15",
             f"admin{n % 50}@acme.example;it@acme.example", "30;7", "imported"] for n in range(10_000)]
    body = csv_text(*rows)
    lines = []
    real_append = Journal.append

    def counting_append(journal, line):
        lines.append(line)
        real_append(journal, line)

    monkeypatch.setattr(Journal, "append", counting_append)

    response = api.upload(body)

    assert response.get_json() == {"dry_run": False, "created": 10_000, "updated": 0, "unchanged": 0}
    # One write: one journal line holding every new record.
    assert len(lines) == 1 and lines[0].count(b'"org_id"') == 10_000
    assert len(api.records()) == 10_000
    # A key added afterwards gets a place of its own.
    assert api.add(directory_name="after the import")["id"]
    assert len(api.records()) == 10_001


def test_a_refused_import_of_many_rows_leaves_the_data_file_byte_for_byte(api):
    for n in range(3):
        api.add(directory_id=f"dir-{n}")
    before = stored_bytes(api.data_dir)
    rows = [[ORG, "", f"dir-{n}", "", "", "2027-06-01", "", "", ""] for n in range(2_000)]
    rows[1_500][5] = "2027-13-01"

    assert [row["row"] for row in refusal(api.upload(csv_text(*rows)))] == [1_502]
    assert stored_bytes(api.data_dir) == before


def test_import_and_export_need_an_admin_token(api):
    read = api.app.extensions["scimwatch"].issue_token("read", "portal")
    for method, path in (("post", "/api/v1/import"), ("get", "/api/v1/export")):
        assert getattr(api.client, method)(path).status_code == 401
        assert getattr(api.client, method)(path, headers={"Authorization": f"Bearer {read}"}).status_code == 403


def test_the_server_set_fields_are_refused_through_the_api(api):
    for name, value in (("source", "atlassian"), ("upstream_id", "x"), ("removed_upstream", True)):
        response = api.client.post("/api/v1/keys", headers=ADMIN, json={"org_id": ORG, "expires_at": "2027-01-01",
                                                                         name: value})
        assert response.status_code == 400 and name in response.get_json()["error"]["fields"]
    record = api.add()
    assert (record["source"], record["upstream_id"], record["removed_upstream"]) == ("api", None, False)
