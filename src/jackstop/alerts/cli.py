"""`jackstop alerts list` (what fired, and its delivery per channel) and `jackstop alerts test`.

Module-level imports stay standard-library only so `jackstop --help` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from jackstop.errors import UsageError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("alerts", help="budget and monitor alerts: what fired, and a test of every channel",
                              description="Alerts fire once per budget, threshold and window (and per monitor "
                                          "event) and go to the webhook, e-mail and log channels of [alerts].")
    p.set_defaults(func=lambda _args: (p.print_help(), 2)[1])
    sub = p.add_subparsers(dest="alerts_command", metavar="ACTION")

    lp = sub.add_parser("list", help="alerts that fired, with their delivery per channel")
    lp.add_argument("--since", default="7d", metavar="WHEN",
                    help="a duration ago (24h, 7d) or an ISO-8601 time (default: 7d)")
    lp.add_argument("--limit", type=int, default=200, help="at most this many alerts (default: 200)")
    lp.add_argument("--json", action="store_true", help="JSON instead of a table")
    lp.add_argument("--config", metavar="FILE", help="jackstop.toml (default: $JACKSTOP_CONFIG)")
    lp.set_defaults(func=cmd_list)

    tp = sub.add_parser("test", help="send a test alert through every configured channel and report each result")
    tp.add_argument("--timeout", default="30s", metavar="DURATION",
                    help="how long to wait for the channels (default: 30s)")
    tp.add_argument("--json", action="store_true", help="JSON instead of a table")
    tp.add_argument("--config", metavar="FILE", help="jackstop.toml (default: $JACKSTOP_CONFIG)")
    tp.set_defaults(func=cmd_test)


def _open(args: argparse.Namespace, *, keystore: bool) -> tuple[Any, Any, Any]:
    """(alert settings, store, keystore or None) from the config file and JACKSTOP_HOME."""
    from jackstop import config
    from jackstop.alerts.settings import load_alert_settings
    from jackstop.home import Home, HomeError
    from jackstop.store import StoreError, open_store

    try:
        settings = config.load(getattr(args, "config", None))
        alert_settings = load_alert_settings(settings.alerts)
    except config.ConfigError as exc:
        raise UsageError(f"configuration error: {exc}") from None
    home = Home.from_env()
    if not settings.store.url and not home.exists():
        raise UsageError(f"jackstop is not initialised in {home.path}; run `jackstop init` "
                         f"(or set JACKSTOP_HOME / store.url)")
    try:
        store = open_store(settings.store.url, home)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    ks = None
    if keystore:
        from jackstop.secrets import Keystore

        try:
            ks = Keystore(store, home.derive("keystore"))
        except HomeError:
            ks = None  # env: SecretRefs still work; a local: one reports that the keystore is missing
    return alert_settings, store, ks


def _cut(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def cmd_list(args: argparse.Namespace) -> int:
    from jackstop.alerts.manager import AlertManager
    from jackstop.durations import iso, parse_since
    from jackstop.table import render

    try:
        since = parse_since(args.since)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None
    if args.limit < 1:
        raise UsageError("--limit must be a positive number")
    settings, store, _ = _open(args, keystore=False)
    try:
        alerts = AlertManager(settings, store).list(since, args.limit)
    finally:
        store.close()
    if args.json:
        for a in alerts:
            a["time"] = iso(a["ts"])
        print(json.dumps(alerts, indent=2, sort_keys=True, default=str))
        return 0
    if not alerts:
        print(f"No alerts since {iso(since)}.")
        return 0
    rows = []
    for a in alerts:
        first = True
        for d in a["deliveries"] or [{"channel": "", "status": "pending", "attempts": 0, "last_error": ""}]:
            rows.append([iso(a["ts"]) if first else "", a["severity"] if first else "",
                         _cut(a["title"], 70) if first else "", d["channel"], d["status"], d["attempts"],
                         _cut(d["last_error"], 60)])
            first = False
    print(render(["fired", "severity", "title", "channel", "status", "attempts", "last error"], rows))
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    import time
    import uuid

    from jackstop.alerts.manager import AlertManager
    from jackstop.alerts.model import Alert
    from jackstop.durations import parse_duration
    from jackstop.table import render

    try:
        timeout = parse_duration(args.timeout)
    except ValueError as exc:
        raise UsageError(f"--timeout: {exc}") from None
    settings, store, keystore = _open(args, keystore=True)
    now = time.time()
    alert = Alert(kind="test", severity="info", dedupe_key=f"test:{uuid.uuid4().hex}",
                  title="jackstop test alert: this channel works",
                  message="This is a test sent by `jackstop alerts test`. Budget and monitor alerts "
                          "will arrive here the same way.",
                  fields={"test": True}, ts=now)
    manager = AlertManager(settings, store, keystore)
    try:
        manager.start()
        manager.fire(alert)
        rows = manager.wait(alert.dedupe_key, timeout)
    finally:
        manager.stop(timeout=1.0)
        store.close()
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True, default=str))
    else:
        print(render(["channel", "status", "error"],
                     [[r["channel"], r["status"], r["last_error"]] for r in rows]))
    if len(manager.channels) == 1:
        print("\nOnly the log channel is configured; add [[alerts.webhook]] or [[alerts.smtp]] to jackstop.toml "
              "(see README: Alerts).", file=sys.stderr)
    ok = bool(rows) and all(r["status"] == "delivered" for r in rows)
    if not ok and not args.json:
        print("\nA channel failed: fix its [alerts] settings (or the receiver) and run this again.",
              file=sys.stderr)
    return 0 if ok else 1
