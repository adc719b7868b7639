"""Collect the inputs, run the ten checks, return a Report."""

from __future__ import annotations

import time
from pathlib import Path

from jackstop import __version__
from jackstop.posture import checks
from jackstop.posture.checks.base import Inputs
from jackstop.posture.model import Report


def judge(app: object | None, gateway: object | None, *, now: float | None = None,
          max_age_days: float = 90.0) -> Report:
    """Run every check on facts already collected (tests and the CLI both come through here)."""
    now = time.time() if now is None else now
    inputs = Inputs(app=app, gateway=gateway, now=now, max_age_days=max_age_days)
    described = []
    notes: list[str] = []
    if app is not None:
        described.append(f"app tree {app.root}")
        notes += app.notes
    if gateway is not None:
        described.append(gateway.source)
        notes += gateway.notes
    return Report(tuple(c.check(inputs) for c in checks.ALL), tuple(described), now, __version__, tuple(notes))


def run(path: Path | None, *, gateway: bool = False, config_path: str | None = None, admin_url: str | None = None,
        admin_token: str = "", history: bool = True, max_age_days: float = 90.0) -> Report:
    from jackstop.posture.collect.app import collect_app
    from jackstop.posture.collect.facts import GatewayFacts

    now = time.time()
    app = collect_app(path, history=history) if path is not None else None
    facts: GatewayFacts | None = None
    if admin_url:
        from jackstop.posture.collect.remote import collect_remote

        facts = collect_remote(admin_url, admin_token, now)
    elif gateway:
        from jackstop.posture.collect.local import collect_local

        facts = collect_local(config_path, now)
    return judge(app, facts, now=now, max_age_days=max_age_days)
