"""The reminder email's HTML drawn by headless chromium at desktop and phone widths: it fits, and how tall it is."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_email_message import TWO_PROVIDERS, digest_for, expiring, html_of, received

# The usability review's digest: four keys of four identity providers.
REVIEW = (
    expiring(-3, directory_name="Contractors (Entra ID)", org_name="Acme Corporation", identity_provider="entra"),
    expiring(2, directory_name="Okta production", org_name="Acme Corporation", identity_provider="okta"),
    expiring(9, directory_name="Google Workspace", org_name="Acme Corporation", identity_provider="google"),
    expiring(25, directory_name="OneLogin EU", org_name="Acme Corporation", identity_provider="onelogin"),
)


@pytest.fixture(scope="module")
def shots():
    """Where screenshots go: $SCIMWATCH_SHOTS, or a temporary folder."""
    folder = Path(os.environ.get("SCIMWATCH_SHOTS") or f"/tmp/scimwatch-shots-{os.getpid()}") / "email"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("name, keys", [("two-providers", TWO_PROVIDERS), ("four-providers", REVIEW)])
@pytest.mark.parametrize("width", [1280, 600, 390])
def test_the_digest_fits_the_width_and_its_height_is_recorded(browser, shots, name, keys, width):
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.set_content(html_of(received(digest_for(*keys))))

    height = page.evaluate("document.documentElement.scrollHeight")
    page.screenshot(path=shots / f"digest-{name}-{width}.png", full_page=True)
    with (shots / "heights.txt").open("a") as log:
        log.write(f"email digest {name} {width}: {height} px\n")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    card = page.locator("table[width='600']").bounding_box()
    assert card["width"] <= min(width, 600)
    page.close()
