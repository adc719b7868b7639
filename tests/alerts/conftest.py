"""Fixtures for the alert tests: receivers on loopback, stores (SQLite and PostgreSQL), managers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from jackstop.gateway.logs import JsonFormatter
from jackstop.store.sqlite import SqliteStore
from tests.alerts.receivers import SMTP_PASSWORD, Managers, SmtpServer, WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    if r.hold is not None:
        r.hold.set()
    r.stop()


@pytest.fixture
def unstarted_receiver() -> Iterator[WebhookReceiver]:
    """A receiver whose port refuses connections until the test calls start()."""
    r = WebhookReceiver()
    yield r
    r.stop()


@pytest.fixture
def smtp_server(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """STARTTLS required, AUTH required (only after TLS), a certificate made for this test."""
    monkeypatch.setenv("JACKSTOP_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    server = SmtpServer(tmp_path)
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A store URL; the PostgreSQL case skips unless JACKSTOP_TEST_POSTGRES is set."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jackstop.db'}"
    return request.getfixturevalue("fresh_postgres")


@pytest.fixture
def sqlite_store(tmp_path: Any) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "c.db", tmp_path / "l.db")
    yield s
    s.close()


@pytest.fixture
def managers() -> Iterator[Managers]:
    m = Managers()
    yield m
    m.close()


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def alert_log() -> Iterator[list[str]]:
    """The JSON log lines written on `jackstop.alerts`, formatted as the gateway formats its logs."""
    logger = logging.getLogger("jackstop.alerts")
    handler = _Lines()
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old_level)
