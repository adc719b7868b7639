"""The web dashboard at /ui: spend against every cap, the keys, the monitor's findings, and the
buttons to stop a stolen key; served by `jackstop serve` itself.

Server-rendered HTML (Jinja2, autoescaped everywhere) with two pinned, vendored scripts (htmx for
interaction, uPlot for charts; see static/vendor/VENDORED.json). Sessions are server-side; every
state-changing request needs the session's CSRF token and a same-origin Origin, and every response
carries a strict Content-Security-Policy. Actions go through the same control plane as the CLI and
the admin API, with the actor "admin:NAME via ui" in the audit log.
"""

from __future__ import annotations

from typing import Any

PREFIX = "/ui"


def make_dashboard(gateway: Any) -> Any:
    """The dashboard's ASGI app for a running gateway (its control plane, state, alerts, monitor),
    or None when the config turns it off; a bad `[dashboard]` value stops start-up with its message."""
    from jackstop.dashboard.settings import load_dashboard_settings

    if not load_dashboard_settings(gateway.settings.dashboard).enabled:
        return None
    from jackstop.dashboard.app import build

    return build(gateway)
