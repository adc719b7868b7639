"""Run the gateway for bench/monitor.py, with the monitor on or off (config `[monitor] enabled`).
If this gateway version does not start the monitor itself, attach it the way the gateway will."""

from __future__ import annotations

import sys

from jackstop import config
from jackstop.server import make_server
from jackstop.home import Home


def main() -> None:
    settings = config.load()
    server, gateway = make_server(settings, Home.from_env())
    from jackstop.monitor import load_monitor_settings

    ms = load_monitor_settings(settings.monitor)
    if ms.enabled and getattr(gateway, "monitor", None) is None:
        from jackstop.monitor.live import Monitor

        m = Monitor(ms, store=gateway.store, control=gateway.control, catalog=gateway.catalog)
        gateway.ledger.subscribers.append(m.observe)
        gateway.proxy.monitor = m
        m.start()
    print("ready", flush=True)
    server.run()
    sys.exit(0)


if __name__ == "__main__":
    main()
