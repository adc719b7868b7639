"""Shared pieces of the worst-case bound adversary tests (attachments, ceilings, spellings).

Not a conftest.py (another suite owns that name here): test modules import the fixtures and
helpers they use. Two ways in:

- through the servers: a real `jackstop serve` subprocess in front of a mock provider, a key
  capped at $1.00/day, and the provider's bill read from what the mock reported for each
  request it answered (priced with the catalog);
- through the same functions the servers run (`gateway_decision` + the mock over HTTP), fast
  enough for thousands of hypothesis examples: the gateway's bound, admission's refusals, and
  the exact bytes the proxy would forward, sent to the mock, whose reported usage is priced.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from jackstop.config import LimitSettings
from jackstop.gateway.bounds import BoundError, UnboundedInput, bound_request
from jackstop.gateway.proxy import upstream_body
from jackstop.gateway.spellings import AmbiguousParameter
from jackstop.mockprovider import MockProvider, generate_key
from jackstop.mockprovider import server as mock_server
from jackstop.pricing import Catalog, PriceError, Usage, cost_nusd, worst_case_nusd
from jackstop.providers import get_family
from tests.gateway.conftest import GatewayProc, start_gateway

CATALOG = Catalog.load()
CAP_USD = "1.00"
CAP_NUSD = 1_000_000_000  # $1.00 in nano-USD
PROVIDER = {"openai": "oai", "anthropic": "ant", "gemini": "gem"}
CEILING = 4096  # [keys] max_tokens default: the output ceiling a key without its own gets


@pytest.fixture(scope="module")
def bounds_mock() -> Iterator[MockProvider]:
    keys = {f: generate_key(f) for f in ("openai", "anthropic", "gemini")}
    with MockProvider(keys=keys) as m:
        yield m


@pytest.fixture(scope="module")
def bounds_gateway(tmp_path_factory: pytest.TempPathFactory, bounds_mock: MockProvider) -> Iterator[GatewayProc]:
    g = start_gateway(tmp_path_factory.mktemp("bounds"))
    g.add_provider("oai", "openai", bounds_mock.keys["openai"], bounds_mock.base_url + "/v1")
    g.add_provider("ant", "anthropic", bounds_mock.keys["anthropic"], bounds_mock.base_url)
    g.add_provider("gem", "gemini", bounds_mock.keys["gemini"], bounds_mock.base_url)
    try:
        yield g
    finally:
        g.stop()


def capped_key(g: GatewayProc, family: str, usd: str = CAP_USD) -> str:
    return g.create_key(PROVIDER[family], policy={"budgets": [f"{usd}/day"]})


def auth(family: str, key: str) -> dict[str, str]:
    return {"openai": {"authorization": f"Bearer {key}"},
            "anthropic": {"x-api-key": key, "anthropic-version": "2023-06-01"},
            "gemini": {"x-goog-api-key": key}}[family]


def post(url: str, family: str, key: str, path: str, body: dict[str, Any] | bytes,
         usage: str = "output=max", client: httpx.Client | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {**auth(family, key), "content-type": "application/json", "x-mock-usage": usage}
    if client is not None:
        return client.post(url + path, content=content, headers=headers)
    return httpx.post(url + path, content=content, headers=headers, timeout=120)


def record_cost(rec: Any) -> int:
    """What the provider billed for one recorded request (0 when it reported no usage)."""
    return usage_cost(rec.family, rec.model, rec.usage)


def usage_cost(family: str, model: str | None, u: Any) -> int:
    if u is None:
        return 0
    price = CATALOG.lookup(family, model or "")
    assert price is not None, model
    return cost_nusd(Usage(input_tokens=u.input_tokens, output_tokens=u.output_tokens,
                           cached_input_tokens=u.cached_tokens, cache_write_tokens=u.cache_write_tokens,
                           reasoning_tokens=u.reasoning_tokens), price)


def billed_since(mock: MockProvider, start: int) -> int:
    return sum(record_cost(r) for r in mock.requests.snapshot()[start:])


def rule_of(resp: httpx.Response) -> str | None:
    return resp.headers.get("x-jackstop-error")


def assert_refused_in_dialect(resp: httpx.Response, family: str, rules: tuple[str, ...]) -> None:
    """A refusal naming one of `rules`, in the caller's own error format."""
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
    rule = rule_of(resp)
    assert rule in rules, (rule, resp.text[:300])
    err = resp.json()
    if family == "openai":
        assert err["error"]["code"] == rule and err["error"]["message"]
    elif family == "anthropic":
        assert err["type"] == "error" and err["error"]["code"] == rule
    else:
        assert err["error"]["details"][0]["reason"] == rule and err["error"]["status"]


