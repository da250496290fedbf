"""JSON text that a page can inline in a <script> element without being broken out of. Pure."""
from __future__ import annotations

import json

# Outside strings JSON text never holds these characters, so escaping every one only touches string
# contents, and any JSON parser reads the same values back. `</script>` and `<!--` can no longer end or
# bend the element the payload sits in, and `&` cannot start an entity in XHTML. ASCII-only output
# also escapes U+2028 and U+2029, which end a line in older JavaScript.
_INLINE_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def inline_safe(text: str) -> str:
    """Return JSON text with <, > and & written as \\u escapes."""
    return text.translate(_INLINE_SAFE)


def dumps(value, **options) -> str:
    """Encode a value as ASCII JSON text that is safe to inline in HTML (`options` go to json.dumps)."""
    return inline_safe(json.dumps(value, ensure_ascii=True, **options))
