"""Alerts: budget alerts (the gateway) and monitor events, delivered by webhook, e-mail and the log.

    from jackstop.alerts import Alert, AlertManager, load_alert_settings
    manager = AlertManager(load_alert_settings(settings.alerts), store, keystore)
    manager.start()
    manager.fire(alert)      # non-blocking; False when the dedupe key already fired
    manager.stop(timeout)

The modules: `model` (Alert), `settings` ([alerts] config), `outbox` (tables in the Store),
`manager` (intake and delivery thread), `channels`/`webhook`/`smtp` (senders), `render`
(bodies and e-mail text), `backoff` (retry delays), `budget` (budget alerts), `cli`.
"""

from jackstop.alerts.budget import budget_alert
from jackstop.alerts.manager import AlertManager
from jackstop.alerts.model import SEVERITIES, Alert
from jackstop.alerts.settings import AlertSettings, load_alert_settings

__all__ = ["SEVERITIES", "Alert", "AlertManager", "AlertSettings", "budget_alert", "load_alert_settings"]
