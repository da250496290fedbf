"""Packaging and linting of the browser extension: the store zips and Mozilla's web-ext lint."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from extension_helpers import ROOT, build_extension

EXTENSION = ROOT / "extension"
RENDERER = ROOT / "widget" / "scim-banner.js"
WEB_EXT = EXTENSION / "node_modules" / ".bin" / "web-ext"


@pytest.fixture(scope="module")
def zips(tmp_path_factory):
    """The zips `package.py zip` writes, by store."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, str(EXTENSION / "package.py"), "zip", "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return {store_of(path): path for path in map(Path, done.stdout.split())}


def store_of(path: Path) -> str:
    """Returns the store a zip is for, from its name scimwatch-<store>-<version>.zip."""
    return path.name.split("-")[1]


def read_zip(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_each_store_gets_a_zip_with_the_widgets_renderer_and_nothing_else(zips):
    version = json.loads((EXTENSION / "manifest.json").read_text())["version"]
    assert sorted(path.name for path in zips.values()) == [
        f"scimwatch-chrome-{version}.zip", f"scimwatch-firefox-{version}.zip"]
    for path in zips.values():
        files = read_zip(path)
        assert files["scim-banner.js"] == RENDERER.read_bytes()
        assert not [name for name in files if name.startswith(("node_modules", "package")) or name.endswith(".md")]


def test_chrome_gets_the_service_worker_and_firefox_the_background_scripts(zips):
    chrome = json.loads(read_zip(zips["chrome"])["manifest.json"])
    firefox = json.loads(read_zip(zips["firefox"])["manifest.json"])

    assert chrome["background"] == {"service_worker": "service-worker.js"}
    assert "browser_specific_settings" not in chrome
    assert firefox["background"] == {"scripts": ["keys.js", "service-worker.js"]}
    assert firefox["browser_specific_settings"]["gecko"]["id"] == "scimwatch@scimwatch.example"


def test_the_zips_are_the_same_when_built_twice(zips, tmp_path):
    again = subprocess.run([sys.executable, str(EXTENSION / "package.py"), "zip", "--out", str(tmp_path)],
                           capture_output=True, text=True, timeout=60, check=True)
    for path in map(Path, again.stdout.split()):
        assert path.read_bytes() == zips[store_of(path)].read_bytes()


def test_web_ext_lint_finds_nothing_in_the_firefox_build(tmp_path):
    if not WEB_EXT.exists():
        message = "web-ext is not installed: run `npm ci --prefix extension`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    firefox = build_extension(tmp_path / "firefox", "firefox")

    linted = subprocess.run([str(WEB_EXT), "lint", "--source-dir", str(firefox), "--warnings-as-errors",
                             "--output", "json"], capture_output=True, text=True, timeout=300)

    assert linted.returncode == 0, linted.stdout + linted.stderr
    report = json.loads(linted.stdout)
    assert report["summary"] == {"errors": 0, "notices": 0, "warnings": 0}
