"""Text safe to record: the API key (and anything shaped like one) removed, for every message
of the OpenAI backend and its Batch API that reaches a log, the manifest or a warning."""

from __future__ import annotations

import os
import re

_KEY_RE = re.compile(r"sk-[A-Za-z0-9_\-*.]{4,}")


def scrub(text: object) -> str:
    """Text safe to record: the API key (and anything shaped like one) removed."""
    out = str(text)
    key = os.environ.get("OPENAI_API_KEY")
    if key:
        out = out.replace(key, "[redacted]")
    return _KEY_RE.sub("sk-[redacted]", out)
