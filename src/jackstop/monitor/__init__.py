"""Real-time monitoring: baselines, anomaly detectors, automatic responses, replay and incident reports.

    from jackstop.monitor import Monitor, load_monitor_settings
    monitor = Monitor(load_monitor_settings(settings.monitor), store=store, control=control,
                      alerts=alert_manager, catalog=catalog)
    ledger_writer.subscribers.append(monitor.observe)
    monitor.start()
    ...
    monitor.is_blocked(ip)            # before authentication: reason, or None
    monitor.throttle_factor(key_name) # admission: e.g. 0.1, or None
    monitor.stop()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jackstop.monitor.settings import MonitorSettings, load_monitor_settings

if TYPE_CHECKING:
    from jackstop.monitor.live import Monitor


def __getattr__(name: str) -> Any:  # Monitor pulls in the store; import it only when asked for
    if name == "Monitor":
        from jackstop.monitor.live import Monitor

        return Monitor
    raise AttributeError(name)


__all__ = ["Monitor", "MonitorSettings", "load_monitor_settings"]
