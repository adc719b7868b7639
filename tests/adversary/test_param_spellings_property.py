"""Property: alternative and duplicate spellings of every bounded parameter; forwarded => bill <= reservation.

Bodies name each bounded parameter in any spelling the provider accepts (Gemini's JSON and proto
names, at the top level and inside generationConfig / thinkingConfig; OpenAI's two max-tokens
fields and n; Responses' max_output_tokens; Anthropic's max_tokens), any number of times, as
repeated JSON keys with different values, some of them nonsense. 2,000 examples per family run
through the functions `jackstop serve` runs and the mock's own request handling (which reads
every spelling and, of two values, the larger); a smaller sample goes through a real gateway.
"""

from __future__ import annotations

import httpx2 as httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.adversary.conftest_bounds import (  # noqa: F401  (fixtures)
    Pairs,
    bounds_gateway,
    bounds_mock,
    capped_key,
    direct_bill,
    dumps_with_pairs,
    gateway_decision,
    post,
    record_cost,
)
from tests.gateway.util import key_name_of, ledger_rows
from tests.properties import examples

FUNCTION_EXAMPLES = examples(2000)  # JACKSTOP_PROPERTY_EXAMPLES=full for all 2,000
GATEWAY_EXAMPLES = 25

# Mostly sensible sizes, sometimes huge, sometimes not a count at all.
amount = st.one_of(st.integers(1, 5000), st.integers(5000, 2_000_000), st.sampled_from([0, -1, "4000", 1.5, None, True]))
count = st.one_of(st.integers(1, 8), st.sampled_from([0, 9, 128, "2", None]))


def _pairs(names: list[str], values: st.SearchStrategy) -> st.SearchStrategy:
    """0-4 (name, value) members, names repeating freely."""
    return st.lists(st.tuples(st.sampled_from(names), values), max_size=4)


_thinking = _pairs(["thinkingBudget", "thinking_budget"], amount).map(Pairs)
_config = st.lists(st.one_of(
    st.tuples(st.sampled_from(["maxOutputTokens", "max_output_tokens"]), amount),
    st.tuples(st.sampled_from(["candidateCount", "candidate_count"]), count),
    st.tuples(st.sampled_from(["thinkingConfig", "thinking_config"]), _thinking),
    st.tuples(st.just("temperature"), st.just(0.5))), max_size=4).map(Pairs)
# A repeated key whose first value is the big one: the gateway (orjson) reads the last.
_repeated = st.builds(lambda name, big, small: Pairs([(name, big), (name, small)]),
                      st.sampled_from(["maxOutputTokens", "candidateCount"]), st.integers(5000, 2_000_000),
                      st.integers(1, 4096))
_gemini_top = st.lists(st.one_of(
    st.tuples(st.sampled_from(["generationConfig", "generation_config"]), _config | _repeated),
    st.tuples(st.sampled_from(["systemInstruction", "system_instruction"]), st.just({"parts": [{"text": "be brief"}]})),
    st.tuples(st.sampled_from(["cachedContent", "cached_content"]), st.just("cachedContents/c1"))), max_size=3)


def _gemini(model, top):
    return "gemini", f"/v1beta/models/{model}:generateContent", Pairs(
        [("contents", [{"role": "user", "parts": [{"text": "write forever"}]}]), *top])


def _chat(model, members, stream):
    pairs = [("model", model), ("messages", [{"role": "user", "content": "write forever"}]), *members]
    if stream:
        pairs.append(("stream", True))
    return "openai", "/v1/chat/completions", Pairs(pairs)


def _responses(members):
    return "openai", "/v1/responses", Pairs([("model", "gpt-4o-mini"), ("input", "write forever"), *members])


def _anthropic(model, members):
    return "anthropic", "/v1/messages", Pairs([("model", model), ("messages", [
        {"role": "user", "content": "write forever"}]), *members])


gemini = st.builds(_gemini, st.sampled_from(["gemini-2.5-flash-lite", "gemini-2.5-flash"]), _gemini_top)
openai = st.one_of(
    st.builds(_chat, st.sampled_from(["gpt-4o-mini", "gpt-5-mini"]),
              st.lists(st.one_of(st.tuples(st.sampled_from(["max_tokens", "max_completion_tokens"]), amount),
                                 st.tuples(st.just("n"), count)), max_size=5), st.booleans()),
    st.builds(_responses, _pairs(["max_output_tokens"], amount)))
anthropic = st.builds(_anthropic, st.sampled_from(["claude-haiku-4-5", "claude-sonnet-5"]),
                      _pairs(["max_tokens"], amount))
FAMILIES = {"openai": openai, "anthropic": anthropic, "gemini": gemini}


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=60) as c:
        yield c


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_forwarded_spellings_bill_at_most_the_reservation(family):
    @settings(max_examples=FUNCTION_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(case=FAMILIES[family])
    def prop(case):
        fam, path, body = case
        decision = gateway_decision(fam, path, dumps_with_pairs(body))
        if decision.forwarded is None:
            return
        billed = direct_bill(fam, path, decision.forwarded)
        assert billed <= decision.reserved_nusd, f"billed {billed} > reserved {decision.reserved_nusd}"

    prop()


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_through_the_gateway_process_too(bounds_gateway, bounds_mock, client, family):
    @settings(max_examples=GATEWAY_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(case=FAMILIES[family])
    def prop(case):
        _, path, body = case
        token = capped_key(bounds_gateway, family, "1000.00")
        start = len(bounds_mock.requests)
        r = post(bounds_gateway.url, family, token, path, dumps_with_pairs(body), client=client)
        recs = bounds_mock.requests.snapshot()[start:]
        if not recs:
            assert r.status_code >= 400 and r.headers.get("x-jackstop-error"), r.text[:200]
            return
        row = ledger_rows(bounds_gateway.control.store, key_name_of(bounds_gateway, token), 1)[0]
        assert record_cost(recs[0]) <= row.reserved_nusd

    prop()
