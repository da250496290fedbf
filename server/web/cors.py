"""CORS for the banner API only: admin.atlassian.com, configured exact origins, extension origins."""
from __future__ import annotations

import re

from flask import Flask
from flask_cors import CORS

ATLASSIAN_ADMIN = "https://admin.atlassian.com"
# Extension origins: Chrome ids are 32 letters a-p; Firefox uses a per-install UUID.
EXTENSION_ORIGINS = (
    re.compile(r"chrome-extension://[a-p]{32}\Z"),
    re.compile(r"moz-extension://[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"),
)


def banner_origins(extra_origins) -> list:
    """Return the origin patterns allowed on the banner API; each matches one origin exactly."""
    exact = dict.fromkeys([ATLASSIAN_ADMIN, *extra_origins])
    return [re.compile(re.escape(origin) + r"\Z") for origin in exact] + list(EXTENSION_ORIGINS)


def register(app: Flask, extra_origins) -> None:
    """Allow cross-origin GETs of the banner API (with the Authorization header), nothing else."""
    CORS(app, resources={re.compile(r"/api/v1/banners\Z"): {
        "origins": banner_origins(extra_origins),
        "methods": ["GET"],
        "allow_headers": ["Authorization"],
        "supports_credentials": False,
        "max_age": 600,
    }})
