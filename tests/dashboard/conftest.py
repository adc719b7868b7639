"""Dashboard fixtures: one gateway per module (SQLite tier) with an OpenAI provider at the mock,
and helpers to log in over plain HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from tests.gateway.conftest import GatewayProc, mock, start_gateway  # noqa: F401 - `mock` is a fixture

BUDGET = {"budgets": [{"amount": "0.01", "window": "day"}, {"amount": "5.00", "window": "month"}]}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, mock) -> Iterator[GatewayProc]:  # noqa: F811
    g = start_gateway(tmp_path_factory.mktemp("dash"))
    g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
    try:
        yield g
    finally:
        g.stop()


def login(g: GatewayProc, token: str | None = None) -> tuple[httpx.Client, str]:
    """A client holding a dashboard session, and the session's CSRF token."""
    c = httpx.Client(base_url=g.url, timeout=10.0)
    r = c.post("/ui/login", data={"token": token or g.admin_token}, headers={"Origin": g.url})
    assert r.status_code == 303, r.text
    page = c.get("/ui/keys")
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    return c, csrf.group(1)


def admin_token(g: GatewayProc, name: str, role: str, **kw) -> str:  # noqa: ANN003
    assert g.control is not None
    return g.control.create_admin_token(name, role, "test", **kw).token
