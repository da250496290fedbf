"""The admin web UI (DESIGN §12) through Flask's test client: sign-in, sessions, throttle, headers, CSRF, forms."""
from __future__ import annotations

import base64
import html
import io
import json
import re
import stat
import threading
import zlib
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from conftest import ADMIN_TOKEN
from markupsafe import escape
from smtp_helpers import Clock, Mailbox, SmtpServer, free_port

from server import create_app
from server.notify import deliveries
from server.web.ui_auth import SignInThrottle

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
XSS = ['<img src=x onerror=alert(1)>', '"><script>alert(1)</script>']


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def make_app(data_dir, clock):
    """Build apps over the test's data folder (one at a time: each holds the folder's lock)."""
    made = []

    def make(**settings):
        for old in made:
            old.extensions["scimwatch"].close()
        made.clear()
        made.append(create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": clock, **settings}))
        return made[-1]

    yield make
    for old in made:
        old.extensions["scimwatch"].close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client) -> str:
    """Return a CSRF token of this client's session (from the sign-in form, which any session can open)."""
    page = client.get("/ui/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def sign_in(client, token: str = ADMIN_TOKEN, **environ):
    """Sign in through the form; return the answer to the POST."""
    return client.post("/ui/login", data={"token": token, "csrf_token": csrf_token(client)},
                       environ_base=environ)


@pytest.fixture
def ui(client):
    """A client signed in with the configured admin token."""
    assert sign_in(client).status_code == 303
    return client


def post(client, path: str, data: dict | None = None, **kwargs):
    """POST a UI form with a valid CSRF token."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client)}, **kwargs)


def api_key(app, **fields) -> dict:
    """Create a key through the API (the reference the UI must match)."""
    answer = app.test_client().post("/api/v1/keys", json={"org_id": "acme", "expires_at": "2027-01-10", **fields},
                                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert answer.status_code == 201, answer.json
    return answer.json


def state(app) -> dict:
    """Everything a form could change: keys, tokens, deliveries, outbox files."""
    context = app.extensions["scimwatch"]
    outbox = context.settings["DATA_DIR"] / "outbox"
    return {"keys": context.registry.list(), "tokens": context.tokens.list(),
            "deliveries": context.store.collection("deliveries").all(),
            "outbox": sorted(path.name for path in outbox.iterdir()) if outbox.exists() else []}


def field_error(page: str, name: str) -> str | None:
    """Return the error text shown inside the field block of input `name`, or None."""
    block = re.search(r'<div class="field[^"]*">\s*<label for="' + name + r'">.*?</div>', page, re.S)
    assert block, f"no field {name}"
    error = re.search(r'<p class="error"[^>]*><strong>Error:</strong> (.*?)</p>', block.group(0), re.S)
    return html.unescape(error.group(1)) if error else None


def field_value(page: str, name: str) -> str:
    """Return what input, textarea or select `name` shows."""
    tag = re.search(r'<(input|textarea|select) id="' + name + r'"[^>]*>(.*?)(?=</textarea>|</select>|\n|$)', page, re.S)
    if tag.group(1) == "textarea":
        tag = re.search(r'<(textarea) id="' + name + r'"[^>]*>(.*?)</textarea>', page, re.S)
    kind, rest = tag.group(1), tag.group(0)
    if kind == "input":
        return html.unescape(re.search(r'value="([^"]*)"', rest).group(1))
    if kind == "textarea":
        return html.unescape(tag.group(2)).removeprefix("\n")  # as browsers read it
    return re.search(r'<option value="([^"]*)" selected', rest).group(1)


def session_payload(client) -> dict:
    """Decode the signed session cookie's payload (signed, not encrypted: anyone holding it can read it)."""
    cookie = client.get_cookie("scimwatch_ui", path="/ui/")
    data = cookie.value
    compressed = data.startswith(".")
    data = data.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return json.loads(zlib.decompress(raw) if compressed else raw)


PAGES = ["/ui/", "/ui/keys/new", "/ui/deliveries", "/ui/tokens", "/ui/settings", "/ui/preview", "/ui/preview.json"]


# Signing in and sessions


def test_the_root_address_redirects_to_the_ui(client):
    answer = client.get("/")
    assert answer.status_code == 302 and answer.headers["Location"] == "/ui/"


@pytest.mark.parametrize("path", [*PAGES, "/ui/keys/some-id", "/ui/keys/some-id/edit", "/ui/keys/some-id/delete"])
def test_every_page_without_a_session_goes_to_sign_in_and_back_after_it(client, path):
    answer = client.get(path)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/ui/login"
    assert parse_qs(location.query) == ({} if path == "/ui/" else {"next": [path]})
    signed_in = client.post("/ui/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf_token(client),
                                               "next": path})
    assert signed_in.headers["Location"] == path


@pytest.mark.parametrize("elsewhere", ["//evil.example/ui/", "https://evil.example/ui/", "/api/v1/keys",
                                       "/ui/\\evil.example", "javascript:alert(1)", ""])
