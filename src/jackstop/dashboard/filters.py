"""Jinja2 filters: money, time and percentages as the pages show them."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from jackstop.pricing.money import format_usd


def usd(nusd: Any) -> str:
    return "$" + format_usd(int(nusd or 0))


def usd_float(value: Any) -> str:
    """A USD amount given as a float (the incident report's totals)."""
    return "-" if value is None else usd(round(float(value) * 1e9))


def when(ts: Any) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(float(ts), timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def ago(ts: Any) -> str:
    if ts is None:
        return "never"
    s = max(0, int(time.time() - float(ts)))
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= n:
            return f"{s // n}{unit} ago"
    return f"{s}s ago"


def duration(seconds: Any) -> str:
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d {s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 60}m"


def pct(fraction: Any) -> str:
    return f"{float(fraction) * 100:.0f} %"


def q(name: Any) -> str:
    """A name as one URL path segment (every reserved character encoded, '/' too)."""
    return quote(str(name), safe="")


FILTERS = {"q": q, "usd_float": usd_float, "usd": usd, "when": when, "ago": ago, "duration": duration, "pct": pct}
