"""scimwatch: warns Atlassian Cloud admins before a SCIM API key expires.

Rooms (docs/architecture.md): `domain` (pure rules) <- `store` (the data folder) <- `notify`
(reminders out) and `sync` <- `web` (HTTP) <- this top level (app factory, settings, CLI, serving).
"""
from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):
    # Lazy, so that importing `server.domain` alone does not load Flask.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
