"""The Anthropic wire format: messages (JSON and SSE), count_tokens, models.

Shapes follow the Anthropic API reference (messages, streaming, errors) and the
`anthropic` SDK's types (types/raw_message_*_event.py, usage.py, message_delta_usage.py).
"""

from __future__ import annotations

from typing import Any, Callable

from jackstop.mockprovider.tokens import (
    Usage,
    filler_words,
    input_tokens,
    plan_output,
    split_cached,
    split_pieces,
)
from jackstop.mockprovider.wire import (
    BadRequest,
    Call,
    Reply,
    int_param,
    json_reply,
    new_id,
    phrase,
    sse_event,
)

FAMILY = "anthropic"
SSE_TYPE = "text/event-stream; charset=utf-8"

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_MESSAGES = {
    429: "This request would exceed the rate limit for your organization of 50 requests per "
         "minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
    500: "Internal server error",
    503: "Service unavailable",
    529: "Overloaded",
}


def pick_credential(credentials: dict[str, str]) -> tuple[str, str] | None:
    """x-api-key when present, else `Authorization: Bearer` (what today's SDK sends)."""
    for place in ("x-api-key", "authorization"):
        if credentials.get(place):
            return place, credentials[place]
    return None


def error(status: int, message: str | None = None, *, param: str | None = None,
          code: str | None = None, kind: str | None = None,
          retry_after: int | None = None) -> Reply:
    kind = kind or _ERROR_TYPES.get(status, "api_error" if status >= 500 else
                                    "invalid_request_error")
    body = {"type": "error",
            "error": {"type": kind, "message": message or _MESSAGES.get(status, phrase(status))},
            "request_id": new_id("req_")}
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    return json_reply(body, status=status, headers=headers)


def stream_error(endpoint: str, framing: str | None, index: int) -> bytes:
    """Anthropic's in-stream error event (the streaming form of a 529)."""
    return sse_event({"type": "error", "error": {"type": "overloaded_error",
                                                 "message": "Overloaded"},
                      "request_id": new_id("req_")}, "error")


def auth_error(presented: str | None, place: str | None = None) -> Reply:
    if not presented:
        return error(401, "x-api-key header is required")
    if place == "authorization":
        return error(401, "Invalid bearer token")
    return error(401, "invalid x-api-key")


def not_found(method: str, path: str) -> Reply:
    return error(404, "Not Found")


def model_not_found(model: str) -> Reply:
    return error(404, f"model: {model}")


def invalid_json() -> BadRequest:
    return BadRequest("There was an issue with the format or content of your request. The "
                      "request body is not valid JSON.")


def _missing(body: dict[str, Any], *names: str) -> None:
    for name in names:
        if body.get(name) is None:
            raise BadRequest(f"{name}: Field required", param=name)


def missing_version() -> BadRequest:
    return BadRequest("anthropic-version: header is required")


# Server-side compaction (context_management.edits[].type "compact_20260112", docs.claude.com
# "Compaction"): when the prompt reaches the trigger (default 150,000 input tokens, at least
# 50,000), the model first summarises the conversation in an extra sampling step, then answers
# from the summary. Both steps are billed; the top-level usage counts only the answering step,
# and `usage.iterations` lists both (the docs' example: a 180,000-in / 3,500-out compaction
# iteration beside a top-level 23,000 in / 1,000 out).
_COMPACT_DEFAULT_TRIGGER = 150_000


def compaction_step(body: dict[str, Any], prompt: int) -> tuple[int, int] | None:
    """(input, output) of the summarising iteration, when this request compacts."""
    cm = body.get("context_management")
    edits = cm.get("edits") if isinstance(cm, dict) else None
    for edit in edits if isinstance(edits, list) else []:
        if isinstance(edit, dict) and str(edit.get("type", "")).startswith("compact_"):
            trigger = edit.get("trigger")
            value = trigger.get("value") if isinstance(trigger, dict) else None
            threshold = value if isinstance(value, int) and value >= 50_000 else _COMPACT_DEFAULT_TRIGGER
            if prompt >= threshold:
                return prompt, max(1, prompt // 50)
    return None


def _usage_json(u: Usage, *, output: int, compaction: tuple[int, int] | None = None) -> dict[str, Any]:
    """Anthropic usage: input_tokens excludes cache reads and writes (its own convention).
    With a compaction step, `u` holds the billed total; the top level shows the answering step only."""
    if compaction is not None:
        answer = Usage(u.input_tokens - compaction[0], u.output_tokens - compaction[1], u.reasoning_tokens,
                       u.cached_tokens, u.cache_write_tokens)
        out = _usage_json(answer, output=max(0, output - compaction[1]))
        out["iterations"] = [{"type": "compaction", "input_tokens": compaction[0], "output_tokens": compaction[1]},
                             {"type": "message", "input_tokens": out["input_tokens"],
                              "output_tokens": out["output_tokens"]}]
        return out
    out: dict[str, Any] = {
        "input_tokens": u.input_tokens - u.cached_tokens - u.cache_write_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": u.cache_write_tokens,
                           "ephemeral_1h_input_tokens": 0},
        "output_tokens": output,
        "service_tier": "standard",
    }
    if u.reasoning_tokens and output == u.output_tokens:  # only once the output is final
        out["output_tokens_details"] = {"thinking_tokens": u.reasoning_tokens}
    return out


