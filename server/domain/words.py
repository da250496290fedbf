"""Wording shared by every message: counts with their noun."""
from __future__ import annotations


def counted(count: int, noun: str) -> str:
    """Return '1 day', '2 days', '0 emails': the count and its noun, plural unless the count is one."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
