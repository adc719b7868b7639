"""Budget alerts as the gateway fires them: one per budget, threshold and window."""

from __future__ import annotations

import time

from jackstop.alerts.model import Alert
from jackstop.alerts.render import usd

SCOPES = ("key", "project", "provider", "global")


def budget_severity(threshold: float) -> str:
    return "critical" if threshold >= 1.0 else "warning" if threshold >= 0.8 else "info"


def window_id(window: str, window_start: str) -> str:
    """The part of the dedupe key that names the window: 2026-11-28 for a day, 2026-11 for a month."""
    if window == "total":
        return "total"
    if window in ("day", "week"):
        return window_start[:10]
    if window == "month":
        return window_start[:7]
    return window_start  # rolling windows: the gateway decides where one starts


def _pct(threshold: float) -> str:
    return f"{threshold * 100:g}%"


def budget_alert(*, scope: str, scope_name: str, threshold: float, spent_usd: float, cap_usd: float,
                 window: str, window_start: str, window_end: str, key: str | None = None,
                 project: str | None = None, provider: str | None = None, tz: str = "UTC",
                 ts: float | None = None) -> Alert:
    """Build the alert for `scope_name`'s budget crossing `threshold` (0.5 = 50 %) in one window."""
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
    wid = window_id(window, window_start)
    who = "global budget" if scope == "global" else f"{scope} {scope_name}"
    when = "all time" if window == "total" else f"{window} {wid} {tz}"
    title = f"Budget {_pct(threshold)} reached: {who}, {usd(spent_usd)} of {usd(cap_usd)} ({when})"
    lines = [f"Spend on {who} reached {_pct(threshold)} of its {window} budget: "
             f"{usd(spent_usd)} of {usd(cap_usd)}."]
    if window != "total":
        lines.append(f"Window: {window_start} to {window_end}.")
    if key and scope != "key":
        lines.append(f"Crossed by a request with key {key}.")
    if threshold >= 1.0:
        lines.append("The cap is reached: requests that would go over it are refused until the window ends "
                     "or the budget is raised.")
    else:
        lines.append("At 100 % requests that would go over the cap are refused.")
    fields = {"scope": scope, "scope_name": scope_name, "key": key, "project": project, "provider": provider,
              "threshold": threshold, "spent_usd": spent_usd, "cap_usd": cap_usd, "window": window,
              "window_start": window_start, "window_end": window_end}
    return Alert(kind="budget", severity=budget_severity(threshold),
                 dedupe_key=f"budget:{scope}:{scope_name}:{window}:{wid}:{threshold:g}",
                 title=title, message="\n".join(lines),
                 fields={k: v for k, v in fields.items() if v is not None},
                 ts=time.time() if ts is None else ts)
