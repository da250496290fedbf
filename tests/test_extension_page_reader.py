"""The extension's page reader over the saved admin.atlassian.com stand-ins, in chromium, without the extension."""
from __future__ import annotations

import pytest
from extension_helpers import DIRECTORY_ORG, PAGE_READER, directory_url, serve_admin_page

OKTA_ID = "8d1c2e3f-4a5b-4c6d-9e7f-0a1b2c3d4e5f"


@pytest.fixture
def reader(browser):
    """Returns read(fixture, locale=..., replace=..., url=...): what the reader makes of that page."""
    contexts = []

    def read(name: str, locale: str = "en-US", replace: dict | None = None, url: str | None = None):
        context = browser.new_context(locale=locale)
        contexts.append(context)
        address = url or directory_url()
        serve_admin_page(context, address, name, replace)
        page = context.new_page()
        page.goto(address)
        page.add_script_tag(path=str(PAGE_READER))
        return page, page.evaluate("() => ScimwatchPageReader.read(document, {language: navigator.language})")

    yield read
    for context in contexts:
        context.close()


def seen(directory_id: str, name: str, expires_at: str = "2027-03-01") -> dict:
    return {"org_id": DIRECTORY_ORG, "directory_id": directory_id, "directory_name": name, "expires_at": expires_at}


@pytest.mark.parametrize("fixture, locale, expected", [
    ("directory-month-first.html", "en-US", seen(OKTA_ID, "Okta production")),
    ("directory-day-first.html", "en-GB", seen("entra-42", "Entra ID")),
    ("directory-day-first.html", "en-US", seen("entra-42", "Entra ID")),
    ("directory-iso.html", "de-DE", seen("onelogin-7", "OneLogin")),
    ("directory-sentence.html", "en-US", seen("gws-1", "Google Workspace")),
    ("directory-numeric.html", "en-GB", seen("okta-staging", "Okta staging")),
    ("directory-numeric.html", "en-US", seen("okta-staging", "Okta staging", "2027-01-03")),
    ("directory-moved.html", "en-US", seen("okta-eu", "Okta EU")),
])
def test_the_reader_takes_org_directory_name_and_expiry_from_each_layout(reader, fixture, locale, expected):
    assert reader(fixture, locale)[1] == expected


@pytest.mark.parametrize("fixture, locale", [
    ("directory-no-date.html", "en-US"),  # "made before 1 January 2025 do not expire": no date of this key
    ("directory-conflict.html", "en-US"),  # two dates beside words about expiry
    ("directory-numeric.html", "en"),  # 01/03/2027 with no region: 1 March or 3 January
])
def test_the_reader_says_nothing_when_the_page_is_unclear(reader, fixture, locale):
    assert reader(fixture, locale)[1] is None


@pytest.mark.parametrize("shown, locale, expected", [
    ("March 1, 2027", "en-US", "2027-03-01"),
    ("Mar 1 2027", "en-US", "2027-03-01"),
    ("1 Mar 2027", "en-US", "2027-03-01"),
    ("1 March, 2027", "en-GB", "2027-03-01"),
    ("Sept 30, 2027", "en-US", "2027-09-30"),
    ("2027-03-01", "en-US", "2027-03-01"),
    ("2027/03/01", "en", "2027-03-01"),
    ("03/03/2027", "en", "2027-03-03"),  # day and month alike: no doubt whatever the region
    ("13/03/2027", "en-GB", "2027-03-13"),
    ("1.3.2027", "de-DE", "2027-03-01"),
    ("1. März 2027", "de-DE", "2027-03-01"),
    ("1 mars 2027", "fr-FR", "2027-03-01"),
    ("1 de marzo de 2027", "es-ES", "2027-03-01"),
    ("13/03/2027", "en-US", None),  # month 13 in the browser's own order: not a date we can read
    ("01/03/27", "en-GB", None),  # a two-digit year
    ("Feb 30, 2027", "en-US", None),
    ("Mar 1, 1999", "en-US", None),
    ("soon", "en-US", None),
])
def test_each_date_form_is_read_or_refused(reader, shown, locale, expected):
    result = reader("directory-month-first.html", locale, replace={"Mar 1, 2027": shown})[1]
    assert (result and result["expires_at"]) == expected


def test_a_page_outside_an_org_or_without_a_single_base_url_or_heading_says_nothing(reader):
    assert reader("directory-month-first.html", url="https://admin.atlassian.com/user-provisioning/x")[1] is None
    other = "<dt>Other</dt><dd>https://api.atlassian.com/scim/directory/other</dd>"
    two_ids = {"<dt>API key</dt>": other + "<dt>API key</dt>"}
    assert reader("directory-month-first.html", replace=two_ids)[1] is None
    no_heading = {"<h1>Okta production</h1>": "<h2>Okta production</h2>"}
    assert reader("directory-month-first.html", replace=no_heading)[1] is None


def test_names_read_from_the_page_are_text_and_the_app_page_is_read_once_drawn(reader):
    page, before = reader("directory-app.html", replace={'"wait": false': '"wait": true'})
    assert before is None  # still "Loading…"
    page.evaluate("() => app.render({name: '<img src=x onerror=alert(1)>'})")
    result = page.evaluate("() => ScimwatchPageReader.read(document, {language: navigator.language})")
    assert result == seen(OKTA_ID, "<img src=x onerror=alert(1)>")
    page.evaluate("() => app.render({expires: ''})")
    assert page.evaluate("() => ScimwatchPageReader.read(document, {language: 'en-US'})") is None
