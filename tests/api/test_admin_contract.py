"""The admin API keeps its contract: the OpenAPI document is valid OpenAPI 3.1, and a live gateway,
fuzzed by schemathesis over every admin route, answers no 5xx and nothing its schema does not allow."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from tests.gateway.conftest import GatewayProc, start_gateway


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, mock) -> Iterator[GatewayProc]:  # noqa: F811
    g = start_gateway(tmp_path_factory.mktemp("contract"))
    g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
    g.create_key("oai", "app", policy={"budgets": [{"amount": "5", "window": "day"}]})
    try:
        yield g
    finally:
        g.stop()


def test_the_openapi_document_is_valid_openapi_3_1(live: GatewayProc) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    doc = httpx.get(live.url + "/admin/v1/openapi.json").json()
    validate(doc)  # raises on any violation of the OpenAPI 3.1 schema
    policy = doc["components"]["schemas"]["PolicySpec"]["properties"]
    assert {"budgets", "rpm", "allow_ips", "endpoints", "monitor", "unbounded_reserve"} <= set(policy)
    assert doc["components"]["schemas"]["BudgetSpec"]["properties"]["window"]["enum"] == [
        "total", "day", "week", "month", "24h", "7d"]
    broken = {**doc, "paths": {"/x": {"get": {"responses": {"200": {"$ref": 5}}}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)  # the validator does refuse a broken document


def _schemathesis(live: GatewayProc, token: str, *select: str, cwd: pathlib.Path) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", live.url + "/admin/v1/openapi.json",
         "--url", live.url, "-H", f"Authorization: Bearer {token}",
         "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance",
         "--mode", "positive", "--phases", "coverage,fuzzing", "--max-examples", "6",
         "--seed", "7", "--workers", "1", "--no-shrink", "--request-timeout", "20",
         "--suppress-health-check", "all", *select],
        capture_output=True, text=True, timeout=240, cwd=cwd)  # its cache goes there, not into the checkout
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    return out


def test_schemathesis_finds_no_5xx_and_no_response_off_schema(live: GatewayProc, tmp_path: pathlib.Path) -> None:
    """Every admin route, positive cases from the schema (a few per route): the checks fail on a 5xx,
    or on a status or a response body the document does not allow."""
    # Its own admin token, created here: the fuzzer learns names from listings, and revoking the
    # token it uses would turn the rest of the run into 401s, so that route runs last, on its own.
    token = live.control.create_admin_token("contract-fuzzer", "admin", "test").token
    out = _schemathesis(live, token, "--exclude-operation-id", "revoke_admin_token", cwd=tmp_path)
    doc = httpx.get(live.url + "/admin/v1/openapi.json").json()
    total = sum(op["operationId"] != "openapi" for ops in doc["paths"].values() for op in ops.values())
    assert f"{total - 1} selected / {total} total" in out, out[-3000:]  # every operation but the one below
    assert "401 Unauthorized" not in out, out[-3000:]  # every route was reached, not only refused
    out = _schemathesis(live, token, "--include-operation-id", "revoke_admin_token", cwd=tmp_path)
    assert "1 selected" in out, out[-3000:]
