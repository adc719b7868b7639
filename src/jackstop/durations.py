"""Durations and points in time as people type them: 30s, 15m, 24h, 7d, 2w, or ISO-8601."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str) -> float:
    """Seconds in `text` such as 90s, 15m, 24h, 7d, 2w."""
    m = _DURATION.match(text or "")
    if not m:
        raise ValueError(f"{text!r} is not a duration; use a number and a unit: 30s, 15m, 24h, 7d or 2w")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_since(text: str, now: float | None = None) -> float:
    """A UNIX time from a duration ago (24h) or an ISO-8601 date/time (naive = UTC)."""
    now = time.time() if now is None else now
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (24h, 7d) nor an ISO-8601 time "
                         f"(2026-11-28 or 2026-11-28T09:00:00Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
