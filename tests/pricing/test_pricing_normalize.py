"""Provider usage reports -> Usage, on realistic objects of each wire format, streamed and not.

Every sample is first checked against the official SDK type installed in the venv (openai,
anthropic, google-genai), so a renamed or missing field in a provider's format fails here."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from anthropic.types import MessageDeltaUsage, RawMessageDeltaEvent, RawMessageStartEvent
from anthropic.types import Usage as AnthropicUsage
from google.genai import types as genai_types
from openai.types import CompletionUsage, CreateEmbeddingResponse, ImagesResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import ResponseCompletedEvent, ResponseUsage
from pydantic import BaseModel
from pydantic.alias_generators import to_snake

from jackstop.pricing import (
    Catalog,
    Usage,
    UsageError,
    cost_nusd,
    usage_from_anthropic,
    usage_from_gemini,
    usage_from_openai_chat,
    usage_from_openai_images,
    usage_from_openai_responses,
)


def declared(model: type[BaseModel], data: dict[str, Any], *, snake: bool = False) -> dict[str, Any]:
    """Assert every key of `data` is a field the SDK type declares (recursively), then return it."""
    for key, value in data.items():
        name = to_snake(key) if snake else key
        assert name in model.model_fields, f"{model.__name__} has no field {key!r}"
        annotation = model.model_fields[name].annotation
        nested = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(value, dict) and nested:
            declared(nested[0], value, snake=snake)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            inner = [a for a in getattr(annotation, "__args__", ()) for a in getattr(a, "__args__", (a,))
                     if isinstance(a, type) and issubclass(a, BaseModel)]
            for item in value:
                declared(inner[0], item, snake=snake)
    model.model_validate(data)
    return data


# ----------------------------------------------------------------------------- OpenAI

CHAT_USAGE = {
    "prompt_tokens": 2006,
    "completion_tokens": 300,
    "total_tokens": 2306,
    "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0, "cache_write_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 192, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
    },
}


def test_openai_chat_completion() -> None:
    body = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
        "usage": declared(CompletionUsage, copy.deepcopy(CHAT_USAGE)),
    }
    ChatCompletion.model_validate(body)
    usage = usage_from_openai_chat(body["usage"])
    assert usage == Usage(input_tokens=2006, cached_input_tokens=1920, output_tokens=300, reasoning_tokens=192)


def test_openai_chat_stream_final_usage_chunk() -> None:
    # With stream_options.include_usage the last chunk has no choices and carries the usage.
    chunk = {
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
        "choices": [], "usage": copy.deepcopy(CHAT_USAGE),
    }
    parsed = ChatCompletionChunk.model_validate(chunk)
    assert parsed.usage is not None
    assert usage_from_openai_chat(chunk["usage"]) == usage_from_openai_chat(parsed.usage.model_dump())
    assert usage_from_openai_chat(chunk["usage"]).cached_input_tokens == 1920


def test_openai_chat_cache_writes_and_extended_retention() -> None:
    raw = declared(CompletionUsage, {
        "prompt_tokens": 5000, "completion_tokens": 10, "total_tokens": 5010,
        "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 3000},
    })
    assert usage_from_openai_chat(raw).cache_write_tokens == 3000
    extended = usage_from_openai_chat(raw, extended_cache_retention=True)
    assert (extended.cache_write_tokens, extended.cache_write_long_tokens) == (0, 3000)


def test_openai_compatible_providers_send_nulls_and_no_details() -> None:
    raw = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19, "prompt_tokens_details": None,
           "completion_tokens_details": None}
    assert usage_from_openai_chat(raw) == Usage(input_tokens=12, output_tokens=7)


def test_openai_embeddings_and_legacy_completions() -> None:
    emb = {"object": "list", "model": "text-embedding-3-small", "data": [],
           "usage": {"prompt_tokens": 8, "total_tokens": 8}}
    CreateEmbeddingResponse.model_validate(emb)
    assert usage_from_openai_chat(emb["usage"]) == Usage(input_tokens=8)
    legacy = declared(CompletionUsage, {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12})
    assert usage_from_openai_chat(legacy) == Usage(input_tokens=5, output_tokens=7)


def test_openai_audio_prompt_tokens_are_a_part_of_the_uncached_input() -> None:
    raw = declared(CompletionUsage, {
        "prompt_tokens": 100, "completion_tokens": 0, "total_tokens": 100,
        "prompt_tokens_details": {"cached_tokens": 90, "audio_tokens": 40},
    })
    assert usage_from_openai_chat(raw).audio_input_tokens == 10  # capped by what is left uncached


RESPONSES_USAGE = {
    "input_tokens": 12_328,
    "input_tokens_details": {
        "cached_tokens": 8_000,
        "cache_write_tokens": 4_000,
        "cache_write_tokens_details": {"ttl_30m_tokens": 1_000, "ttl_12h_tokens": 3_000},
    },
    "output_tokens": 1_052,
    "output_tokens_details": {"reasoning_tokens": 1_000},
    "total_tokens": 13_380,
}


def test_openai_responses_usage_with_cache_write_split() -> None:
    usage = usage_from_openai_responses(declared(ResponseUsage, copy.deepcopy(RESPONSES_USAGE)))
    assert usage == Usage(
        input_tokens=12_328, cached_input_tokens=8_000, cache_write_tokens=1_000, cache_write_long_tokens=3_000,
        output_tokens=1_052, reasoning_tokens=1_000,
    )
    sol = Catalog.load().lookup("openai", "gpt-6.2-sol")
    assert sol is not None
    # 328 fresh x $2 + 8000 x $0.10 + 1000 x $2.50 + 3000 x $5 + 1052 x $10 per 1M
    assert cost_nusd(usage, sol) == (328 * 2_000_000 + 8000 * 100_000 + 1000 * 2_500_000 + 3000 * 5_000_000 + 1052 * 10_000_000) // 1000


def test_openai_responses_stream_completed_event() -> None:
    event = {
        "type": "response.completed", "sequence_number": 42,
        "response": {
            "id": "resp_1", "object": "response", "created_at": 1, "model": "gpt-6.2-sol", "output": [],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "status": "completed",
            "usage": copy.deepcopy(RESPONSES_USAGE),
        },
    }
    parsed = ResponseCompletedEvent.model_validate(event)
    assert parsed.response.usage is not None
    from_sdk = usage_from_openai_responses(parsed.response.usage.model_dump())
    assert from_sdk == usage_from_openai_responses(event["response"]["usage"])


def test_openai_responses_unsplit_writes_follow_the_requested_retention() -> None:
    raw = {"input_tokens": 100, "output_tokens": 0, "total_tokens": 100,
           "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 60}, "output_tokens_details": {"reasoning_tokens": 0}}
    declared(ResponseUsage, raw)
    assert usage_from_openai_responses(raw).cache_write_tokens == 60
    assert usage_from_openai_responses(raw, extended_cache_retention=True).cache_write_long_tokens == 60


def test_openai_image_generation_usage() -> None:
    body = {
        "created": 1, "data": [{"b64_json": "AAAA"}], "quality": "high", "size": "1024x1024",
        "usage": {"input_tokens": 50, "input_tokens_details": {"image_tokens": 0, "text_tokens": 50},
                  "output_tokens": 4160, "total_tokens": 4210},
    }
    ImagesResponse.model_validate(body)
    usage = usage_from_openai_images(body["usage"], images=1, size="1024x1024", quality="high")
    assert usage == Usage(input_tokens=50, output_tokens=4160, images=1, image_size="1024x1024", image_quality="high")
    assert usage_from_openai_images(None, images=2) == Usage(images=2)


# -------------------------------------------------------------------------- Anthropic

MESSAGE_USAGE = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 2048,
    "cache_read_input_tokens": 10_000,
    "cache_creation": {"ephemeral_5m_input_tokens": 1024, "ephemeral_1h_input_tokens": 1024},
    "output_tokens": 503,
    "output_tokens_details": {"thinking_tokens": 300},
    "service_tier": "standard",
    "server_tool_use": None,
}
EXPECTED_MESSAGE = Usage(
    input_tokens=12 + 2048 + 10_000, cached_input_tokens=10_000, cache_write_tokens=1024,
    cache_write_long_tokens=1024, output_tokens=503, reasoning_tokens=300,
)


def test_anthropic_message_usage_counts_cache_reads_and_writes_as_input() -> None:
    assert usage_from_anthropic(declared(AnthropicUsage, copy.deepcopy(MESSAGE_USAGE))) == EXPECTED_MESSAGE


def test_anthropic_stream_merges_message_start_and_cumulative_message_delta() -> None:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5",
            "stop_reason": None, "stop_sequence": None,
            "usage": {**copy.deepcopy(MESSAGE_USAGE), "output_tokens": 1, "output_tokens_details": None},
        },
    }
    delta = {
        "type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": declared(MessageDeltaUsage, {"output_tokens": 503, "output_tokens_details": {"thinking_tokens": 300},
                                              "input_tokens": None, "cache_read_input_tokens": None}),
    }
    RawMessageStartEvent.model_validate(start)
    RawMessageDeltaEvent.model_validate(delta)
    usage = usage_from_anthropic(start["message"]["usage"], delta["usage"])
    assert usage == EXPECTED_MESSAGE
    # a stream cut before message_delta still bills the prompt it already reported
    assert usage_from_anthropic(start["message"]["usage"]).input_tokens == 12_060


def test_anthropic_writes_without_ttl_split_are_five_minute_writes() -> None:
    raw = declared(AnthropicUsage, {"input_tokens": 5, "cache_creation_input_tokens": 700, "output_tokens": 1})
    assert usage_from_anthropic(raw) == Usage(input_tokens=705, cache_write_tokens=700, output_tokens=1)


def test_anthropic_cost_of_a_cached_stream_on_haiku_4_5() -> None:
    haiku = Catalog.load().lookup("anthropic", "claude-haiku-4-5-20251001")
    assert haiku is not None
    usage = usage_from_anthropic(MESSAGE_USAGE)
    # 12 x $1 + 10000 x $0.10 + 1024 x $1.25 + 1024 x $2 + 503 x $5 per 1M = $0.006855
    assert cost_nusd(usage, haiku) == 6_855_000


# ----------------------------------------------------------------------------- Gemini

GEMINI_USAGE = {
    "promptTokenCount": 1200,
    "candidatesTokenCount": 80,
    "thoughtsTokenCount": 400,
    "cachedContentTokenCount": 1000,
    "totalTokenCount": 1680,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1000}, {"modality": "AUDIO", "tokenCount": 200}],
    "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 1000}],
}


def test_gemini_thoughts_are_output_and_cached_content_is_part_of_the_prompt() -> None:
    raw = declared(genai_types.GenerateContentResponseUsageMetadata, copy.deepcopy(GEMINI_USAGE), snake=True)
    assert usage_from_gemini(raw) == Usage(
        input_tokens=1200, cached_input_tokens=1000, audio_input_tokens=200, output_tokens=480, reasoning_tokens=400,
    )


def test_gemini_sdk_snake_case_dump_gives_the_same_usage() -> None:
    parsed = genai_types.GenerateContentResponseUsageMetadata.model_validate(GEMINI_USAGE)
    snake = parsed.model_dump(exclude_none=True, mode="json")
    assert "prompt_token_count" in snake
    assert usage_from_gemini(snake) == usage_from_gemini(GEMINI_USAGE)


def test_gemini_stream_chunks_and_tool_use_prompt_tokens() -> None:
    first = {"promptTokenCount": 1200, "totalTokenCount": 1200}
    last = {**GEMINI_USAGE, "toolUsePromptTokenCount": 50, "totalTokenCount": 1730}
    for chunk in (first, last):
        genai_types.GenerateContentResponse.model_validate({"candidates": [], "usageMetadata": chunk})
    assert usage_from_gemini(first) == Usage(input_tokens=1200)
    final = usage_from_gemini(last)
    assert (final.input_tokens, final.output_tokens) == (1250, 480)
    pro = Catalog.load().lookup("gemini", "models/gemini-2.5-pro")
    assert pro is not None
    assert cost_nusd(final, pro) == (1250 * 1_250_000 + 480 * 10_000_000) // 1000


def test_gemini_cached_audio_is_not_billed_as_fresh_audio() -> None:
    raw = {"promptTokenCount": 500, "cachedContentTokenCount": 300, "candidatesTokenCount": 1,
           "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 400}, {"modality": "TEXT", "tokenCount": 100}],
           "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 300}]}
    declared(genai_types.GenerateContentResponseUsageMetadata, raw, snake=True)
    assert usage_from_gemini(raw).audio_input_tokens == 100


# ------------------------------------------------------------------------ bad reports


@pytest.mark.parametrize(
    ("fn", "raw", "message"),
    [
        (usage_from_openai_chat, {"completion_tokens": 1}, "no prompt_tokens"),
        (usage_from_openai_chat, {"prompt_tokens": -3}, "non-negative integer"),
        (usage_from_openai_chat, {"prompt_tokens": "12"}, "non-negative integer"),
        (usage_from_openai_chat, {"prompt_tokens": 12.5}, "non-negative integer"),
        (usage_from_openai_chat, {"prompt_tokens": True}, "non-negative integer"),
        (usage_from_openai_chat, {"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 11}}, "inconsistent"),
        (usage_from_openai_chat, {"prompt_tokens": 10, "prompt_tokens_details": [1]}, "JSON object"),
        (usage_from_openai_responses, {"output_tokens": 3}, "no input_tokens"),
        (usage_from_openai_responses,
         {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 6}}, "inconsistent"),
        (usage_from_anthropic, {"input_tokens": 1, "output_tokens": -1}, "non-negative integer"),
        (usage_from_gemini, {"candidatesTokenCount": 5}, "no promptTokenCount"),
        (usage_from_gemini, {"promptTokenCount": 5, "cachedContentTokenCount": 6}, "inconsistent"),
        (usage_from_gemini, {"promptTokenCount": 5, "promptTokensDetails": {"modality": "AUDIO"}}, "must be a list"),
        (usage_from_openai_chat, None, "JSON object"),
    ],
)
def test_malformed_reports_raise_usage_error(fn: Any, raw: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        fn(raw)


def test_anthropic_needs_at_least_one_report() -> None:
    with pytest.raises(UsageError, match="no Anthropic usage report"):
        usage_from_anthropic()
