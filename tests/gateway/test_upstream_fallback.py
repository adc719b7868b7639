"""The other upstream clients (`server.upstream_client = "aiohttp"`, the mature fallback, and
"pyreqwest", which "auto" picks behind a proxy) serve the same requests as the default in-loop
one: JSON, streams with usage, and provider errors relayed as such."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import free_port
from tests.gateway.conftest import start_gateway
from tests.gateway.util import key_name_of, ledger_rows

MSG = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module", params=["aiohttp", "pyreqwest"])
def other_client_gateway(request, tmp_path_factory, mock):
    g = start_gateway(tmp_path_factory.mktemp(request.param), extra_env={"JACKSTOP_UPSTREAM_CLIENT": request.param})
    g.add_provider("oai", "openai", mock.keys["openai"], mock.base_url + "/v1")
    g.add_provider("dead", "openai", "sk-dead-" + "y" * 40, f"http://127.0.0.1:{free_port()}/v1")
    yield g
    g.stop()


def test_json_and_stream_through_the_other_clients(other_client_gateway, fresh_mock):
    key = other_client_gateway.create_key("oai")
    client = openai.OpenAI(base_url=other_client_gateway.url + "/v1", api_key=key, max_retries=0)
    r = client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True))
    assert r.usage.completion_tokens > 0 and all(c.usage is None for c in chunks)
    assert fresh_mock.requests.snapshot()[-1].credential == fresh_mock.keys["openai"]
    rows = ledger_rows(other_client_gateway.control.store, key_name_of(other_client_gateway, key), 2)
    assert [row.stream for row in rows] == [False, True]
    assert all(row.status == 200 and row.output_tokens > 0 and row.cost_nusd > 0 for row in rows)


def test_errors_through_the_other_clients(other_client_gateway, fresh_mock):
    g = other_client_gateway
    client = openai.OpenAI(base_url=g.url + "/v1", api_key=g.create_key("oai"), max_retries=0)
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(model="gpt-4o-mini", messages=MSG, extra_headers={"x-mock-fault": "status=429"})
    assert exc.value.response.headers["x-jackstop-upstream-status"] == "429"
    dead = openai.OpenAI(base_url=g.url + "/v1", api_key=g.create_key("dead"), max_retries=0)
    with pytest.raises(openai.APIStatusError) as exc:
        dead.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert exc.value.status_code == 502 and exc.value.response.headers["x-jackstop-error"] == "upstream_unreachable"
