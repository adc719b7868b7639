"""Hard caps: 200 concurrent requests against a cap that fits about 10, and not a cent over.

The mock provider answers every request with the largest output it allows (output=max), so
each request costs as much as it possibly can. The truth is what the provider billed: the
usage the mock reported for every request it answered, priced with the catalog.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from jackstop.control.policy import parse_budget
from jackstop.pricing import Catalog, cost_nusd, usage_from_openai_chat
from jackstop.pricing.money import format_usd
from tests.daytime import clear_of_midnight
from tests.gateway.util import ledger_rows

MODEL = "gpt-4o-mini"
MAX_TOKENS = 2000


def body(i: int, stream: bool = False) -> dict:
    b = {"model": MODEL, "max_tokens": MAX_TOKENS,
         "messages": [{"role": "user", "content": f"request {i}: tell me a long story about the number {i}."}]}
    if stream:
        b["stream"] = True
        b["stream_options"] = {"include_usage": True}
    return b


def worst_case(stream: bool = False) -> int:
    """What the gateway reserves for one of these requests (it computes the same bound)."""
    from jackstop.config import LimitSettings
    from jackstop.gateway.bounds import bound_request
    from jackstop.pricing import worst_case_nusd
    from jackstop.providers.base import Route

    b = body(100, stream)
    raw = json.dumps(b).encode()  # what aiohttp sends for json=
    bound = bound_request(Route("openai", "chat.completions", "/chat/completions"), "openai", b, len(raw),
                          4096, LimitSettings())
    return worst_case_nusd(Catalog.load().lookup("openai", MODEL), bound.input_tokens, bound.output_tokens)


def billed(mock) -> int:
    """What the provider billed: the usage it reported on every request it answered."""
    price = Catalog.load().lookup("openai", MODEL)
    total = 0
    for rec in mock.requests.snapshot():
        if rec.usage is None:
            continue
        u = rec.usage
        total += cost_nusd(usage_from_openai_chat({"prompt_tokens": u.input_tokens,
                                                   "completion_tokens": u.output_tokens}), price)
    return total


async def fire(url: str, key: str, n: int, stream: bool, disconnect_every: int = 0) -> list[int]:
    statuses: list[int] = []
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=120)) as s:
        async def one(i: int) -> None:
            headers = {"authorization": f"Bearer {key}", "x-mock-usage": "output=max"}
            if stream:
                headers["x-mock-fault"] = "drip=0.03"  # long enough for the gateway to see clients leave
            async with s.post(url + "/v1/chat/completions", json=body(i, stream), headers=headers) as r:
                statuses.append(r.status)
                if stream and r.status == 200 and disconnect_every and i % disconnect_every == 0:
                    await r.content.readany()  # one event, then the client goes away
                    r.close()
                    return
                await r.read()

        await asyncio.gather(*[one(i) for i in range(n)])
    return statuses


@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_key_cap_is_never_overshot_by_200_concurrent_requests(gateway, fresh_mock, stream):
    clear_of_midnight()  # a day budget that starts again mid-test would admit more than the cap
    cap = worst_case(stream) * 10
    budget = f"{format_usd(cap)}/day"
    key = gateway.create_key("oai", policy={"budgets": [budget]})
    name = gateway.control.find_key_by_token(key).name
    statuses = asyncio.run(fire(gateway.url, key, 200, stream, disconnect_every=3 if stream else 0))
    served = statuses.count(200)
    assert served >= 10 and statuses.count(402) == 200 - served
    rows = ledger_rows(gateway.control.store, name, 200, timeout=30)
    settled = sum(r.cost_nusd for r in rows)
    provider_billed = billed(fresh_mock)
    assert len(fresh_mock.requests) == served  # a refused request reaches no provider
    assert settled <= parse_budget(budget).amount_nusd
    assert provider_billed <= settled  # the ledger never under-counts what the provider billed
    assert all(r.status == 402 and r.rule == "budget_exceeded" and r.cost_nusd == 0 for r in rows if r.rule)
    if stream:
        assert any(r.error == "client disconnected" for r in rows)


@pytest.mark.slow
def test_project_cap_shared_by_several_keys_holds(gateway, fresh_mock):
    import uuid

    clear_of_midnight()
    cap = worst_case() * 10
    project = f"p-{uuid.uuid4().hex[:6]}"
    gateway.control.upsert_project(project, {"budgets": [f"{format_usd(cap)}/day"]}, [], "test", create=True)
    keys = [gateway.create_key("oai", project=project) for _ in range(4)]

    async def all_keys():
        return await asyncio.gather(*[fire(gateway.url, k, 50, False) for k in keys])

    statuses = [s for per_key in asyncio.run(all_keys()) for s in per_key]
    served = statuses.count(200)
    assert served >= 10 and statuses.count(402) == 200 - served
    names = [gateway.control.find_key_by_token(k).name for k in keys]
    settled = sum(sum(r.cost_nusd for r in ledger_rows(gateway.control.store, n, 50, timeout=30)) for n in names)
    assert settled <= cap
    assert billed(fresh_mock) <= settled
