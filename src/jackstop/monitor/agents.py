"""User agents reduced to their family: `OpenAI/Python 1.54.0` and `OpenAI/Python 1.99.1` are
the same client, so a library upgrade is not "a new agent"; `python-requests/2.31` is another."""

from __future__ import annotations

import re

_VERSION = re.compile(r"[/ ]v?\d[\w.+-]*")
_MEMO: dict[str, str] = {}


def agent_family(ua: str | None) -> str | None:
    if not ua:
        return None
    fam = _MEMO.get(ua)
    if fam is None:
        head = ua.strip().split(" (", 1)[0][:120]
        fam = _VERSION.sub("", head).strip().lower() or "(blank)"
        if len(_MEMO) > 4096:
            _MEMO.clear()
        _MEMO[ua] = fam
    return fam
