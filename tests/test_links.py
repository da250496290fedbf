"""Signed one-click links (DESIGN §15): GET shows, POST records once; tampered, changed and expired links refused."""
import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
import requests
from conftest import ADMIN_TOKEN, stored_bytes
from smtp_helpers import Clock

from server import create_app
from server.domain import reminders
from server.notify import email_message

ORG = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
PUBLIC = "https://scimwatch.example.com"
START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def linked(data_dir, clock):
    application = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "PUBLIC_URL": PUBLIC,
                              "CLOCK": clock})
    yield application
    application.extensions["scimwatch"].close()


@pytest.fixture
def web(linked):
    with linked.test_client() as client:
        yield client


def a_key(web, admin, days=2, **fields):
    expires = (START + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return web.post("/api/v1/keys", headers=admin, json={
        "org_id": ORG, "org_name": "Acme", "directory_name": "Okta <b>production</b>", "expires_at": expires,
        "notify": ["it@acme.example"], **fields}).get_json()


def link(linked, key, purpose="rotate"):
    url = linked.extensions["scimwatch"].registry.link_for(key, purpose)
    assert url.startswith(PUBLIC + "/r/")
    return url.removeprefix(PUBLIC)


def rotate_link_in_html(html):
    return re.search(r'href="([^"]*)"[^>]*>I regenerated it</a>', html).group(1).replace("&amp;", "&")


def stored(data_dir):
    return stored_bytes(data_dir)


def test_get_shows_the_confirm_page_and_changes_nothing(web, linked, admin, data_dir):
    key = a_key(web, admin)
    path = link(linked, key)
    before = stored(data_dir)
    page = web.get(path)
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "Okta &lt;b&gt;production&lt;/b&gt; (Acme)" in text and "<b>production" not in text
    assert "Sat 5 Dec 2026, 09:00 UTC" in text
    assert 'type="date"' in text and 'value="2027-12-03"' in text and '<form method="post">' in text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    web.get(path)
    assert stored(data_dir) == before


def test_post_records_the_rotation_once(web, linked, admin):
    key = a_key(web, admin)
    path = link(linked, key)
    done = web.post(path, data={"expires_at": "2027-11-30"})
    assert done.status_code == 200 and "rotation is recorded" in done.get_data(as_text=True)
    rotated = web.get(f"/api/v1/keys/{key['id']}", headers=admin).get_json()
    assert rotated["expires_at"] == "2027-11-30T00:00:00Z" and len(rotated["history"]) == 1
    again = web.post(path, data={"expires_at": "2028-01-01"})
    assert again.status_code == 409 and "Already recorded" in again.get_data(as_text=True)
    assert web.get(f"/api/v1/keys/{key['id']}", headers=admin).get_json() == rotated
    assert web.get(path).status_code == 409


def test_post_without_a_date_rotates_to_a_year_from_now(web, linked, admin):
    key = a_key(web, admin)
    assert web.post(link(linked, key)).status_code == 200
    assert web.get(f"/api/v1/keys/{key['id']}", headers=admin).get_json()["expires_at"] == "2027-12-03T09:00:00Z"


@pytest.mark.parametrize("bad", ["tomorrow", "2026-12-01", "3000-01-01", "2027-02-30"])
def test_a_bad_date_shows_the_form_again_and_the_link_still_works(web, linked, admin, data_dir, bad):
    key = a_key(web, admin)
    path = link(linked, key)
    before = stored(data_dir)
    refused = web.post(path, data={"expires_at": bad})
    assert refused.status_code == 400 and 'role="alert"' in refused.get_data(as_text=True)
    assert stored(data_dir) == before
    assert web.post(path, data={"expires_at": "2027-11-30"}).status_code == 200


def test_a_tampered_token_is_refused(web, linked, admin, data_dir):
    key = a_key(web, admin)
    path = link(linked, key)
    before = stored(data_dir)
    for changed in (path[:-2] + ("AA" if not path.endswith("AA") else "BB"), path + "x", "/r/nonsense",
                    path.replace(path[5:10], "aaaaa")):
        for answer in (web.get(changed), web.post(changed, data={"expires_at": "2027-11-30"})):
            assert answer.status_code == 400 and "not valid" in answer.get_data(as_text=True)
    assert stored(data_dir) == before


def test_a_link_for_a_key_that_changed_is_refused(web, linked, admin):
    key = a_key(web, admin)
    path = link(linked, key)
    web.post(f"/api/v1/keys/{key['id']}/rotate", headers=admin)
    refused = web.post(path, data={"expires_at": "2029-01-01"})
    assert refused.status_code == 409 and "changed since this link" in refused.get_data(as_text=True)
    assert web.get(f"/api/v1/keys/{key['id']}", headers=admin).get_json()["expires_at"] != "2029-01-01T00:00:00Z"
    web.delete(f"/api/v1/keys/{key['id']}", headers=admin)
    assert web.get(path).status_code == 409


def test_an_expired_link_is_refused(web, linked, admin, clock, data_dir):
    key = a_key(web, admin, days=90)
    path = link(linked, key)
    clock.now = START + timedelta(days=59)
    assert web.get(path).status_code == 200
    clock.now = START + timedelta(days=60, seconds=1)
    before = stored(data_dir)
    expired = web.post(path, data={"expires_at": "2027-11-30"})
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    assert stored(data_dir) == before


def test_an_im_on_it_link_records_an_acknowledgement_once(web, linked, admin):
    key = a_key(web, admin)
    path = link(linked, key, "acknowledge")
    page = web.get(path).get_data(as_text=True)
    assert 'name="by"' in page and 'type="date"' not in page
    assert web.post(path, data={"by": ""}).status_code == 400
    done = web.post(path, data={"by": "Alice"})
    assert done.status_code == 200 and "Alice is on it since 3 Dec" in done.get_data(as_text=True)
    record = web.get(f"/api/v1/keys/{key['id']}", headers=admin).get_json()
    assert record["acknowledged_by"] == "Alice" and record["expires_at"] == key["expires_at"]
    assert web.post(path, data={"by": "Bob"}).status_code == 409
    # A rotation link and an acknowledgement link are not each other.
    rotate = link(linked, key, "rotate")
    assert web.post(rotate).status_code == 200


def test_banners_carry_a_rotate_url_that_opens_the_confirm_page(web, admin):
    a_key(web, admin)
    banner = web.get("/api/v1/banners", headers=admin).get_json()["banners"][0]
    assert banner["rotate_url"].startswith(PUBLIC + "/r/")
    assert web.get(banner["rotate_url"].removeprefix(PUBLIC)).status_code == 200


def test_the_link_in_a_built_email_follows_to_the_confirm_page(web, linked, admin, data_dir):
    key = a_key(web, admin)
    registry = linked.extensions["scimwatch"].registry
    plan = reminders.plan(registry.list(), {}, START)
    [digest] = reminders.digests(plan.due, plan.keys, START)
    built = email_message.build(digest, sender="scimwatch@example.com", now=START, message_id="<m@example.com>",
                                public_url=PUBLIC, links=registry.link_for)
    message = message_from_bytes(built.data, policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    assert rotate_link_in_html(message.get_body(("html",)).get_content()) in text
    rotate = re.search(r"I regenerated it: (\S+)", text).group(1)
    acknowledge = re.search(r"I'm on it: (\S+)", text).group(1)
    before = stored(data_dir)
    assert web.get(rotate.removeprefix(PUBLIC)).status_code == 200
    assert stored(data_dir) == before
    assert web.post(acknowledge.removeprefix(PUBLIC), data={"by": "Alice"}).status_code == 200
    assert web.post(rotate.removeprefix(PUBLIC)).status_code == 200
    assert web.post(rotate.removeprefix(PUBLIC)).status_code == 409
    assert web.get(f"/api/v1/keys/{key['id']}", headers=admin).get_json()["history"]


def test_without_a_public_url_there_are_no_links(client, admin):
    client.post("/api/v1/keys", headers=admin, json={"org_id": ORG, "expires_at": "2026-12-20"})
    banners = client.get("/api/v1/banners", headers=admin).get_json()["banners"]
    assert banners and "rotate_url" not in banners[0]
    assert client.get("/r/anything").status_code == 404


def test_a_real_server_mails_a_link_that_records_the_rotation_once(live_server_factory):
    server = live_server_factory(env={"SCIMWATCH_PUBLIC_URL": PUBLIC})
    expires = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    key = server.add_key(org_id=ORG, directory_name="Okta", expires_at=expires, notify=["it@acme.example"])
    assert server.api("POST", "/api/v1/reminders/run").status_code == 200
    [mail] = list((server.data_dir / "outbox").glob("*.eml"))
    text = message_from_bytes(mail.read_bytes(), policy=policy.default).get_body(("plain",)).get_content()
    rotate = re.search(r"I regenerated it: (\S+)", text).group(1).replace(PUBLIC, server.url)
    page = requests.get(rotate, timeout=10)
    assert page.status_code == 200 and 'type="date"' in page.text
    assert server.api("GET", f"/api/v1/keys/{key['id']}").json()["expires_at"] == key["expires_at"]
    assert requests.post(rotate, data={"expires_at": "2027-11-30"}, timeout=10).status_code == 200
    assert server.api("GET", f"/api/v1/keys/{key['id']}").json()["expires_at"] == "2027-11-30T00:00:00Z"
    again = requests.post(rotate, data={"expires_at": "2028-11-30"}, timeout=10)
    assert again.status_code == 409 and "Already recorded" in again.text
    assert server.api("GET", f"/api/v1/keys/{key['id']}").json()["expires_at"] == "2027-11-30T00:00:00Z"


def test_public_banners_carry_no_rotate_url(data_dir):
    application = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "PUBLIC_URL": PUBLIC,
                              "PUBLIC_BANNERS": "true"})
    try:
        client = application.test_client()
        client.post("/api/v1/keys", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                    json={"org_id": ORG, "expires_at": (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")})
        [banner] = client.get("/api/v1/banners").get_json()["banners"]
        assert "rotate_url" not in banner
    finally:
        application.extensions["scimwatch"].close()


def test_the_link_secret_is_made_once_and_only_with_a_public_url(data_dir, linked, web, admin):
    secret = (data_dir / "links.secret").read_bytes()
    assert (data_dir / "links.secret").stat().st_mode & 0o077 == 0
    key = a_key(web, admin)
    path = link(linked, key)
    linked.extensions["scimwatch"].close()
    again = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "PUBLIC_URL": PUBLIC, "CLOCK": Clock(START)})
    try:
        assert (data_dir / "links.secret").read_bytes() == secret
        assert again.test_client().get(path).status_code == 200
    finally:
        again.extensions["scimwatch"].close()


def test_no_secret_file_without_a_public_url(client, data_dir):
    assert client.get("/healthz").status_code == 200
    assert not (data_dir / "links.secret").exists()
