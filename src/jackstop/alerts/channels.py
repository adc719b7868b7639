"""Delivery channels: what they share, the log channel, and building them from the settings.

A channel's `send(alert)` is blocking and runs on a delivery thread, never on the gateway's
event loop. It returns on success and raises `SendError` on failure; the error text is shown
in `jackstop alerts list` and stored, so it must never hold a secret (SecretRef values are
resolved at send time and passed to `redact` as exact strings to mask).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from jackstop.alerts.model import Alert, severity_rank
from jackstop.alerts.settings import LOG_CHANNEL, AlertSettings, default_name
from jackstop.redact import redact
from jackstop.secrets.refs import SecretError, parse_ref, resolve_env

ALERT_LOGGER = "jackstop.alerts"
log = logging.getLogger(ALERT_LOGGER)


class SendError(Exception):
    """A delivery attempt failed. `permanent`: retrying cannot help; `retry_after`: the receiver's hint."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Secrets:
    """Resolves SecretRefs at send time: env:NAME always, local:NAME through the keystore."""

    def __init__(self, keystore: Any = None) -> None:
        self._keystore = keystore

    def resolve(self, ref_text: str) -> str:
        try:
            ref = parse_ref(ref_text)
            if self._keystore is not None:
                return str(self._keystore.resolve(ref))
            if ref.scheme == "env":
                return resolve_env(ref)
        except SecretError as exc:
            raise SendError(str(exc)) from None
        raise SendError(f"{ref_text} needs the local keystore, and the master key is not available here; "
                        f"run `jackstop init` or set JACKSTOP_MASTER_KEY, or use env:VARIABLE")


class Channel(Protocol):
    name: str
    min_severity: str

    def send(self, alert: Alert) -> None: ...


def accepts(channel: Channel, alert: Alert) -> bool:
    # A test alert goes to every channel: its point is to check them all.
    return alert.kind == "test" or severity_rank(alert.severity) >= severity_rank(channel.min_severity)


@dataclass
class LogChannel:
    """Always on: every fired alert is one log line on `jackstop.alerts` (JSON with the gateway's formatter)."""

    name: str = LOG_CHANNEL
    min_severity: str = "info"

    def send(self, alert: Alert) -> None:
        # WARNING so the line shows at the default and the `warning` log levels alike.
        log.warning(redact(f"alert: {alert.one_line_title()}"), extra={
            "event": "alert",
            "alert": {
                "kind": alert.kind, "severity": alert.severity, "dedupe_key": alert.dedupe_key,
                "title": redact(alert.title), "message": redact(alert.message), "fields": alert.fields,
                "ts": alert.ts,
            },
        })


def build_channels(settings: AlertSettings, keystore: Any = None) -> dict[str, Channel]:
    """The log channel, then each configured webhook and SMTP channel, by name."""
    from jackstop.alerts.smtp import SmtpChannel
    from jackstop.alerts.webhook import WebhookChannel

    secrets = Secrets(keystore)
    channels: dict[str, Channel] = {LOG_CHANNEL: LogChannel()}
    for i, w in enumerate(settings.webhook):
        name = default_name(w, i, settings.webhook, "webhook")
        channels[name] = WebhookChannel(name, w, secrets, settings.send_timeout)
    for i, s in enumerate(settings.smtp):
        name = default_name(s, i, settings.smtp, "email")
        channels[name] = SmtpChannel(name, s, secrets, settings.send_timeout)
    return channels
