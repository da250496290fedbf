"""The reminder email as a mail client sees it: structure, wording, links, escaping, header safety."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from html.parser import HTMLParser

from server.domain import reminders
from server.domain.times import format_time
from server.notify import email_message

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def digest_for(*keys, recipient="admin@example.com"):
    keys = [{"id": f"key-{n}", "org_id": "org-1", "notify": [recipient], **k} for n, k in enumerate(keys)]
    plan = reminders.plan(keys, {}, NOW)
    [digest] = reminders.digests(plan.due, plan.keys, NOW)
    return digest


def expiring(days, **fields):
    return {"expires_at": format_time(NOW + timedelta(days=days)), **fields}


def received(digest, public_url=""):
    """Build, serialise and parse the email as the receiving side would."""
    built = email_message.build(digest, sender="scimwatch@example.com", now=NOW, public_url=public_url,
                                message_id=email_message.new_message_id("scimwatch@example.com"))
    return message_from_bytes(built.data, policy=policy.default)


class LinkParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.text = [], []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_data(self, data):
        self.text.append(data)


def test_the_email_is_multipart_alternative_with_text_and_html_and_its_own_ids():
    message = received(digest_for(expiring(6, directory_name="Okta EU", org_name="Acme")))
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"].endswith("@example.com>") and message["Date"] == "Sun, 29 Nov 2026 09:00:00 +0000"
    assert message["From"] == "scimwatch@example.com" and message["To"] == "admin@example.com"
    assert message["Auto-Submitted"] == "auto-generated"


def test_every_email_gets_a_different_message_id():
    digest = digest_for(expiring(6))
    assert received(digest)["Message-ID"] != received(digest)["Message-ID"]


def test_non_ascii_names_survive_in_the_subject_and_both_parts():
    message = received(digest_for(expiring(6, directory_name="Zürich – 東京", org_name="Åcme")))
    assert message["Subject"] == "[scimwatch] Zürich – 東京: SCIM API key expires in 6 days"
    assert "Zürich – 東京 (Åcme)" in message.get_body(("plain",)).get_content()
    assert "Zürich – 東京 (Åcme)" in message.get_body(("html",)).get_content()


def test_a_long_directory_name_is_shortened_so_the_days_left_fit_in_78_characters():
    name = "Directory " * 19
    message = received(digest_for(expiring(6, directory_name=name.strip(), org_name="O" * 150),
                                  expiring(9, directory_name="Second")))
    subject = message["Subject"]
    assert subject.endswith("…: SCIM API key expires in 6 days (+1 more)")
    assert subject.startswith("[scimwatch] Directory Directory ")
    assert len(subject.removesuffix(" (+1 more)")) == 78


def test_a_non_ascii_subject_is_encoded_folded_and_reads_whole():
    name = "Zürich " * 4
    message = received(digest_for(expiring(6, directory_name=name.strip())))
    assert message["Subject"] == f"[scimwatch] {name.strip()}: SCIM API key expires in 6 days"


def test_the_subject_leads_with_the_directory_and_says_when():
    message = received(digest_for(expiring(6, directory_name="Okta EU", org_name="Acme")))
    assert message["Subject"] == "[scimwatch] Okta EU: SCIM API key expires in 6 days"


def test_the_text_says_what_stops_working_when_in_utc_and_the_identity_providers_steps():
    message = received(digest_for(expiring(6, directory_name="Okta EU", org_name="Acme", identity_provider="entra")))
    text = message.get_body(("plain",)).get_content()
    assert "can no longer provision or deprovision users, so leavers would keep access" in text
    assert "Expires at: 2026-12-05 09:00:00 UTC" in text
    assert "Identity provider: Microsoft Entra ID" in text
    assert "1) Before you start, open Entra admin center" in text
    assert "paste the new key into Secret Token, click Test Connection, then Save" in text
    assert "Restart provisioning" in text


def test_the_links_go_to_atlassians_docs_the_org_and_with_a_public_url_the_key_in_scimwatch():
    message = received(digest_for(expiring(2, org_id="0a1b-2c3d")), public_url="https://scimwatch.example.com")
    parser = LinkParser()
    parser.feed(message.get_body(("html",)).get_content())
    assert parser.links == [
        "https://support.atlassian.com/provisioning-users/docs/manage-scim-api-key-expiration/",
        "https://admin.atlassian.com/o/0a1b-2c3d/overview",
        "https://scimwatch.example.com/api/v1/keys/key-0"]
    text = message.get_body(("plain",)).get_content()
    assert all(link in text for link in parser.links)


def test_without_a_public_url_there_is_no_link_into_scimwatch():
    message = received(digest_for(expiring(2)))
    assert "This key in scimwatch" not in message.get_body(("plain",)).get_content()


def test_names_from_users_are_escaped_in_html():
    hostile = '<script>alert("x")</script> & <a href="https://evil.example">'
    message = received(digest_for(expiring(2, directory_name=hostile, org_name="<b>Org</b>")))
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "evil.example\">" not in html
    parser = LinkParser()
    parser.feed(html)
    assert "https://evil.example" not in parser.links
    assert f"{hostile} (<b>Org</b>)" in "".join(parser.text)


def test_a_line_break_in_a_name_cannot_add_or_change_headers():
    digest = digest_for(expiring(2, directory_name="Dir\r\nBcc: victim@example.com\r\nSubject: free money"))
    raw = email_message.build(digest, sender="scimwatch@example.com", now=NOW, message_id="<1@example.com>").data
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Bcc"] is None and len(message.get_all("Subject")) == 1
    assert message["Subject"] == ("[scimwatch] Dir Bcc: victim@example.com Subje…: "
                                  "SCIM API key expires in 2 days")
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in headers


def test_an_expired_key_says_provisioning_has_stopped():
    message = received(digest_for(expiring(-2, directory_name="Okta EU", org_name="Acme")))
    assert message["Subject"] == "[scimwatch] Okta EU: SCIM API key expired 2 days ago"
    assert "Provisioning and deprovisioning have stopped" in message.get_body(("plain",)).get_content()


def test_a_digest_names_the_most_urgent_key_and_counts_the_rest():
    message = received(digest_for(expiring(20, directory_name="B"), expiring(1, directory_name="A"),
                                  expiring(10, directory_name="C")))
    assert message["Subject"] == "[scimwatch] A: SCIM API key expires in 1 day (+2 more)"
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("3 Atlassian keys need rotating, most urgent first.")
    assert text.index("1. CRITICAL") < text.index("2. WARNING") < text.index("3. REMINDER")


def test_admin_api_keys_get_their_own_steps_and_docs():
    message = received(digest_for(expiring(5, kind="admin_api_key", label="CI sync")))
    text = message.get_body(("plain",)).get_content()
    assert message["Subject"] == "[scimwatch] CI sync: Admin API key expires in 5 days"
    assert "Settings → API keys" in text and "manage-an-organization-with-the-admin-apis" in text
