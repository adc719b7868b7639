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


@pytest.fixture
def fresh_postgres(postgres_url: str):
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    import uuid

    import psycopg

    name = f"jackstop_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _db = postgres_url.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
