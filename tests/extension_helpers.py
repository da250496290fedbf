"""Runs the scimwatch extension unpacked in Debian's chromium through Playwright.

admin.atlassian.com is never reached: the tests serve it with `context.route`
as a small single-page app that navigates with history.pushState.
"""
from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

from conftest import CHROMIUM, CHROMIUM_ARGS, ROOT

ADMIN = "https://admin.atlassian.com"
ADMIN_PAGES = ROOT / "tests" / "fixtures" / "admin-pages"
PAGE_READER = ROOT / "extension" / "page-reader.js"
# Where the saved directory pages are served: /o/{org}/ is what the reader takes the org id from.
DIRECTORY_ORG = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"

# A stand-in for admin.atlassian.com: links navigate in the page with
# pushState, like the real site, and one button re-renders the whole body.
ADMIN_SPA = """<!doctype html>
<html><head><title>Atlassian Administration</title></head>
<body>
<nav>
  <a id="to-org-a" href="/o/org-a/overview">Org A</a>
  <a id="to-org-b" href="/o/org-b/overview">Org B</a>
  <a id="to-no-org" href="/">All orgs</a>
  <button id="rerender" type="button">Re-render</button>
</nav>
<main id="app"></main>
<script>
  const draw = () => { document.getElementById("app").textContent = "Page " + location.pathname; };
  document.querySelector("nav").addEventListener("click", (event) => {
    const link = event.target.closest("a");
    if (!link) return;
    event.preventDefault();
    history.pushState({}, "", link.getAttribute("href"));
    draw();
  });
  addEventListener("popstate", draw);
  // Like an app that renders into <body> itself and drops what it did not make.
  document.getElementById("rerender").addEventListener("click", () => {
    document.body.replaceChildren(...[...document.body.children].filter((e) => e.id !== "scimwatch-banner"));
  });
  draw();
</script>
</body></html>"""


def load_packager():
    """Returns extension/package.py as a module."""
    spec = importlib.util.spec_from_file_location("scimwatch_extension_package", ROOT / "extension" / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_extension(dest: Path, store: str | None = None) -> Path:
    """Builds the unpacked extension into dest, as `package.py build` does."""
    return load_packager().build(dest, store)


def serve_admin(context):
    """Answers every admin.atlassian.com request with the fake single-page app."""
    context.route(f"{ADMIN}/**", lambda route: route.fulfill(status=200, content_type="text/html", body=ADMIN_SPA))


def admin_page(name: str, replace: dict | None = None) -> str:
    """Returns a saved admin.atlassian.com stand-in, with text replaced (old: new) as the test needs."""
    html = (ADMIN_PAGES / name).read_text()
    for old, new in (replace or {}).items():
        assert old in html, f"{old!r} is not in {name}"
        html = html.replace(old, new)
    return html


def directory_url(directory: str = "dir", org: str = DIRECTORY_ORG) -> str:
    """Returns a directory page address in the org."""
    return f"{ADMIN}/o/{org}/user-provisioning/directory/{directory}"


def serve_admin_page(context, url: str, name: str, replace: dict | None = None):
    """Answers url with a saved stand-in page, and /static/admin.css with the stand-ins' stylesheet."""
    html = admin_page(name, replace)
    context.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    css = (ADMIN_PAGES / "admin.css").read_text()
    context.route(f"{ADMIN}/static/admin.css", lambda route: route.fulfill(status=200, content_type="text/css",
                                                                          body=css))


class ExtensionBrowser:
    """A chromium profile with the unpacked extension loaded."""

    def __init__(self, playwright, extension_dir: Path, profile_dir: Path, **context_options):
        self.context = playwright.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=CHROMIUM,
            headless=True,
            args=[f"--disable-extensions-except={extension_dir}", f"--load-extension={extension_dir}", *CHROMIUM_ARGS],
            **context_options,
        )
        workers = self.context.service_workers
        self.worker = workers[0] if workers else self.context.wait_for_event("serviceworker")
        self.extension_id = self.worker.url.split("/")[2]
        self.page_errors: list = []
        self.context.on("page", lambda page: page.on("pageerror", lambda error: self.page_errors.append(error)))
        serve_admin(self.context)

    def url(self, path: str) -> str:
        """Returns the address of one of the extension's pages."""
        return f"chrome-extension://{self.extension_id}/{path}"

    def open(self, url: str):
        """Opens a new tab at url and returns its page."""
        page = self.context.new_page()
        page.goto(url)
        return page

    def in_worker(self, script: str, arg=None):
        """Evaluates a function expression in the extension's service worker."""
        return self.worker.evaluate(script, arg)

    def badge(self) -> dict:
        """Returns the toolbar badge's text, background colour and title."""
        return self.in_worker("""async () => ({
            text: await chrome.action.getBadgeText({}),
            colour: await chrome.action.getBadgeBackgroundColor({}),
            title: await chrome.action.getTitle({}),
        })""")

    def wait_for_badge(self, text: str, timeout: float = 10) -> dict:
        """Waits until the badge shows text; returns the badge."""
        deadline = time.monotonic() + timeout
        while (badge := self.badge())["text"] != text and time.monotonic() < deadline:
            time.sleep(0.1)
        return badge

    def storage(self, area: str) -> dict:
        """Returns everything in chrome.storage.<area>."""
        return self.in_worker("(area) => chrome.storage[area].get(null)", area)

    def connect(self, server_url: str, token: str) -> str:
        """Saves the server and token through the options page UI; returns the status text."""
        page = self.open(self.url("options.html"))
        page.fill("#server-url", server_url)
        page.fill("#token", token)
        page.click("#save")
        status = page.locator("#status")
        status.locator("xpath=self::*[@data-state='ok' or @data-state='error']").wait_for()
        text = status.text_content()
        page.close()
        return text

    def refresh(self):
        """Asks the service worker to fetch the banners now, as a content script does."""
        self.in_worker("() => globalThis.refresh()")

    def close(self):
        self.context.close()


def banner_titles(page) -> list[str]:
    """Returns the titles of the keys in the bar's list (its last text: the lozenge comes first)."""
    return page.evaluate("""() => [...document.querySelectorAll('#scimwatch-banner')].flatMap((host) =>
        [...host.shadowRoot.querySelectorAll('#scimwatch-keys > li > h2')].map((h) => h.lastChild.textContent))""")


def bar_text(page) -> str | None:
    """Returns the bar's sentence (label and summary), or None when no bar shows."""
    return page.evaluate("""() => {
        const host = document.getElementById('scimwatch-banner');
        return host ? host.shadowRoot.querySelector('.bar p').textContent : null;
    }""")


def manifest(extension_dir: Path) -> dict:
    return json.loads((extension_dir / "manifest.json").read_text())


def offer(page) -> dict | None:
    """Returns the offer strip on a directory page: its state, sentence and buttons; None when none shows."""
    return page.evaluate("""() => {
        const host = document.getElementById('scimwatch-offer');
        if (!host) return null;
        const root = host.shadowRoot;
        return {state: host.dataset.state, text: root.querySelector('p').textContent,
                buttons: [...root.querySelectorAll('button')].map((b) => b.textContent)};
    }""")


def wait_for_offer(page, state: str | None, timeout: float = 10) -> dict | None:
    """Waits until the offer strip is in state (None: no strip); returns it."""
    deadline = time.monotonic() + timeout
    while ((shown := offer(page)) and shown["state"]) != state and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert (shown and shown["state"]) == state, shown
    return shown


def click_offer(page, words: str):
    """Clicks the offer strip's button that says words."""
    page.locator("#scimwatch-offer").get_by_role("button", name=words, exact=True).click()
