"""Plain-text tables for CLI output (JSON is one flag away)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def render(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, v in enumerate(row):
            widths[i] = max(widths[i], len(v))
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths)).rstrip()
    out = [line]
    for row in cells:
        out.append("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    return "\n".join(out)


def usd(nusd: int | None) -> str:
    if nusd is None:
        return ""
    return f"${nusd / 1e9:,.6f}".rstrip("0").rstrip(".") if nusd % 10_000_000 else f"${nusd / 1e9:,.2f}"
