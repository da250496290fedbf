"""Flask's JSON answers, encoded by domain.jsontext so a portal can inline them in a page."""
from __future__ import annotations

from flask.json.provider import DefaultJSONProvider

from ..domain import jsontext


class InlineSafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON with members in the order written and <, > and & escaped."""

    sort_keys = False
    # ASCII-escaped (Flask's default) so any string, even an unpaired surrogate, can be answered.
    ensure_ascii = True

    def dumps(self, obj, **kwargs) -> str:
        """Encode `obj` as inline-safe JSON text."""
        return jsontext.inline_safe(super().dumps(obj, **kwargs))
