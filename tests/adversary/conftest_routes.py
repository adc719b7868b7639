"""Shared pieces of the route, forwarding and bad-input adversary tests (imported by those
modules; kept out of conftest.py so parallel work on tests/adversary/ does not collide).

A thief holds a virtual key capped at $1.00. What the provider billed is priced from the usage
the mock provider reported for every request it answered, as a real provider would bill it.
"""

from __future__ import annotations

import http.client
import pathlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from jackstop.mockprovider import MockProvider, RecordedRequest
from jackstop.pricing import Catalog, Usage, cost_nusd
from jackstop.store import LedgerRow
from tests.gateway.conftest import GatewayProc, mock, start_gateway  # noqa: F401 - `mock` is a fixture

CAP = "1.00"
CAP_NUSD = 1_000_000_000
CATALOG = Catalog.load()
PROVIDERS = {"openai": "oai", "anthropic": "ant", "gemini": "gem"}
# The gateway's endpoint names -> the mock's, for "the provider ran the classified route".
MOCK_ENDPOINT = {
    ("openai", "chat.completions"): "openai.chat", ("openai", "responses"): "openai.responses",
    ("openai", "completions"): "openai.completions", ("openai", "embeddings"): "openai.embeddings",
    ("openai", "images.generations"): "openai.images", ("openai", "models"): "openai.models",
    ("anthropic", "messages"): "anthropic.messages", ("anthropic", "messages.count_tokens"): "anthropic.count_tokens",
    ("anthropic", "models"): "anthropic.models",
    ("gemini", "generateContent"): "gemini.generate", ("gemini", "streamGenerateContent"): "gemini.stream",
    ("gemini", "countTokens"): "gemini.count_tokens", ("gemini", "embedContent"): "gemini.embed",
    ("gemini", "batchEmbedContents"): "gemini.batch_embed", ("gemini", "models"): "gemini.models",
}


def add_providers(g: GatewayProc, m: MockProvider) -> None:
    g.add_provider("oai", "openai", m.keys["openai"], m.base_url + "/v1")
    g.add_provider("ant", "anthropic", m.keys["anthropic"], m.base_url)
    g.add_provider("gem", "gemini", m.keys["gemini"], m.base_url)


@pytest.fixture(scope="module")
def capped_gateway(tmp_path_factory: pytest.TempPathFactory, mock: MockProvider) -> Iterator[GatewayProc]:  # noqa: F811
    """A gateway (embedded tier) with one provider of each family at the mock."""
    mock.reset()  # no server-wide fault or usage policy left over from another module
    g = start_gateway(tmp_path_factory.mktemp("gw-routes"))
    add_providers(g, mock)
    try:
        yield g
    finally:
        g.stop()


def capped_key(g: GatewayProc, family: str) -> str:
    """A fresh virtual key for `family` with a $1.00 total budget."""
    return g.create_key(PROVIDERS[family], policy={"budgets": [{"amount": CAP, "window": "total"}]})


def auth_headers(family: str, key: str) -> dict[str, str]:
    return {"openai": {"authorization": f"Bearer {key}"},
            "anthropic": {"x-api-key": key, "anthropic-version": "2023-06-01"},
            "gemini": {"x-goog-api-key": key}}[family]


def bill_nusd(record: RecordedRequest) -> int:
    """What the provider billed for one request it answered (0 when it answered no usage)."""
    if record.usage is None or record.family is None or record.status != 200:
        return 0
    model = record.model or ""
    price = CATALOG.lookup(record.family, model)
    assert price is not None, f"the mock billed an unpriced model {model!r}"
    u = record.usage
    return cost_nusd(Usage(input_tokens=u.input_tokens, output_tokens=u.output_tokens,
                           cached_input_tokens=u.cached_tokens, cache_write_tokens=u.cache_write_tokens,
                           reasoning_tokens=u.reasoning_tokens), price)


def total_bill(records: list[RecordedRequest]) -> int:
    return sum(bill_nusd(r) for r in records)


def rule_in_dialect(family: str, body: bytes) -> str | None:
    """The refusal rule an error body names, read the way that family's SDK reads errors."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    err = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(err, dict):
        return None
    if family == "anthropic":
        return err.get("code") if obj.get("type") == "error" and "type" in err else None
    if family == "gemini":
        details = err.get("details") or [{}]
        return details[0].get("reason") if isinstance(err.get("code"), int) and "status" in err else None
    return err.get("code") if "type" in err and "message" in err else None


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(port: int, method: str, target: bytes, headers: dict[str, str] | None = None,
                body: bytes = b"", timeout: float = 30.0) -> RawResponse:
    """One HTTP/1.1 request sent byte for byte as given (no client normalises the target)."""
    head = [method.encode() + b" " + target + b" HTTP/1.1", b"host: 127.0.0.1", b"connection: close"]
    for k, v in (headers or {}).items():
        head.append(k.encode("latin-1") + b": " + v.encode("latin-1"))
    if body or method == "POST":
        head += [b"content-type: application/json", b"content-length: " + str(len(body)).encode()]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)


def ledger_row(g: GatewayProc, request_id: str, timeout: float = 15.0) -> LedgerRow:
    """The ledger row of one request (the gateway writes rows in batches)."""
    assert g.control is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in g.control.store.ledger():
            if row.request_id == request_id:
                return row
        time.sleep(0.05)
    raise AssertionError(f"no ledger row for request {request_id}")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc status")


def gemini_body() -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
