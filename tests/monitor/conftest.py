"""Fixtures: a Control (store, keys) in a temporary data directory, and a Monitor on it."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from jackstop import config
from jackstop.control import Control
from jackstop.home import Home


@pytest.fixture
def control(tmp_path: pathlib.Path) -> Iterator[Control]:
    ctl = Control.open(config.load(environ={}), Home(tmp_path / "home"), create=True)
    ctl.set_secret("oai", "sk-test-not-real", "test")
    ctl.add_provider("oai", "openai", "local:oai", None, "test")
    yield ctl
    ctl.store.close()


class FakeAlerts:
    """Stands in for jackstop.alerts.AlertManager: records what was fired."""

    def __init__(self) -> None:
        self.fired: list[Any] = []

    def fire(self, alert: Any) -> bool:
        self.fired.append(alert)
        return True
