"""Issue 9, item 4: one parameter, several spellings; the gateway and the provider read the same value.

Gemini's REST API accepts proto field names beside the JSON ones (`generation_config`,
`max_output_tokens`, `candidate_count`, `thinking_config`, `cached_content`); OpenAI chat has
`max_tokens` and `max_completion_tokens`; and any JSON object may repeat a key. The mock reads
every spelling and, of two values, bills the larger. On a $1.00 key every forwarded request is
billed at most what the gateway reserved, or it is refused in the caller's dialect.
"""

from __future__ import annotations

import pytest

from tests.adversary.conftest_bounds import (  # noqa: F401  (fixtures)
    CAP_NUSD,
    Pairs,
    assert_refused_in_dialect,
    billed_since,
    bounds_gateway,
    bounds_mock,
    capped_key,
    dumps_with_pairs,
    post,
)
from tests.gateway.util import key_name_of, ledger_rows

PRO = "/v1beta/models/gemini-2.5-pro:generateContent"
HUGE = 1_000_000
USER = [{"role": "user", "parts": [{"text": "write forever"}]}]
CHAT = [{"role": "user", "content": "write forever"}]


def gem(**fields: object) -> dict:
    return {"contents": USER, **fields}


CASES = {
    # Gemini proto spellings, alone: normalised to camelCase and bounded.
    "gemini-generation_config.max_output_tokens": (
        "gemini", PRO, gem(generation_config={"max_output_tokens": HUGE}), None),
    "gemini-generationConfig.max_output_tokens": (
        "gemini", PRO, gem(generationConfig={"max_output_tokens": HUGE}), None),
    "gemini-candidate_count": (
        "gemini", PRO, gem(generation_config={"candidate_count": 8, "maxOutputTokens": 2000}), None),
    "gemini-thinking_config": (
        "gemini", PRO, gem(generationConfig={"thinking_config": {"thinking_budget": HUGE}}), None),
    # Both spellings at once: refused, the provider's choice is not ours to guess.
    "gemini-both-config-spellings": (
        "gemini", PRO, gem(generationConfig={"maxOutputTokens": 10}, generation_config={"max_output_tokens": HUGE}),
        "ambiguous_parameter"),
    "gemini-both-max-spellings": (
        "gemini", PRO, gem(generationConfig={"maxOutputTokens": 10, "max_output_tokens": HUGE}),
        "ambiguous_parameter"),
    "gemini-both-candidate-spellings": (
        "gemini", PRO, gem(generationConfig={"candidateCount": 1, "candidate_count": 8}), "ambiguous_parameter"),
    # Duplicate JSON keys, small value last and first.
    "gemini-duplicate-maxOutputTokens": (
        "gemini", PRO, Pairs([("contents", USER), ("generationConfig", Pairs([
            ("maxOutputTokens", HUGE), ("maxOutputTokens", 10)]))]), None),
    "gemini-duplicate-generationConfig": (
        "gemini", PRO, Pairs([("contents", USER), ("generationConfig", {"maxOutputTokens": HUGE}),
                              ("generationConfig", {"temperature": 1})]), None),
    "openai-duplicate-max_tokens-small-last": (
        "openai", "/v1/chat/completions", Pairs([("model", "gpt-5.4"), ("messages", CHAT), ("max_tokens", HUGE),
                                                 ("max_tokens", 10)]), None),
    "openai-duplicate-max_tokens-big-last": (
        "openai", "/v1/chat/completions", Pairs([("model", "gpt-5.4"), ("messages", CHAT), ("max_tokens", 10),
                                                 ("max_tokens", HUGE)]), None),
    "openai-both-max-params": (
        "openai", "/v1/chat/completions", {"model": "gpt-5.4", "messages": CHAT, "max_tokens": HUGE,
                                           "max_completion_tokens": 10}, None),
    "openai-duplicate-n": (
        "openai", "/v1/chat/completions", Pairs([("model", "gpt-4o-mini"), ("messages", CHAT), ("max_tokens", 2000),
                                                 ("n", 100), ("n", 1)]), None),
    "responses-duplicate-max_output_tokens": (
        "openai", "/v1/responses", Pairs([("model", "gpt-5.4"), ("input", "write forever"),
                                          ("max_output_tokens", HUGE), ("max_output_tokens", 16)]), None),
    "anthropic-duplicate-max_tokens": (
        "anthropic", "/v1/messages", Pairs([("model", "claude-opus-4-8"), ("messages", CHAT),
                                            ("max_tokens", HUGE), ("max_tokens", 10)]), None),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_every_spelling_is_bounded_or_refused(bounds_gateway, bounds_mock, name):
    family, path, body, rule = CASES[name]
    key = capped_key(bounds_gateway, family)
    start = len(bounds_mock.requests)
    r = post(bounds_gateway.url, family, key, path, dumps_with_pairs(body))
    billed = billed_since(bounds_mock, start)
    row = ledger_rows(bounds_gateway.control.store, key_name_of(bounds_gateway, key), 1)[0]
    if rule is not None:
        assert_refused_in_dialect(r, family, (rule,))
        assert r.status_code == 400 and billed == 0 and len(bounds_mock.requests) == start
        return
    if r.status_code != 200:
        assert_refused_in_dialect(r, family, ("budget_exceeded",))
        assert billed == 0
        return
    assert 0 < billed <= row.reserved_nusd <= CAP_NUSD, (billed, row.reserved_nusd)
    # The provider received one spelling and no repeated key: what the gateway parsed.
    sent = bounds_mock.requests.snapshot()[-1].raw_body
    if family == "gemini":
        assert b"max_output_tokens" not in sent and b"generation_config" not in sent and b"candidate_count" not in sent
    for param in (b'"max_tokens"', b'"maxOutputTokens"', b'"max_output_tokens"', b'"n"', b'"generationConfig"'):
        assert sent.count(param) <= 1, sent[:300]