# -- the gateway's decision, by the functions the server runs ---------------------------------

@dataclass
class Decision:
    forwarded: bytes | None  # the exact bytes the proxy sends upstream; None when refused
    reserved_nusd: int = 0
    refused: str = ""  # the rule admission would name


def gateway_decision(family_name: str, path: str, raw: bytes, limits: LimitSettings | None = None) -> Decision:
    """What `jackstop serve` decides for this raw body on a budgeted key (see proxy._serve and
    admission.admit): the rule it refuses with, or the reservation and the forwarded bytes."""
    family = get_family(family_name)
    route_path, _, query = path.partition("?")
    route = family.match("POST", route_path, query)
    assert route is not None, path
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Decision(None, refused="invalid_json")
    if not isinstance(body, dict):
        return Decision(None, refused="invalid_json")
    model = family.model(route, body)
    price = CATALOG.lookup(family_name, model) if model else None
    if price is None:
        return Decision(None, refused="model_not_priced")
    try:
        bound = bound_request(route, family_name, body, len(raw), CEILING, limits or LimitSettings(),
                              context_window=price.context_window)
    except AmbiguousParameter:
        return Decision(None, refused="ambiguous_parameter")
    except BoundError:
        return Decision(None, refused="invalid_request")
    except UnboundedInput:
        return Decision(None, refused="unbounded_input")
    if bound.mode:
        if bound.mode not in price.mode_names():
            return Decision(None, refused="mode_not_priced")
        price = price.with_mode(bound.mode)
    if bound.unbounded:
        return Decision(None, refused="unbounded_cost")
    try:
        per_image = bound.images and price.image_billing == "per_image"
        worst = worst_case_nusd(price, bound.input_tokens, bound.output_tokens, bound.images if per_image else 0,
                                bound.image_size, bound.image_quality)
    except PriceError:
        return Decision(None, refused="unbounded_cost")
    stream = family.wants_stream(route, body)
    prepared = family.prepare(route, body, raw, stream)
    return Decision(upstream_body(bound, prepared.body, raw, body), worst)


def mock_bill(client: httpx.Client, mock: MockProvider, family: str, path: str, sent: bytes) -> int:
    """Send the forwarded bytes to the mock (largest output it allows) and price what it reports."""
    r = client.post(mock.base_url + path, content=sent,
                    headers={**auth(family, mock.keys[family]), "content-type": "application/json",
                             "x-mock-usage": "output=max"})
    assert r.status_code < 500, r.text[:300]
    return record_cost(mock.requests.snapshot()[-1])


def direct_bill(family: str, path: str, sent: bytes) -> int:
    """The mock's bill for these bytes by the very functions its server runs (no socket), at
    the most output it allows: fast enough for thousands of examples."""
    usage = mock_server.bill(path, sent)
    if usage is None:
        return 0
    route = mock_server.resolve("POST", path.partition("?")[0], {}, {})
    model = route.path_model or orjson.loads(sent).get("model")
    return usage_cost(family, model, usage)


def dumps_with_pairs(node: Any) -> bytes:
    """JSON text where an object given as Pairs may repeat a key (json/orjson cannot write that)."""
    if isinstance(node, Pairs):
        return b"{" + b",".join(json.dumps(k).encode() + b":" + dumps_with_pairs(v) for k, v in node.items) + b"}"
    if isinstance(node, dict):
        return dumps_with_pairs(Pairs(list(node.items())))
    if isinstance(node, list):
        return b"[" + b",".join(dumps_with_pairs(v) for v in node) + b"]"
    return orjson.dumps(node)


@dataclass
class Pairs:
    items: list[tuple[str, Any]]
