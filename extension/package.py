"""Builds the scimwatch extension and packages it for the browser stores.

    python extension/package.py build [--store chrome|firefox] [--out DIR]
        unpacked extension (default extension/build/unpacked); without --store
        its manifest carries what both browsers need, for loading unpacked
    python extension/package.py zip [--out DIR]
        Chrome Web Store and Firefox add-ons zips (default extension/dist)

The content script's renderer is widget/scim-banner.js, copied in here so the
widget and the extension share one file; nothing in extension/ is a copy.
"""

import argparse
import json
import shutil
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RENDERER = HERE.parent / "widget" / "scim-banner.js"
SOURCES = (
    "manifest.json",
    "keys.js",
    "managed_schema.json",
    "service-worker.js",
    "page-reader.js",
    "offers.js",
    "content-script.js",
    "options.html",
    "options.js",
    "popup.html",
    "popup.js",
    "icons/icon-16.png",
    "icons/icon-32.png",
    "icons/icon-48.png",
    "icons/icon-128.png",
)
# 1980-01-01, the earliest zip time: the same sources make the same zip.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
STORES = ("chrome", "firefox")


def store_manifest(manifest, store):
    """Returns the manifest for one store, without the keys only the other browser reads."""
    manifest = json.loads(json.dumps(manifest))
    if store == "chrome":
        # Chrome warns about both; Firefox needs them.
        del manifest["background"]["scripts"]
        del manifest["browser_specific_settings"]
    elif store == "firefox":
        # Firefox runs background.scripts and warns that it ignores service_worker.
        del manifest["background"]["service_worker"]
    return manifest


def build(out, store=None):
    """Writes the unpacked extension (sources plus the widget's renderer) to out."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    for name in SOURCES:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HERE / name, out / name)
    shutil.copyfile(RENDERER, out / RENDERER.name)
    manifest = store_manifest(json.loads((HERE / "manifest.json").read_text()), store)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def write_zip(unpacked, path):
    """Zips an unpacked build in a stable order with a fixed time."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in unpacked.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(file.relative_to(unpacked).as_posix(), ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, file.read_bytes())
    return path


def package(out):
    """Writes scimwatch-chrome-<version>.zip and scimwatch-firefox-<version>.zip to out."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    version = json.loads((HERE / "manifest.json").read_text())["version"]
    zips = []
    for store in STORES:
        unpacked = build(out / store, store)
        zips.append(write_zip(unpacked, out / f"scimwatch-{store}-{version}.zip"))
        shutil.rmtree(unpacked)
    return zips


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("build", "zip"))
    parser.add_argument("--store", choices=STORES, help="build with this store's manifest only")
    parser.add_argument("--out", help="output directory")
    args = parser.parse_args(argv)
    if args.command == "build":
        print(build(args.out or HERE / "build" / (args.store or "unpacked"), args.store))
    else:
        for path in package(args.out or HERE / "dist"):
            print(path)


if __name__ == "__main__":
    sys.exit(main())
