"""The documented token formulas, and the property the gateway's worst case relies on:
without attachments, reported input tokens never exceed the request body's UTF-8 bytes."""

from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from jackstop.mockprovider import ATTACHMENT_TOKENS, count_tokens, input_tokens, text_tokens
from jackstop.mockprovider.tokens import (
    MAX_FALLBACK,
    filler_words,
    plan_output,
    split_cached,
    split_pieces,
)


def test_text_is_a_quarter_of_its_utf8_bytes_rounded_up():
    assert text_tokens("") == 0
    assert text_tokens("abcd") == 1
    assert text_tokens("abcde") == 2
    assert text_tokens("é") == 1  # 2 bytes
    assert text_tokens("🦊" * 3) == 3  # 12 bytes


def test_prompt_strings_count_but_not_keys_numbers_or_booleans():
    messages = [{"role": "user", "content": "hello world"}]  # "user" + "hello world" = 15 B
    assert count_tokens(messages) == 4
    assert count_tokens({"temperature": 0.5, "flag": True, "nothing": None, "t": "abcd"}) == 1
    assert count_tokens([101, 102, 103]) == 3  # token ids count one each
    assert count_tokens("") == 1  # never zero


def test_attachments_count_a_flat_ceiling_and_their_data_is_skipped():
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 4000}}
    parts = [{"type": "text", "text": "abcd"}, image]
    # "text" + "abcd" = 8 B -> 2, plus one attachment
    assert count_tokens(parts) == 2 + ATTACHMENT_TOKENS
    gemini = {"parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}
    assert count_tokens(gemini) == ATTACHMENT_TOKENS


def test_each_endpoint_counts_only_its_prompt_fields():
    body = {"model": "m" * 400, "messages": [{"role": "user", "content": "abcd"}],
            "tools": [{"type": "function", "function": {"name": "x" * 400}}]}
    # "user" + "abcd" + "function" + 400 x "x" = 416 B; the model is not a prompt, tools are
    # (providers bill tool definitions as input)
    assert input_tokens("openai.chat", body) == 104
    # Anthropic adds its tool-use system prompt (346 tokens on Claude 4.x, tool_choice auto)
    assert input_tokens("anthropic.messages", {**body, "system": "abcd"}) == 105 + 346
    assert input_tokens("openai.responses", {"input": "abcd", "instructions": "abcd"}) == 2
    assert input_tokens("gemini.generate",
                        {"contents": [{"parts": [{"text": "abcdefgh"}]}]}) == 2


def test_output_plan_fixed_max_and_limits():
    assert plan_output(16, 0, None).output_tokens == 16
    fixed = plan_output(16, 0, 5)
    assert (fixed.output_tokens, fixed.hit_limit) == (5, True)
    roomy = plan_output(16, 0, 100)
    assert (roomy.output_tokens, roomy.hit_limit) == (16, False)
    boundary = plan_output("max", 30, 20)
    assert (boundary.output_tokens, boundary.reasoning_tokens, boundary.visible_tokens) == \
        (20, 20, 0)
    assert plan_output("max", 0, None).output_tokens == MAX_FALLBACK


def test_cache_split_never_exceeds_the_input():
    assert split_cached(10, 3, 2) == (3, 2)
    assert split_cached(10, 30, 5) == (10, 0)
    assert split_cached(10, 8, 5) == (8, 2)


def test_filler_is_capped_and_split_in_order():
    words = filler_words(10)
    assert len(words) == 10
    pieces = split_pieces(words, 3)
    assert len(pieces) == 3 and "".join(pieces) == "".join(words)
    assert len(filler_words(10**6)) == 2048
    assert split_pieces([], 4) == []


_text = st.text(max_size=60)
_part = st.one_of(_text, st.fixed_dictionaries({"type": st.just("text"), "text": _text}))
_message = st.fixed_dictionaries({
    "role": st.sampled_from(["user", "assistant", "system"]),
    "content": st.one_of(_text, st.lists(_part, max_size=4)),
})


@settings(max_examples=300, deadline=None)
@given(messages=st.lists(_message, min_size=1, max_size=6), ascii_only=st.booleans())
def test_input_never_exceeds_body_bytes_without_attachments(messages, ascii_only):
    body = {"model": "m", "messages": messages}
    raw = json.dumps(body, ensure_ascii=True).encode() if ascii_only else orjson.dumps(body)
    for endpoint in ("openai.chat", "anthropic.messages"):
        assert input_tokens(endpoint, orjson.loads(raw)) <= len(raw)
