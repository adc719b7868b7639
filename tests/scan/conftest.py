"""Fixtures for the scanner tests."""

from __future__ import annotations

import random

import pytest

from jackstop.scan import rules
from jackstop.scan.scanner import Scanner


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20260427)


@pytest.fixture(scope="session")
def scanner() -> Scanner:
    return Scanner(rules.load())
