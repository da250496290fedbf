"""scimwatch: warns Atlassian Cloud admins before a SCIM API key expires."""
from .app import create_app

__all__ = ["create_app"]
