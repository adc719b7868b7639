"""Alerts: budget alerts (the gateway) and monitor events, delivered by webhook, e-mail and the log.

    from jackstop.alerts import Alert, AlertManager, load_alert_settings
    manager = AlertManager(load_alert_settings(settings.alerts), store, keystore)
    manager.start()
    manager.fire(alert)      # non-blocking; False when the dedupe key already fired
    manager.stop(timeout)

The modules: `model` (Alert), `settings` ([alerts] config), `outbox` (tables in the Store),
`manager` (intake and delivery thread), `channels`/`webhook`/`smtp` (senders), `render`
(bodies and e-mail text), `backoff` (retry delays), `budget` (budget alerts), `admin`
(admin API route), `cli`.

The names below load on first use, so `jackstop --help` (which imports `jackstop.alerts.cli`)
does not pay for pydantic and the store drivers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jackstop.alerts.budget import budget_alert
    from jackstop.alerts.manager import AlertManager
    from jackstop.alerts.model import SEVERITIES, Alert
    from jackstop.alerts.settings import AlertSettings, load_alert_settings

_EXPORTS = {
    "Alert": "jackstop.alerts.model",
    "SEVERITIES": "jackstop.alerts.model",
    "AlertManager": "jackstop.alerts.manager",
    "AlertSettings": "jackstop.alerts.settings",
    "load_alert_settings": "jackstop.alerts.settings",
    "budget_alert": "jackstop.alerts.budget",
}

__all__ = ["SEVERITIES", "Alert", "AlertManager", "AlertSettings", "budget_alert", "load_alert_settings"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jackstop.alerts' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