def test_sign_in_never_sends_the_browser_out_of_the_ui(client, elsewhere):
    page = client.get("/ui/login?" + urlencode({"next": elsewhere}))
    assert 'name="next"' not in page.text
    answer = client.post("/ui/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf_token(client), "next": elsewhere})
    assert answer.headers["Location"] == "/ui/"


def test_a_form_posted_without_a_session_goes_to_sign_in_and_changes_nothing(app, client):
    before = state(app)
    answer = post(client, "/ui/keys/new", {"org_id": "acme", "expires_at": "2027-01-10"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/ui/login"
    assert state(app) == before


def test_signing_in_sets_a_session_cookie_that_is_httponly_lax_and_only_for_the_ui(client):
    answer = sign_in(client)
    assert answer.status_code == 303 and answer.headers["Location"] == "/ui/"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("scimwatch_ui=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/ui/" in cookie
    assert "Secure" not in cookie  # plain http without an https public URL
    expires = datetime.strptime(re.search(r"Expires=([^;]+)", cookie).group(1), "%a, %d %b %Y %H:%M:%S GMT")
    assert timedelta(hours=11) < expires.replace(tzinfo=UTC) - datetime.now(UTC) <= timedelta(hours=12, minutes=1)
    assert client.get("/ui/").status_code == 200


def test_the_cookie_is_secure_when_the_public_url_is_https(make_app):
    client = make_app(PUBLIC_URL="https://scimwatch.example.com").test_client()
    assert "; Secure" in sign_in(client, **{"wsgi.url_scheme": "https"}).headers["Set-Cookie"]


def test_the_session_cookie_never_holds_the_token(app):
    made = app.test_client().post("/api/v1/tokens", json={"scope": "admin", "label": "ops"},
                                  headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json
    for token in (ADMIN_TOKEN, made["token"]):
        client = app.test_client()
        sign_in(client, token)
        payload = json.dumps(session_payload(client))
        assert token not in payload
        assert app.extensions["scimwatch"].tokens.records.get(made["id"])["hash"] not in payload


def test_a_wrong_token_answers_the_form_again_with_401_and_no_session(client):
    csrf = csrf_token(client)
    answer = client.post("/ui/login", data={"token": "not-the-token", "csrf_token": csrf})
    assert answer.status_code == 401
    assert "Set-Cookie" not in answer.headers
    assert "That token is not valid" in answer.text and 'name="token"' in answer.text
    assert client.get("/ui/").status_code == 303


def test_a_read_token_cannot_sign_in(app, client):
    read = app.test_client().post("/api/v1/tokens", json={"scope": "read"},
                                  headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json["token"]
    answer = sign_in(client, read)
    assert answer.status_code == 401 and "not an admin token" in answer.text
    assert client.get("/ui/").status_code == 303


def test_revoking_the_token_of_a_session_ends_that_session_at_once(app, client):
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    made = app.test_client().post("/api/v1/tokens", json={"scope": "admin", "label": "ops"}, headers=admin).json
    assert sign_in(client, made["token"]).status_code == 303
    assert client.get("/ui/").status_code == 200
    assert app.test_client().delete(f"/api/v1/tokens/{made['id']}", headers=admin).status_code == 204
    answer = client.get("/ui/")
    assert answer.status_code == 303 and answer.headers["Location"] == "/ui/login?why=ended"


def test_a_session_ends_twelve_hours_after_sign_in(ui, clock):
    clock.now += timedelta(hours=11, minutes=59)
    assert ui.get("/ui/").status_code == 200
    clock.now += timedelta(minutes=1)
    assert ui.get("/ui/").status_code == 303
    assert "session ended" in ui.get("/ui/login?why=ended").text


def with_cookie(app, value: str):
    """A new client of `app` holding a session cookie taken from another client."""
    client = app.test_client()
    client.set_cookie("scimwatch_ui", value, path="/ui/")
    return client


def test_a_session_of_the_configured_token_ends_when_the_configured_token_changes(make_app):
    first = make_app()
    client = first.test_client()
    sign_in(client)
    cookie = client.get_cookie("scimwatch_ui", path="/ui/").value
    assert with_cookie(first, cookie).get("/ui/").status_code == 200
    same = make_app()  # a restart with the same token: the session goes on
    assert with_cookie(same, cookie).get("/ui/").status_code == 200
    changed = make_app(ADMIN_TOKEN="a-new-admin-token")
    assert with_cookie(changed, cookie).get("/ui/").status_code == 303


def test_the_session_secret_is_made_once_in_the_data_folder_with_mode_0600(make_app, data_dir):
    make_app()
    secret = data_dir / "ui.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    first = secret.read_bytes()
    assert len(first.strip()) >= 64
    make_app()
    assert secret.read_bytes() == first
    assert not [path for path in data_dir.iterdir() if path.name.startswith(".ui.secret")]


def test_signing_out_ends_the_session(ui):
    answer = post(ui, "/ui/logout")
    assert answer.status_code == 303 and answer.headers["Location"] == "/ui/login?why=signed_out"
    assert ui.get("/ui/").status_code == 303


def test_ten_failed_sign_ins_from_one_address_answer_429_until_the_window_passes(client, clock):
    for attempt in range(10):
        clock.now += timedelta(seconds=30)
        assert sign_in(client, f"wrong-{attempt}").status_code == 401
    refused = sign_in(client)  # even the right token, from this address
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.text and "Set-Cookie" not in refused.headers
    # The first failure was at 09:00:30; the window of ten minutes passes at 09:10:30.
    assert refused.headers["Retry-After"] == str(10 * 60 - 9 * 30)
    clock.now = START + timedelta(minutes=10, seconds=29)
    assert sign_in(client).status_code == 429
    clock.now = START + timedelta(minutes=10, seconds=30)
    assert sign_in(client).status_code == 303


def test_the_throttle_counts_each_address_apart(client):
    for attempt in range(10):
        sign_in(client, f"wrong-{attempt}", REMOTE_ADDR="192.0.2.1")
    assert sign_in(client, REMOTE_ADDR="192.0.2.1").status_code == 429
    assert sign_in(client, REMOTE_ADDR="192.0.2.2").status_code == 303


def test_the_throttle_remembers_a_bounded_number_of_addresses():
    throttle = SignInThrottle(limit=2, max_addresses=3)
    for address in ("a", "b", "c", "d", "e"):
        throttle.failed(address, START)
        throttle.failed(address, START)
    assert len(throttle) == 3
    assert throttle.refused_until("e", START) == START + timedelta(minutes=10)
    assert throttle.refused_until("a", START) is None  # the stalest was forgotten first


def test_a_non_admin_token_failure_counts_toward_the_throttle(app, client):
    read = app.test_client().post("/api/v1/tokens", json={"scope": "read"},
                                  headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json["token"]
    for _ in range(10):
        assert sign_in(client, read).status_code == 401
    assert sign_in(client).status_code == 429


# Headers


def assert_ui_headers(answer, *, stored: bool = False):
    policy_text = answer.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy_text.split(";"))
    assert directives["default-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy_text and "unsafe-eval" not in policy_text
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    if not stored:
        assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", [p for p in PAGES if not p.endswith(".json")])
def test_every_page_carries_the_security_headers(ui, path):
    answer = ui.get(path)
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert_ui_headers(answer)


def test_sign_in_redirects_errors_and_static_files_carry_the_security_headers(client):
    assert_ui_headers(client.get("/ui/login"))
    assert_ui_headers(client.get("/ui/"))  # the redirect to sign-in
    assert_ui_headers(client.get("/"))
    assert_ui_headers(client.get("/ui/no-such-page"))
    assert_ui_headers(client.post("/ui/login", data={"token": "x"}))  # no CSRF token
    static = client.get("/ui/static/ui.css")
    assert static.status_code == 200 and static.mimetype == "text/css"
    assert_ui_headers(static, stored=True)


def test_the_api_and_the_banner_route_carry_no_ui_header_and_no_session(ui, admin):
    for path in ("/api/v1/banners", "/api/v1/keys", "/healthz", "/widget/scim-banner.js"):
        # A browser would not even send the cookie (its path is /ui/); the server ignores it anyway.
        cookie = ui.get_cookie("scimwatch_ui", path="/ui/").value
        answer = ui.get(path, headers={**admin, "Cookie": f"scimwatch_ui={cookie}"})
        assert answer.status_code == 200, path
        assert "Content-Security-Policy" not in answer.headers
        assert "Set-Cookie" not in answer.headers
        assert "Cookie" not in answer.headers.get("Vary", "")


# CSRF


def csrf_cases(app):
    key = api_key(app, notify=["ops@example.com"], expires_at="2026-12-04")
    token = app.test_client().post("/api/v1/tokens", json={"scope": "read"},
                                   headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json
    return [
        ("/ui/keys/new", {"org_id": "other", "expires_at": "2027-02-01"}),
        (f"/ui/keys/{key['id']}/edit", {"org_id": "acme", "expires_at": "2027-02-01", "label": "changed"}),
        (f"/ui/keys/{key['id']}/rotate", {"rotation": "now"}),
        (f"/ui/keys/{key['id']}/acknowledge", {"by": "Mallory"}),
        (f"/ui/keys/{key['id']}/delete", {}),
        ("/ui/tokens", {"scope": "admin", "label": "sneaky"}),
        (f"/ui/tokens/{token['id']}/revoke", {}),
        ("/ui/deliveries/run", {}),
        ("/ui/settings/test-email", {"address": "ops@example.com"}),
        ("/ui/logout", {}),
    ]


@pytest.mark.parametrize("sent", ["missing", "wrong", "from another session"])
def test_a_post_without_a_valid_csrf_token_is_refused_with_400_and_changes_nothing(app, ui, sent):
    other = app.test_client()
    foreign = csrf_token(other)
    for path, data in csrf_cases(app):
        before = state(app)
        token = {"missing": {}, "wrong": {"csrf_token": "forged"}, "from another session": {"csrf_token": foreign}}
        answer = ui.post(path, data={**data, **token[sent]})
        assert answer.status_code == 400, path
        assert answer.mimetype == "text/html" and "Nothing was changed" in answer.text
        assert "Traceback" not in answer.text
        assert state(app) == before, path
    assert ui.get("/ui/").status_code == 200  # still signed in: logout was refused too


def test_the_sign_in_form_needs_its_csrf_token(client):
    answer = client.post("/ui/login", data={"token": ADMIN_TOKEN})
    assert answer.status_code == 400 and "Set-Cookie" not in answer.headers


def test_the_api_needs_no_csrf_token(ui, admin):
    answer = ui.post("/api/v1/keys", json={"org_id": "acme", "expires_at": "2027-01-10"}, headers=admin)
    assert answer.status_code == 201


# Keys


KEY_FORM = {"org_id": "3f2a9c1e-0000-4000-8000-000000000001", "org_name": "Acme", "directory_id": "dir-1",
            "directory_name": "Okta production", "identity_provider": "okta", "kind": "scim", "label": "prod",
            "expires_at": "2026-12-20", "notify": "a@example.com\r\nb@example.com, c@example.com",
            "thresholds": "30, 7,1", "notes": "line one\r\nline two"}


def test_adding_a_key_records_what_the_api_would(app, ui):
    answer = post(ui, "/ui/keys/new", KEY_FORM)
    assert answer.status_code == 303
    key_id = answer.headers["Location"].rsplit("/", 1)[1]
    stored = app.extensions["scimwatch"].registry.get(key_id)
    reference = api_key(app, **{**KEY_FORM, "notify": ["a@example.com", "b@example.com", "c@example.com"],
                                "thresholds": [30, 7, 1], "notes": "line one\nline two"})
    ignore = ("id", "created_at", "updated_at")
    assert {k: v for k, v in stored.items() if k not in ignore} == {
        k: v for k, v in reference.items() if k not in ignore}
    page = ui.get(answer.headers["Location"])
    assert "Added Okta production." in page.text and "Okta production" in page.text


def test_a_key_added_with_only_the_required_fields_gets_the_api_defaults(app, ui):
    form = {**dict.fromkeys(KEY_FORM, ""), "identity_provider": "other", "kind": "scim",
            "org_id": "acme", "expires_at": "2027-03-01"}
    answer = post(ui, "/ui/keys/new", form)
    assert answer.status_code == 303
    stored = app.extensions["scimwatch"].registry.list()[0]
    assert stored["expires_at"] == "2027-03-01T00:00:00Z" and stored["notify"] == [] and "thresholds" not in stored


def test_a_bad_key_form_answers_400_with_each_api_message_next_to_its_field_and_keeps_what_was_typed(app, ui):
    typed = {**KEY_FORM, "org_id": "has spaces/slash", "expires_at": "next tuesday",
             "notify": "ops@example.com\nnot-an-address", "thresholds": "30, soon", "identity_provider": "myspace",
             "directory_name": "x" * 201}
    before = state(app)
    answer = post(ui, "/ui/keys/new", typed)
    assert answer.status_code == 400
    assert state(app) == before
    reference = app.test_client().post("/api/v1/keys", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, json={
        **typed, "notify": ["ops@example.com", "not-an-address"], "thresholds": [30, "soon"],
        "notes": "line one\nline two"}).json["error"]["fields"]
    assert set(reference) == {"org_id", "expires_at", "notify", "thresholds", "identity_provider", "directory_name"}
    for name, message in reference.items():
        assert field_error(answer.text, name) == message
    for name in ("org_id", "expires_at", "directory_name", "thresholds", "label"):
        assert field_value(answer.text, name) == typed[name]
    assert field_value(answer.text, "notify") == typed["notify"]
    assert field_error(answer.text, "label") is None
    assert 'aria-invalid="true"' in answer.text and 'href="#org_id"' in answer.text


def test_a_missing_required_field_is_reported_next_to_it(ui):
    answer = post(ui, "/ui/keys/new", {**KEY_FORM, "org_id": "", "expires_at": ""})
    assert answer.status_code == 400
    assert field_error(answer.text, "org_id") == "is required"
    assert field_error(answer.text, "expires_at") == "is required"


def test_a_key_form_refuses_a_key_value_or_an_unknown_field_as_the_api_does(app, ui):
    before = state(app)
    answer = post(ui, "/ui/keys/new", {**KEY_FORM, "api_key": "sk-secret", "colour": "red"})
    assert answer.status_code == 400 and state(app) == before
    assert "scimwatch never stores key values" in answer.text
    assert "colour: unknown field" in answer.text
    assert "sk-secret" not in answer.text


def test_editing_a_key_changes_it_and_an_emptied_optional_field_returns_to_its_default(app, ui):
    key = api_key(app, label="old", thresholds=[10], notify=["a@example.com"], directory_id="d1")
    page = ui.get(f"/ui/keys/{key['id']}/edit")
    assert field_value(page.text, "label") == "old" and field_value(page.text, "thresholds") == "10"
    form = {**dict.fromkeys(KEY_FORM, ""), "org_id": "acme", "identity_provider": "entra", "kind": "scim",
            "expires_at": "2027-02-02T10:00:00Z", "label": "new"}
    answer = post(ui, f"/ui/keys/{key['id']}/edit", form)
    assert answer.status_code == 303 and answer.headers["Location"] == f"/ui/keys/{key['id']}"
    stored = app.extensions["scimwatch"].registry.get(key["id"])
    assert stored["label"] == "new" and stored["identity_provider"] == "entra"
    assert stored["expires_at"] == "2027-02-02T10:00:00Z"
    assert stored["notify"] == [] and stored["directory_id"] == "" and "thresholds" not in stored


def test_a_bad_edit_answers_400_with_the_message_and_changes_nothing(app, ui):
    key = api_key(app, label="kept")
    before = state(app)
    form = {**dict.fromkeys(KEY_FORM, ""), "org_id": "acme", "identity_provider": "okta", "kind": "scim",
            "expires_at": "2027-02-30", "label": "changed"}
    answer = post(ui, f"/ui/keys/{key['id']}/edit", form)
    assert answer.status_code == 400 and state(app) == before
    assert field_error(answer.text, "expires_at") == "'2027-02-30' is not a real date"
    assert field_value(answer.text, "label") == "changed"


def test_i_regenerated_it_now_records_a_rotation_a_year_ahead(app, ui, clock):
    key = api_key(app, expires_at="2026-12-04")
    answer = post(ui, f"/ui/keys/{key['id']}/rotate", {"rotation": "now"})
    assert answer.status_code == 303
    stored = app.extensions["scimwatch"].registry.get(key["id"])
    assert stored["expires_at"] == "2027-12-02T09:00:00Z" and stored["rotated_at"] == "2026-12-02T09:00:00Z"
    assert stored["history"] == [{"rotated_at": "2026-12-02T09:00:00Z", "previous_expires_at": "2026-12-04T00:00:00Z"}]
    page = ui.get(f"/ui/keys/{key['id']}")
    assert "Recorded the rotation" in page.text and "previous expiry" in page.text


def test_a_new_expiry_date_is_recorded_as_a_rotation(app, ui):
    key = api_key(app, expires_at="2026-12-04")
    assert post(ui, f"/ui/keys/{key['id']}/rotate", {"rotation": "date", "expires_at": "2027-11-30"}).status_code == 303
    assert app.extensions["scimwatch"].registry.get(key["id"])["expires_at"] == "2027-11-30T00:00:00Z"


@pytest.mark.parametrize("typed, message", [
    ("", "'' is not an RFC 3339 time"),
    ("soon", "'soon' is not an RFC 3339 time"),
    ("2026-11-01", "must be later than rotated_at"),
])
def test_a_bad_rotation_date_answers_400_next_to_its_field_and_changes_nothing(app, ui, typed, message):
    key = api_key(app, expires_at="2026-12-04")
    before = state(app)
    answer = post(ui, f"/ui/keys/{key['id']}/rotate", {"rotation": "date", "expires_at": typed})
    assert answer.status_code == 400 and state(app) == before
    error = re.search(r'<p class="error" id="rotate-error"><strong>Error:</strong> (.*?)</p>', answer.text, re.S)
    assert html.unescape(error.group(1)).startswith(message)
    assert field_value(answer.text, "rotate-expires_at") == typed


def test_im_on_it_names_who_is_rotating_on_the_key_page_and_in_the_banner(app, ui, clock):
    key = api_key(app, expires_at="2026-12-04", directory_name="Okta production")
    answer = post(ui, f"/ui/keys/{key['id']}/acknowledge", {"by": "  Alice  "})
    assert answer.status_code == 303
    stored = app.extensions["scimwatch"].registry.get(key["id"])
    assert stored["acknowledged_by"] == "Alice" and stored["acknowledged_at"] == "2026-12-02T09:00:00Z"
    assert stored["expires_at"] == key["expires_at"]  # it silences nothing and rotates nothing
    page = ui.get(f"/ui/keys/{key['id']}")
    assert '<p class="lead" id="acknowledged">Alice is on it since 2 Dec.</p>' in page.text
    banner = app.test_client().get("/api/v1/banners", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json
    assert "Alice is on it since 2 Dec" in banner["banners"][0]["message"]


@pytest.mark.parametrize("typed, message", [
    ("", "must not be empty"),
    ("Al\u202eice", "bidirectional"),
    ("x" * 201, "at most 200 characters"),
])
def test_a_bad_name_for_im_on_it_answers_400_next_to_its_field_and_changes_nothing(app, ui, typed, message):
    key = api_key(app, expires_at="2026-12-04")
    before = state(app)
    answer = post(ui, f"/ui/keys/{key['id']}/acknowledge", {"by": typed})
    assert answer.status_code == 400 and state(app) == before
    error = re.search(r'<p class="error" id="acknowledge-error"><strong>Error:</strong> (.*?)</p>', answer.text, re.S)
    assert message in html.unescape(error.group(1))
    assert field_value(answer.text, "acknowledge-by") == typed


@pytest.mark.parametrize("payload", XSS)
def test_a_name_typed_for_im_on_it_is_escaped_on_the_key_page(app, ui, payload):
    key = api_key(app, expires_at="2026-12-04")
    assert post(ui, f"/ui/keys/{key['id']}/acknowledge", {"by": payload}).status_code == 303
    page = ui.get(f"/ui/keys/{key['id']}").text
    assert payload not in page and str(escape(payload)) in page


def test_deleting_a_key_asks_first_then_deletes_it(app, ui):
    key = api_key(app, directory_name="Old directory")
    confirm = ui.get(f"/ui/keys/{key['id']}/delete")
    assert confirm.status_code == 200 and "Delete Old directory?" in confirm.text
    assert app.extensions["scimwatch"].registry.list() != []
    answer = post(ui, f"/ui/keys/{key['id']}/delete")
    assert answer.status_code == 303 and answer.headers["Location"] == "/ui/"
    assert app.extensions["scimwatch"].registry.list() == []
    assert "Deleted Old directory." in ui.get("/ui/").text


@pytest.mark.parametrize("path", ["/ui/keys/nope", "/ui/keys/nope/edit", "/ui/keys/nope/delete"])
def test_a_missing_key_answers_an_html_404(ui, path):
    answer = ui.get(path)
    assert answer.status_code == 404 and answer.mimetype == "text/html"
    assert "There is no key with this id" in answer.text


def test_the_dashboard_groups_keys_by_org_most_urgent_first_with_days_and_next_reminder(app, ui):
    api_key(app, org_id="labs", org_name="Acme Labs", directory_name="Labs Okta", expires_at="2026-12-15")
    api_key(app, org_id="acme", org_name="Acme Corp", directory_name="Far away", expires_at="2027-06-01")
    api_key(app, org_id="acme", org_name="Acme Corp", directory_name="Contractors", expires_at="2026-11-29")
    api_key(app, org_id="acme", org_name="Acme Corp", directory_name="Okta production",
            expires_at="2026-12-04T09:00:00Z")
    page = ui.get("/ui/").text
    order = ("Acme Corp", "Contractors", "Okta production", "Far away", "Acme Labs", "Labs Okta")
    positions = [page.index(name) for name in order]
    assert positions == sorted(positions)
    row = lambda name: re.search(r"<tr[^>]*>(?:(?!</tr>).)*" + name + r".*?</tr>", page, re.S).group(0)  # noqa: E731
    assert "Expired" in row("Contractors") and "expired 3 days ago" in row("Contractors")
    assert "expired+7d" in row("Contractors") and 'datetime="2026-12-06T00:00:00Z"' in row("Contractors")
    assert "Critical" in row("Okta production") and "2 days" in row("Okta production")
    assert "1d on" in row("Okta production") and 'datetime="2026-12-03T09:00:00Z"' in row("Okta production")
    assert "Warning" in row("Labs Okta") and "12 days" in row("Labs Okta")
    assert ">OK<" in row("Far away") and "30d on" in row("Far away")
    assert 'datetime="2026-12-04T09:00:00Z">Fri 4 Dec 2026, 09:00 UTC</time>' in page
    assert "outbox mode" in page


def test_the_key_page_shows_fields_history_deliveries_and_its_identity_providers_steps(app, ui):
    key = api_key(app, identity_provider="entra", directory_name="Contractors", notify=["ops@example.com"],
                  expires_at="2026-12-04", notes="Ask Sam first")
    post(ui, "/ui/deliveries/run")
    page = ui.get(f"/ui/keys/{key['id']}").text
    assert "Secret Token" in page and "Restart provisioning" in page  # Entra's own steps
    assert "Ask Sam first" in page and "ops@example.com" in page
    assert "3d" in page and "sent" in page  # the delivery of its current stage
    assert "No rotation recorded yet." in page


# Deliveries, tokens, settings


def test_run_a_check_now_sends_the_due_reminders_and_says_so(app, ui):
    api_key(app, notify=["ops@example.com"], expires_at="2026-12-04")
    answer = post(ui, "/ui/deliveries/run")
    assert answer.status_code == 303 and answer.headers["Location"] == "/ui/deliveries"
    assert len(state(app)["outbox"]) == 1
    page = ui.get("/ui/deliveries").text
    assert "Check done: 1 reminder sent and 0 failed, in 1 email." in page
    assert "ops@example.com" in page and "3d" in page
    post(ui, "/ui/deliveries/run")
    assert "Check done: no reminder was due." in ui.get("/ui/deliveries").text


class HoldingMailbox(Mailbox):
    """A relay as slow as a relay can be: it holds each message until the test lets it through."""

    def __init__(self):
        super().__init__()
        self.arrived, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.arrived.set()
        self.release.wait(60)
        return await super().handle_DATA(server, session, envelope)


def test_run_a_check_now_while_a_cycle_sends_says_so_at_once(make_app):
    smtp = SmtpServer()
    smtp.stop()
    smtp.mailbox = HoldingMailbox()
    smtp.start()
    try:
        app = make_app(**smtp.settings())
        api_key(app, notify=["ops@example.com"], expires_at="2026-12-04")
        running = threading.Thread(target=deliveries.service_for(app).run_cycle)
        running.start()
        assert smtp.mailbox.arrived.wait(30)
        client = app.test_client()
        sign_in(client)
        answer = post(client, "/ui/deliveries/run")
        assert answer.status_code == 303
        assert "already running" in client.get("/ui/deliveries").text
    finally:
        smtp.mailbox.release.set()
        running.join(60)
        smtp.stop()


def test_deliveries_filter_by_key_and_status(app, ui):
    first = api_key(app, notify=["one@example.com"], expires_at="2026-12-04", directory_name="First")
    api_key(app, notify=["two@example.com"], expires_at="2026-12-05", directory_name="Second")
    post(ui, "/ui/deliveries/run")
    page = ui.get(f"/ui/deliveries?key_id={first['id']}").text
    assert "one@example.com" in page and "two@example.com" not in page
    assert "No delivery matches" in ui.get("/ui/deliveries?status=failed").text
    assert "two@example.com" in ui.get("/ui/deliveries?status=sent").text
    refused = ui.get("/ui/deliveries?status=lost")
    assert refused.status_code == 400 and "must be one of pending, sent, failed, cancelled" in refused.text


def test_a_token_made_in_the_ui_is_shown_once_and_works_at_once(app, ui):
    answer = post(ui, "/ui/tokens", {"scope": "read", "label": "intranet"})
    assert answer.status_code == 201 and answer.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="new-token" value="([^"]+)"', answer.text).group(1)
    assert "Copy it now" in answer.text and f'data-token="{token}"' in answer.text
    banners = app.test_client().get("/api/v1/banners", headers={"Authorization": f"Bearer {token}"})
    assert banners.status_code == 200
    listed = ui.get("/ui/tokens").text
    assert "intranet" in listed and token not in listed


@pytest.mark.parametrize("form, field, message", [
    ({"scope": "root", "label": "x"}, "scope", "is required and must be one of admin, read, track, calendar, metrics"),
    ({"scope": "read", "label": "x" * 201}, "label", "must be at most 200 characters (got 201)"),
])
def test_a_bad_token_request_answers_400_with_the_message_next_to_its_field(app, ui, form, field, message):
    before = state(app)
    answer = post(ui, "/ui/tokens", form)
    assert answer.status_code == 400 and state(app) == before
    assert field_error(answer.text, field) == message
    assert field_value(answer.text, "label") == form["label"]


def test_revoking_a_token_in_the_ui_refuses_it_from_the_next_request(app, ui):
    made = app.test_client().post("/api/v1/tokens", json={"scope": "read", "label": "widget"},
                                  headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json
    answer = post(ui, f"/ui/tokens/{made['id']}/revoke")
    assert answer.status_code == 303
    refused = app.test_client().get("/api/v1/banners", headers={"Authorization": f"Bearer {made['token']}"})
    assert refused.status_code == 401
    assert "Token revoked" in ui.get("/ui/tokens").text
    assert post(ui, f"/ui/tokens/{made['id']}/revoke").status_code == 303
    assert "already revoked" in ui.get("/ui/tokens").text


def test_revoking_the_sessions_own_token_in_the_ui_signs_it_out(app, client):
    made = app.test_client().post("/api/v1/tokens", json={"scope": "admin", "label": "me"},
                                  headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json
    sign_in(client, made["token"])
    assert "(this session)" in client.get("/ui/tokens").text
    answer = post(client, f"/ui/tokens/{made['id']}/revoke")
    assert answer.status_code == 303
    location = urlsplit(client.get("/ui/tokens").headers["Location"])
    assert parse_qs(location.query) == {"why": ["ended"], "next": ["/ui/tokens"]}


def test_settings_show_the_effective_configuration_with_secrets_masked(make_app):
    app = make_app(SMTP_PASSWORD="hunter2-smtp", MAIL_BACKEND="smtp", SMTP_HOST="mail.example.com",
                   NOTIFY="ops@example.com,sec@example.com", THRESHOLDS="14,7")
    client = app.test_client()
    sign_in(client)
    page = client.get("/ui/settings").text
    assert "hunter2-smtp" not in page and ADMIN_TOKEN not in page
    assert re.search(r"SCIMWATCH_SMTP_PASSWORD</code></th><td[^>]*>set \(hidden\)", page)
    assert re.search(r"SCIMWATCH_ADMIN_TOKEN</code></th><td[^>]*>set \(hidden\)", page)
    assert re.search(r"SCIMWATCH_SMTP_HOST</code></th><td[^>]*>mail.example.com", page)
    assert "ops@example.com, sec@example.com" in page and "14, 7" in page
    assert "smtp mail.example.com:587 (starttls)" in page


def test_a_test_email_goes_to_the_outbox_in_outbox_mode(app, ui):
    answer = post(ui, "/ui/settings/test-email", {"address": "ops@example.com"})
    assert answer.status_code == 303
    files = list((app.extensions["scimwatch"].settings["DATA_DIR"] / "outbox").glob("*.eml"))
    assert len(files) == 1
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"] == "ops@example.com" and message["Subject"] == "[scimwatch] Test email"
    assert "Test email to ops@example.com written to the outbox folder" in ui.get("/ui/settings").text


def test_a_test_email_goes_through_a_real_smtp_server(make_app):
    smtp = SmtpServer()
    try:
        app = make_app(**smtp.settings(MAIL_FROM="scimwatch@example.com"))
        client = app.test_client()
        sign_in(client)
        answer = post(client, "/ui/settings/test-email", {"address": "ops@example.com"})
        assert answer.status_code == 303
        received = smtp.mailbox.to("ops@example.com")
        assert len(received) == 1 and received[0]["Subject"] == "[scimwatch] Test email"
        assert "scimwatch's reminders can reach this address" in received[0].get_content()
    finally:
        smtp.stop()


def test_a_test_email_that_cannot_go_says_why(make_app):
    app = make_app(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=str(free_port()), SMTP_SECURITY="none")
    client = app.test_client()
    sign_in(client)
    answer = post(client, "/ui/settings/test-email", {"address": "ops@example.com"})
    assert answer.status_code == 502 and "The test email did not go: cannot connect to" in answer.text


def test_a_test_email_to_a_bad_address_answers_400_with_the_message_and_the_address_as_typed(app, ui):
    answer = post(ui, "/ui/settings/test-email", {"address": "not an address"})
    assert answer.status_code == 400
    assert field_error(answer.text, "address") == \
        "'not an address' is not a valid email address (such as it@example.com)"
    assert field_value(answer.text, "address") == "not an address"
    assert state(app)["outbox"] == []


# Errors


def test_ui_errors_are_small_html_pages_and_api_errors_keep_their_json_shape(ui, admin):
    for path, method, status in [("/ui/no-such-page", "get", 404), ("/ui/logout", "get", 405),
                                 ("/ui/keys/new", "put", 405)]:
        answer = getattr(ui, method)(path)
        assert answer.status_code == status and answer.mimetype == "text/html", path
        assert "Traceback" not in answer.text and len(answer.text) < 5000
        assert_ui_headers(answer)
    assert "POST" in ui.get("/ui/logout").headers["Allow"]
    api = ui.get("/api/v1/no-such", headers=admin)
    assert api.status_code == 404 and set(api.json["error"]) == {"code", "message", "fields"}
    assert ui.get("/api/v1/keys/nope", headers=admin).json["error"]["code"] == "not_found"


def test_an_unexpected_error_on_a_page_answers_a_500_page_without_a_stack_trace(app, ui):
    # A record no current code path could write: the page must fail politely, not leak.
    app.extensions["scimwatch"].store.collection("keys").insert(
        {"id": "broken", "org_id": "acme", "expires_at": "not a time", "identity_provider": "okta", "kind": "scim"})
    answer = ui.get("/ui/")
    assert answer.status_code == 500 and answer.mimetype == "text/html"
    assert "Traceback" not in answer.text and "not a time" not in answer.text
    assert_ui_headers(answer)


def test_a_form_body_over_64_kib_answers_413_as_a_page_and_changes_nothing(app, ui):
    before = state(app)
    answer = post(ui, "/ui/keys/new", {**KEY_FORM, "notes": "x" * 70_000})
    assert answer.status_code == 413 and answer.mimetype == "text/html"
    assert "64 KiB" in answer.text and state(app) == before


# Markup that users type


def test_markup_typed_into_any_field_is_shown_as_text_on_every_page(app, ui):
    for payload in XSS:
        key_answer = post(ui, "/ui/keys/new", {**KEY_FORM, "org_name": payload, "directory_name": payload,
                                               "label": payload, "notes": payload})
        assert key_answer.status_code == 303
        key_id = key_answer.headers["Location"].rsplit("/", 1)[1]
        refused = post(ui, "/ui/keys/new", {**KEY_FORM, "org_id": payload, "expires_at": payload,
                                            "notify": payload, "thresholds": payload})
        assert refused.status_code == 400
        token_page = post(ui, "/ui/tokens", {"scope": "read", "label": payload})
        bad_token = post(ui, "/ui/tokens", {"scope": payload, "label": payload})
        test_email = post(ui, "/ui/settings/test-email", {"address": payload})
        rotate = post(ui, f"/ui/keys/{key_id}/rotate", {"rotation": "date", "expires_at": payload})
        pages = [refused, token_page, bad_token, test_email, rotate] + [
            ui.get(path) for path in (*PAGES[:-1], f"/ui/keys/{key_id}", f"/ui/keys/{key_id}/edit",
                                      f"/ui/keys/{key_id}/delete", f"/ui/deliveries?key_id={payload}",
                                      f"/ui/deliveries?status={payload}")]
        for page in pages:
            assert payload not in page.text, page.request.path
        assert str(escape(payload)) in ui.get(f"/ui/keys/{key_id}").text


# Import and export (DESIGN §16: "the UI has both")

IMPORT_CSV = ("org_id,directory_name,identity_provider,expires_at,notify\r\n"
              "acme,Okta EU,okta,2027-01-10,it@acme.example\r\n"
              "acme,=Formula directory,entra,2027-02-10,\r\n")


def upload(ui, content: str, name: str = "keys.csv", dry_run: bool = False):
    data = {"file": (io.BytesIO(content.encode("utf-8")), name)}
    if dry_run:
        data["dry_run"] = "on"
    return post(ui, "/ui/import", data, content_type="multipart/form-data")


def test_a_key_file_imports_from_the_ui_dry_run_first(app, ui):
    dry = upload(ui, IMPORT_CSV, dry_run=True)
    assert dry.status_code == 200 and "Dry run, nothing was written: 2 created" in dry.text
    assert state(app)["keys"] == []
    done = upload(ui, IMPORT_CSV)
    assert done.status_code == 200 and "Imported: 2 created, 0 updated, 0 unchanged." in done.text
    assert sorted(key["directory_name"] for key in state(app)["keys"]) == ["=Formula directory", "Okta EU"]
    exported = ui.get("/ui/export.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    assert "'=Formula directory" in exported.get_data(as_text=True)
    again = upload(ui, exported.get_data(as_text=True), "scimwatch-keys.csv")
    assert "Imported: 0 created, 0 updated, 2 unchanged." in again.text


def test_a_bad_key_file_lists_every_bad_row_escaped_and_changes_nothing(app, ui):
    bad = "org_id,expires_at,label\r\nacme,2027-02-30,x\r\n,2027-01-01,<img src=x onerror=alert(1)>\r\n"
    before = state(app)
    answer = upload(ui, bad)
    assert answer.status_code == 400
    assert "Row 2: expires_at:" in answer.text and "Row 3: org_id: is required" in answer.text
    assert "<img src=x" not in answer.text
    assert state(app) == before
    assert upload(ui, "{}", "keys.txt").status_code == 400


def test_an_upload_without_a_session_or_a_csrf_token_reads_nothing_and_changes_nothing(app, client, ui):
    before = state(app)
    refused = ui.post("/ui/import", data={"file": (io.BytesIO(IMPORT_CSV.encode()), "k.csv")},
                      content_type="multipart/form-data")
    assert refused.status_code == 400
    stranger = app.test_client().post("/ui/import", data={"file": (io.BytesIO(IMPORT_CSV.encode()), "k.csv")},
                                      content_type="multipart/form-data")
    assert stranger.status_code == 303 and "/ui/login" in stranger.headers["Location"]
    assert state(app) == before


def test_a_key_file_over_64_kib_still_imports_from_the_ui(app, ui):
    rows = "".join(f"acme,Directory {number},okta,2027-01-10,it@acme.example\r\n" for number in range(1500))
    content = "org_id,directory_name,identity_provider,expires_at,notify\r\n" + rows
    assert len(content) > 64 * 1024
    answer = upload(ui, content)
    assert answer.status_code == 200 and "Imported: 1500 created" in answer.text
