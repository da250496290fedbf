"""CORS: the banner API for admin.atlassian.com, configured exact origins and extension origins; observations for
extension origins only (the service worker posts them; a page never does)."""
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
    """Allow cross-origin GETs of the banner API and extension POSTs of observations, nothing else."""
    CORS(app, supports_credentials=False, max_age=600, resources={
        re.compile(r"/api/v1/banners\Z"): {
            "origins": banner_origins(extra_origins), "methods": ["GET"], "allow_headers": ["Authorization"]},
        re.compile(r"/api/v1/observations\Z"): {
            "origins": list(EXTENSION_ORIGINS), "methods": ["POST"],
            "allow_headers": ["Authorization", "Content-Type"]},
    })
