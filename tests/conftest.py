"""Shared test fixtures: free ports, the external test services."""

from __future__ import annotations

import os
import socket

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("JACKSTOP_TEST_POSTGRES")
    if not url:
        pytest.skip("JACKSTOP_TEST_POSTGRES is not set (CI sets it; e.g. postgresql://postgres@127.0.0.1:5432/test)")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("JACKSTOP_TEST_REDIS")
    if not url:
        pytest.skip("JACKSTOP_TEST_REDIS is not set (CI sets it; e.g. redis://127.0.0.1:6379/0)")
    return url