_DELTA_USAGE_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
                     "output_tokens", "output_tokens_details", "iterations")


def messages(call: Call) -> Reply:
    body = call.body
    _missing(body, "model", "max_tokens", "messages")
    model = body["model"]
    limit = int_param(body, "max_tokens", label="max_tokens")
    gen = plan_output(call.policy.output_tokens, call.policy.reasoning_tokens, limit)
    prompt = input_tokens("anthropic.messages", body)
    read, write = split_cached(prompt, call.policy.cached_tokens, call.policy.cache_write_tokens)
    usage = Usage(prompt, gen.output_tokens, gen.reasoning_tokens, read, write)
    compaction = compaction_step(body, prompt)
    if compaction is not None:  # the answer reads the summary, not the whole prompt; both are billed
        summary = compaction[1]
        usage = Usage(compaction[0] + summary, gen.output_tokens + summary, gen.reasoning_tokens, 0, 0)
    words = filler_words(gen.visible_tokens)
    thinking_words = filler_words(min(gen.reasoning_tokens, 32))
    signature = new_id("mocksig_")
    stop = "max_tokens" if gen.hit_limit else "end_turn"
    mid = new_id("msg_")
    blocks: list[dict[str, Any]] = []
    if gen.reasoning_tokens:
        blocks.append({"type": "thinking", "thinking": "".join(thinking_words),
                       "signature": signature})
    blocks.append({"type": "text", "text": "".join(words)})

    def message(content: list[dict[str, Any]], stop_reason: str | None,
                output: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": mid, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
        }
        if call.include_usage:
            out["usage"] = _usage_json(usage, output=output, compaction=compaction)
        return out

    reported = usage if call.include_usage else None
    if body.get("stream") is not True:
        return json_reply(message(blocks, stop, usage.output_tokens), usage=reported)

    events = [sse_event({"type": "message_start",
                         "message": message([], None, min(1, usage.output_tokens))},
                        "message_start")]
    pieces = {"thinking": split_pieces(thinking_words, call.policy.stream_deltas),
              "text": split_pieces(words, call.policy.stream_deltas)}
    for index, block in enumerate(blocks):
        kind = block["type"]
        empty = {"type": "thinking", "thinking": "", "signature": ""} if kind == "thinking" \
            else {"type": "text", "text": ""}
        events.append(sse_event({"type": "content_block_start", "index": index,
                                 "content_block": empty}, "content_block_start"))
        if index == 0:
            events.append(sse_event({"type": "ping"}, "ping"))
        for piece in pieces[kind]:
            delta = {"type": "thinking_delta", "thinking": piece} if kind == "thinking" \
                else {"type": "text_delta", "text": piece}
            events.append(sse_event({"type": "content_block_delta", "index": index,
                                     "delta": delta}, "content_block_delta"))
        if kind == "thinking":
            events.append(sse_event({"type": "content_block_delta", "index": index, "delta": {
                "type": "signature_delta", "signature": signature}}, "content_block_delta"))
        events.append(sse_event({"type": "content_block_stop", "index": index},
                                "content_block_stop"))
    delta: dict[str, Any] = {"type": "message_delta",
                             "delta": {"stop_reason": stop, "stop_sequence": None}}
    if call.include_usage:
        # Cumulative: the final output count, with the input counts repeated.
        full = _usage_json(usage, output=usage.output_tokens, compaction=compaction)
        delta["usage"] = {k: full[k] for k in _DELTA_USAGE_KEYS if k in full}
    events.append(sse_event(delta, "message_delta"))
    events.append(sse_event({"type": "message_stop"}, "message_stop"))
    return Reply(events=events, framing="sse", content_type=SSE_TYPE, usage=reported)


def count_tokens(call: Call) -> Reply:
    _missing(call.body, "model", "messages")
    return json_reply({"input_tokens": input_tokens("anthropic.count_tokens", call.body)})


def models(call: Call) -> Reply:
    data = [{"type": "model", "id": m, "display_name": m.replace("-", " ").title(),
             "created_at": "2025-01-01T00:00:00Z"} for m in call.models]
    return json_reply({"data": data, "has_more": False,
                       "first_id": data[0]["id"] if data else None,
                       "last_id": data[-1]["id"] if data else None})


HANDLERS: dict[str, Callable[[Call], Reply]] = {
    "anthropic.messages": messages,
    "anthropic.count_tokens": count_tokens,
    "anthropic.models": models,
}
ROUTES = {
    ("POST", "/v1/messages"): "anthropic.messages",
    ("POST", "/v1/messages/count_tokens"): "anthropic.count_tokens",
    ("GET", "/v1/models"): "anthropic.models",
}
