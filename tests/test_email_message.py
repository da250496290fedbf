"""The reminder email as a mail client sees it: structure, wording, links, escaping, header safety (DESIGN §6, §6b)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from html.parser import HTMLParser

import pytest

from server.domain import palette, reminders, runbook
from server.domain.times import format_time
from server.notify import email_message

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ORG = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
OVERVIEW = f"https://admin.atlassian.com/o/{ORG}/overview"
DOCS = "https://support.atlassian.com/provisioning-users/docs/manage-scim-api-key-expiration/"


def digest_for(*keys, recipient="admin@example.com"):
    keys = [{"id": f"key-{n}", "org_id": ORG, "notify": [recipient], **k} for n, k in enumerate(keys)]
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


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


class Markup(HTMLParser):
    """Every start tag with its attributes, the links and the text of an HTML part."""

    def __init__(self, html):
        super().__init__()
        self.tags, self.links, self.text = [], [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_data(self, data):
        self.text.append(data)


# Four keys of two identity providers, one of each severity.
TWO_PROVIDERS = (
    expiring(-3, directory_name="Contractors (Entra ID)", org_name="Acme", identity_provider="entra"),
    expiring(2, directory_name="Okta production", org_name="Acme", identity_provider="okta"),
    expiring(9, directory_name="Staff (Entra ID)", org_name="Acme", identity_provider="entra"),
    expiring(25, directory_name="Okta sandbox", org_name="Acme Labs", identity_provider="okta"),
)


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


def test_the_subject_leads_with_the_directory_and_says_when():
    message = received(digest_for(expiring(6, directory_name="Okta EU", org_name="Acme")))
    assert message["Subject"] == "[scimwatch] Okta EU: SCIM API key expires in 6 days"


def test_a_digest_subject_names_the_most_urgent_key_and_counts_the_rest():
    message = received(digest_for(expiring(20, directory_name="B"), expiring(1, directory_name="A"),
                                  expiring(10, directory_name="C")))
    assert message["Subject"] == "[scimwatch] A: SCIM API key expires in 1 day (+2 more)"


def test_a_long_directory_name_is_shortened_so_the_days_left_fit_in_78_characters():
    name = "Directory " * 19
    message = received(digest_for(expiring(6, directory_name=name.strip(), org_name="O" * 150),
                                  expiring(9, directory_name="Second")))
    subject = message["Subject"]
    assert subject.endswith("…: SCIM API key expires in 6 days (+1 more)")
    assert subject.startswith("[scimwatch] Directory Directory ")
    assert len(subject.removesuffix(" (+1 more)")) == 78


def test_non_ascii_names_survive_in_the_subject_and_both_parts():
    message = received(digest_for(expiring(6, directory_name=("Zürich – 東京 " * 2).strip(), org_name="Åcme")))
    assert message["Subject"] == "[scimwatch] Zürich – 東京 Zürich – 東京: SCIM API key expires in 6 days"
    assert "Zürich – 東京 Zürich – 東京 · Åcme" in text_of(message)
    assert "Zürich – 東京 Zürich – 東京" in "".join(Markup(html_of(message)).text)


def test_a_line_break_in_a_name_cannot_add_or_change_headers():
    digest = digest_for(expiring(2, directory_name="D\r\nBcc: v@example.com\r\nSubject: x"))
    raw = email_message.build(digest, sender="scimwatch@example.com", now=NOW, message_id="<1@example.com>").data
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Bcc"] is None and len(message.get_all("Subject")) == 1
    assert message["Subject"] == "[scimwatch] D Bcc: v@example.com Subject: x: SCIM API key expires in 2 days"
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in headers


def test_a_digest_opens_with_every_key_most_urgent_first_directory_org_provider_and_deadline():
    text = text_of(received(digest_for(*TWO_PROVIDERS)))
    assert text.startswith("4 Atlassian keys need rotating, most urgent first.\r\n"
                           "When a SCIM API key expires, the identity provider can no longer provision or "
                           "deprovision users, so leavers keep access.\r\n\r\n")
    table = text.split("\r\n\r\n")[1]
    assert table == "\r\n".join([
        "EXPIRED   Contractors (Entra ID) · Acme · Microsoft Entra ID",
        "          Expired 3 days ago (Thu 26 Nov 2026, 09:00 UTC)",
        f"          {OVERVIEW}",
        "CRITICAL  Okta production · Acme · Okta",
        "          Expires in 2 days (Tue 1 Dec 2026, 09:00 UTC)",
        f"          {OVERVIEW}",
        "WARNING   Staff (Entra ID) · Acme · Microsoft Entra ID",
        "          Expires in 9 days (Tue 8 Dec 2026, 09:00 UTC)",
        f"          {OVERVIEW}",
        "INFO      Okta sandbox · Acme Labs · Okta",
        "          Expires in 25 days (Thu 24 Dec 2026, 09:00 UTC)",
        f"          {OVERVIEW}",
    ])


def test_the_steps_every_provider_shares_appear_once_and_each_providers_own_once():
    text = text_of(received(digest_for(*TWO_PROVIDERS)))
    for step in runbook.shared_steps():
        assert text.count(step) == 1, step
    for code in ("okta", "entra"):
        for number, step in runbook.provider_steps(code):
            assert text.count(f"{number}) {step}") == 1, step
    assert "\r\nMicrosoft Entra ID: Contractors (Entra ID), Staff (Entra ID)\r\n1) Open Entra admin center" in text
    assert "\r\nOkta: Okta production, Okta sandbox\r\n1) Open Okta: Applications" in text
    assert text.count("Regenerate API key") == 1
    assert text.count(f"Atlassian's instructions: {DOCS}") == 1


def test_keys_of_one_provider_get_its_steps_in_full_once():
    text = text_of(received(digest_for(expiring(2, directory_name="Okta EU", identity_provider="okta"),
                                       expiring(9, directory_name="Okta US", identity_provider="okta"))))
    assert "\r\nOkta: Okta EU, Okta US\r\n1) Before you start, open Okta: Applications" in text
    assert text.count("5) In Okta, click Edit, paste the new key into API token") == 1
    single = text_of(received(digest_for(expiring(2, directory_name="Okta EU", identity_provider="okta"))))
    assert "Security → Identity providers → Okta EU → User provisioning" in single


def test_a_four_key_digest_of_two_providers_is_at_most_half_of_four_single_key_emails():
    digest = text_of(received(digest_for(*TWO_PROVIDERS)))
    singles = [text_of(received(digest_for(key))) for key in TWO_PROVIDERS]
    assert len(digest) <= sum(len(single) for single in singles) / 2


def test_an_expired_key_says_how_long_ago_and_that_provisioning_has_stopped():
    message = received(digest_for(expiring(-2, directory_name="Okta EU", org_name="Acme")))
    assert message["Subject"] == "[scimwatch] Okta EU: SCIM API key expired 2 days ago"
    assert "Expired 2 days ago (Fri 27 Nov 2026, 09:00 UTC)" in text_of(message)
    assert "Expired 2 days ago (Fri 27 Nov 2026, 09:00 UTC)" in "".join(Markup(html_of(message)).text)


def test_links_go_to_atlassian_only_and_never_to_a_json_route_even_with_a_public_url():
    message = received(digest_for(*TWO_PROVIDERS), public_url="https://scimwatch.example.com")
    links = Markup(html_of(message)).links
    assert links == [OVERVIEW] * 4 + [DOCS]
    assert "scimwatch.example.com" not in text_of(message) and "/api/" not in html_of(message)
    assert all(link in text_of(message) for link in links)


def test_admin_api_keys_get_their_own_steps_and_docs():
    message = received(digest_for(expiring(5, kind="admin_api_key", label="CI sync"),
                                  expiring(6, directory_name="Okta EU", identity_provider="okta")))
    text = text_of(message)
    assert message["Subject"] == "[scimwatch] CI sync: Admin API key expires in 5 days (+1 more)"
    assert "WARNING   CI sync · org-" not in text and f"WARNING   CI sync · {ORG} · Admin API key" in text
    assert "\r\nAdmin API key: CI sync\r\n1) List the integrations" in text
    assert "\r\nOkta: Okta EU\r\n1) Before you start, open Okta" in text
    assert "manage-an-organization-with-the-admin-apis" in text


def test_names_from_users_are_escaped_in_html():
    hostile = '<script>alert("x")</script> & <a href="https://evil.example">'
    message = received(digest_for(expiring(2, directory_name=hostile, org_name="<b>Org</b>")))
    html = html_of(message)
    assert "<script>" not in html and "evil.example\">" not in html
    markup = Markup(html)
    assert "https://evil.example" not in markup.links
    assert hostile in "".join(markup.text) and "<b>Org</b>" in "".join(markup.text)
    assert [tag for tag, _ in markup.tags if tag in ("script", "b", "img")] == []


STYLED_TAGS = {"body", "td", "th", "p", "h1", "a", "span"}


def test_the_html_is_an_outlook_safe_600px_table_layout_with_inline_styles():
    markup = Markup(html_of(received(digest_for(*TWO_PROVIDERS))))
    names = [tag for tag, _ in markup.tags]
    assert {"style", "div", "link", "script", "ol", "ul", "li", "img"}.isdisjoint(names)
    assert not [attrs for _, attrs in markup.tags if "class" in attrs]
    tables = [attrs for tag, attrs in markup.tags if tag == "table"]
    assert all(t["role"] == "presentation" and t["cellpadding"] == t["cellspacing"] == t["border"] == "0"
               for t in tables)
    assert [t["width"] for t in tables].count("600") == 1
    card = next(t for t in tables if t["width"] == "600")
    assert "max-width:600px" in card["style"]
    for tag, attrs in markup.tags:
        if tag in STYLED_TAGS:
            assert attrs.get("style"), (tag, attrs)
    body = next(attrs for tag, attrs in markup.tags if tag == "body")
    assert "max-width" not in body["style"]


def test_labels_and_colours_are_the_banners_own_palette():
    markup = Markup(html_of(received(digest_for(*TWO_PROVIDERS))))
    lozenges = [attrs["style"] for tag, attrs in markup.tags if tag == "span" and "border-radius" in attrs["style"]]
    assert len(lozenges) == 4
    for style, severity in zip(lozenges, ("expired", "critical", "warning", "info"), strict=True):
        colours = palette.LIGHT[severity]
        assert f"background:{colours.fill}" in style and f"color:{colours.text}" in style
        assert f"border:1px solid {colours.line}" in style
    assert [t for t in markup.text if t.isupper()] == ["EXPIRED", "CRITICAL", "WARNING", "INFO"]


@pytest.mark.parametrize("severity, days", [("expired", -1), ("critical", 2), ("warning", 9), ("info", 25)])
def test_the_text_labels_are_the_banners_labels(severity, days):
    text = text_of(received(digest_for(expiring(days, directory_name="Okta EU"))))
    assert f"\r\n{palette.LIGHT[severity].label.upper():<9} Okta EU · " in text
