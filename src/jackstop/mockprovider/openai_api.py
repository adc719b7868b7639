"""The OpenAI wire format: chat completions, responses, completions, embeddings, images, models.

Shapes follow the OpenAI API reference and the `openai` SDK's own types
(openai/types/chat/chat_completion_chunk.py, responses/response_*_event.py, ...).
"""

from __future__ import annotations

import base64
import random
import struct
import zlib
from typing import Any, Callable

from jackstop.mockprovider.tokens import (
    Usage,
    count_tokens,
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
    now,
    phrase,
    require,
    sse_event,
)

FAMILY = "openai"
SSE_TYPE = "text/event-stream; charset=utf-8"
FINGERPRINT = "fp_mock0001"

_KEY_PAGE = "https://platform.openai.com/account/api-keys"
_STATUS_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", None, "Incorrect API key provided."),
    403: ("request_forbidden", "unsupported_country_region_territory",
          "Country, region, or territory not supported"),
    404: ("invalid_request_error", None, "The requested resource was not found."),
    429: ("requests", "rate_limit_exceeded",
          "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", None,
          "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The server is overloaded or not ready yet."),
}


# -- credentials and errors -------------------------------------------------------------

def pick_credential(credentials: dict[str, str]) -> tuple[str, str] | None:
    """OpenAI reads only `Authorization: Bearer`."""
    value = credentials.get("authorization")
    return ("authorization", value) if value else None


def error(status: int, message: str | None = None, *, param: str | None = None,
          code: str | None = None, kind: str | None = None,
          retry_after: int | None = None) -> Reply:
    default_kind, default_code, default_message = _STATUS_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None,
                 phrase(status))
    )
    body = {"error": {
        "message": message or default_message,
        "type": kind or default_kind,
        "param": param,
        "code": code if code is not None else default_code,
    }}
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    return json_reply(body, status=status, headers=headers)


def stream_error(endpoint: str, framing: str | None, index: int) -> bytes:
    """The error a stream carries when the server fails mid-way (then the stream ends)."""
    message = _STATUS_ERRORS[500][2]
    if endpoint == "openai.responses":
        return sse_event({"type": "error", "code": "server_error", "message": message,
                          "param": None, "sequence_number": index}, "error")
    return sse_event({"error": {"message": message, "type": "server_error", "param": None,
                                "code": None}})


def _mask(key: str) -> str:
    return "*" * len(key) if len(key) < 12 else f"{key[:3]}{'*' * 10}{key[-4:]}"


def auth_error(presented: str | None, place: str | None = None) -> Reply:
    if not presented:
        return error(401, (
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or "
            "as the password field (with blank username) if you're accessing the API from your "
            f"browser and are prompted for a username and password. You can obtain an API key "
            f"from {_KEY_PAGE}."))
    return error(401, f"Incorrect API key provided: {_mask(presented)}. You can find your API "
                      f"key at {_KEY_PAGE}.", code="invalid_api_key")


def not_found(method: str, path: str) -> Reply:
    return error(404, f"Invalid URL ({method} {path})")


def model_not_found(model: str) -> Reply:
    return error(404, f"The model `{model}` does not exist or you do not have access to it.",
                 code="model_not_found")


def invalid_json() -> BadRequest:
    return BadRequest(
        "We could not parse the JSON body of your request. (HINT: This likely means you "
        "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but "
        "what was sent was not valid JSON. If you have trouble figuring out how to fix this, "
        "please contact us through our help center at help.openai.com.)")


# -- chat completions -------------------------------------------------------------------

def _chat_usage(u: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": u.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _include_stream_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def chat(call: Call) -> Reply:
    body = call.body
    model = require(body, "model")
    messages = require(body, "messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("Invalid 'messages': expected a non-empty array.", param="messages")
    n = int_param(body, "n") or 1
    # Both spellings are accepted; given both, the larger is billed (the most the API could read).
    limits = [v for v in (int_param(body, "max_completion_tokens"), int_param(body, "max_tokens")) if v is not None]
    limit = max(limits) if limits else None
    gen = plan_output(call.policy.output_tokens, call.policy.reasoning_tokens, limit)
    prompt = input_tokens("openai.chat", body)
    cached, _ = split_cached(prompt, call.policy.cached_tokens, 0)
    usage = Usage(prompt, gen.output_tokens * n, gen.reasoning_tokens * n, cached)
    words = filler_words(gen.visible_tokens)
    finish = "length" if gen.hit_limit else "stop"
    cid, created = new_id("chatcmpl-"), now()
    if body.get("stream") is not True:
        out: dict[str, Any] = {
            "id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{
                "index": i,
                "message": {"role": "assistant", "content": "".join(words), "refusal": None,
                            "annotations": []},
                "logprobs": None,
                "finish_reason": finish,
            } for i in range(n)],
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }
        if call.include_usage:
            out["usage"] = _chat_usage(usage)
        return json_reply(out, usage=usage if call.include_usage else None)

    with_usage = _include_stream_usage(body)

    def chunk(choices: list[dict[str, Any]], usage_value: Any = None) -> bytes:
        data: dict[str, Any] = {
            "id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "service_tier": "default", "system_fingerprint": FINGERPRINT, "choices": choices,
        }
        if with_usage:
            data["usage"] = usage_value
        return sse_event(data)

    def choice(i: int, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"index": i, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    events = [chunk([choice(i, {"role": "assistant", "content": "", "refusal": None})])
              for i in range(n)]
    for piece in split_pieces(words, call.policy.stream_deltas):
        events.extend(chunk([choice(i, {"content": piece})]) for i in range(n))
    events.extend(chunk([choice(i, {}, finish)]) for i in range(n))
    reported = None
    if with_usage and call.include_usage:
        events.append(chunk([], _chat_usage(usage)))
        reported = usage
    events.append(b"data: [DONE]\n\n")
    return Reply(events=events, framing="sse", content_type=SSE_TYPE, usage=reported)


# -- responses --------------------------------------------------------------------------

def _responses_usage(u: Usage) -> dict[str, Any]:
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.total_tokens,
    }


def responses(call: Call) -> Reply:
    body = call.body
    model = require(body, "model")
    if body.get("input") is None and body.get("prompt") is None:
        raise BadRequest("Missing required parameter: 'input'.", param="input",
                         code="missing_required_parameter")
    limit = int_param(body, "max_output_tokens", minimum=16)
    gen = plan_output(call.policy.output_tokens, call.policy.reasoning_tokens, limit)
    prompt = input_tokens("openai.responses", body)
    cached, _ = split_cached(prompt, call.policy.cached_tokens, 0)
    usage = Usage(prompt, gen.output_tokens, gen.reasoning_tokens, cached)
    text = "".join(words := filler_words(gen.visible_tokens))
    status = "incomplete" if gen.hit_limit else "completed"
    rid, created = new_id("resp_"), now()
    msg_id = new_id("msg_")

    def response(state: str, output: list[dict[str, Any]], with_usage: bool) -> dict[str, Any]:
        return {
            "id": rid, "object": "response", "created_at": created, "status": state,
            "background": False, "completed_at": now() if state == "completed" else None,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if state == "incomplete"
            else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": limit, "max_tool_calls": None, "model": model,
            "output": output, "parallel_tool_calls": True,
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": (body.get("reasoning") or {}).get("effort"), "summary": None},
            "service_tier": "default", "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools", []),
            "top_p": body.get("top_p", 1.0), "truncation": "disabled",
            "usage": _responses_usage(usage) if with_usage else None,
            "user": None, "metadata": body.get("metadata") or {},
        }

    reasoning_item = {"id": new_id("rs_"), "type": "reasoning", "summary": []}
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def message(state: str, content: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": msg_id, "type": "message", "status": state, "role": "assistant",
                "content": content}

    final_output = ([reasoning_item] if gen.reasoning_tokens else []) + [
        message("incomplete" if gen.hit_limit else "completed", [part])]
    if body.get("stream") is not True:
        return json_reply(response(status, final_output, call.include_usage),
                          usage=usage if call.include_usage else None)

    seq = 0
    events: list[bytes] = []

    def emit(kind: str, **fields: Any) -> None:
        nonlocal seq
        events.append(sse_event({"type": kind, "sequence_number": seq, **fields}, kind))
        seq += 1

    emit("response.created", response=response("in_progress", [], False))
    emit("response.in_progress", response=response("in_progress", [], False))
    index = 0
    if gen.reasoning_tokens:
        emit("response.output_item.added", output_index=0, item=reasoning_item)
        emit("response.output_item.done", output_index=0, item=reasoning_item)
        index = 1
    emit("response.output_item.added", output_index=index, item=message("in_progress", []))
    emit("response.content_part.added", item_id=msg_id, output_index=index, content_index=0,
         part={**part, "text": ""})
    for piece in split_pieces(words, call.policy.stream_deltas):
        emit("response.output_text.delta", item_id=msg_id, output_index=index, content_index=0,
             delta=piece, logprobs=[])
    emit("response.output_text.done", item_id=msg_id, output_index=index, content_index=0,
         text=text, logprobs=[])
    emit("response.content_part.done", item_id=msg_id, output_index=index, content_index=0,
         part=part)
    emit("response.output_item.done", output_index=index, item=final_output[-1])
    emit(f"response.{status}", response=response(status, final_output, call.include_usage))
    return Reply(events=events, framing="sse", content_type=SSE_TYPE,
                 usage=usage if call.include_usage else None)


# -- legacy completions -----------------------------------------------------------------

def _prompts(prompt: Any) -> list[Any]:
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(x, int) for x in prompt):
        return [prompt]
    if isinstance(prompt, list) and prompt:
        return prompt
    raise BadRequest("Invalid 'prompt': expected a string, an array of strings or of tokens.",
                     param="prompt")


def completions(call: Call) -> Reply:
    body = call.body
    model = require(body, "model")
    prompts = _prompts(require(body, "prompt"))
    n = int_param(body, "n") or 1
    limit = int_param(body, "max_tokens", minimum=0)
    limit = 16 if limit is None else limit  # the legacy API's own default
    gen = plan_output(call.policy.output_tokens, call.policy.reasoning_tokens, limit)
    choices = len(prompts) * n
    prompt = input_tokens("openai.completions", body)
    usage = Usage(prompt, gen.output_tokens * choices, gen.reasoning_tokens * choices)
    words = filler_words(gen.visible_tokens)
    finish = "length" if gen.hit_limit else "stop"
    cid, created = new_id("cmpl-"), now()
    usage_json = {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
                  "total_tokens": usage.total_tokens}
    if body.get("stream") is not True:
        out: dict[str, Any] = {
            "id": cid, "object": "text_completion", "created": created, "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": [{"text": "".join(words), "index": i, "logprobs": None,
                         "finish_reason": finish} for i in range(choices)],
        }
        if call.include_usage:
            out["usage"] = usage_json
        return json_reply(out, usage=usage if call.include_usage else None)

    with_usage = _include_stream_usage(body)

    def chunk(choice_list: list[dict[str, Any]], usage_value: Any = None) -> bytes:
        data: dict[str, Any] = {"id": cid, "object": "text_completion", "created": created,
                                "model": model, "system_fingerprint": FINGERPRINT,
                                "choices": choice_list}
        if with_usage:
            data["usage"] = usage_value
        return sse_event(data)

    events = []
    for piece in split_pieces(words, call.policy.stream_deltas):
        events.extend(chunk([{"text": piece, "index": i, "logprobs": None,
                              "finish_reason": None}]) for i in range(choices))
    events.extend(chunk([{"text": "", "index": i, "logprobs": None, "finish_reason": finish}])
                  for i in range(choices))
    reported = None
    if with_usage and call.include_usage:
        events.append(chunk([], usage_json))
        reported = usage
    events.append(b"data: [DONE]\n\n")
    return Reply(events=events, framing="sse", content_type=SSE_TYPE, usage=reported)


# -- embeddings -------------------------------------------------------------------------

def vector(seed_text: str, dims: int) -> list[float]:
    """A deterministic pseudo-embedding for an input."""
    rng = random.Random(zlib.crc32(seed_text.encode("utf-8")))
    return [round(rng.uniform(-1.0, 1.0), 6) for _ in range(dims)]


def embeddings(call: Call) -> Reply:
    body = call.body
    model = require(body, "model")
    raw = require(body, "input")
    inputs = _prompts(raw) if not isinstance(raw, str) else [raw]
    dims = int_param(body, "dimensions") or (3072 if "large" in str(model) else 1536)
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        raise BadRequest("Invalid 'encoding_format': expected 'float' or 'base64'.",
                         param="encoding_format")
    data = []
    for i, item in enumerate(inputs):
        values = vector(str(item), dims)
        encoded: Any = values
        if fmt == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dims}f", *values)).decode()
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    usage = Usage(count_tokens(raw))
    out: dict[str, Any] = {"object": "list", "data": data, "model": model}
    if call.include_usage:
        out["usage"] = {"prompt_tokens": usage.input_tokens, "total_tokens": usage.input_tokens}
    return json_reply(out, usage=usage if call.include_usage else None)


# -- images -----------------------------------------------------------------------------

# Output tokens per image of the GPT Image models (the published gpt-image-1 table).
IMAGE_TOKENS = {
    ("1024x1024", "low"): 272, ("1024x1024", "medium"): 1056, ("1024x1024", "high"): 4160,
    ("1024x1536", "low"): 408, ("1024x1536", "medium"): 1584, ("1024x1536", "high"): 6240,
    ("1536x1024", "low"): 408, ("1536x1024", "medium"): 1584, ("1536x1024", "high"): 6240,
}
# A valid 1x1 transparent PNG: the picture every mock image shows.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def image_tokens(size: str, quality: str) -> int:
    """Output tokens of one GPT Image picture: the table, else scaled by area (auto=medium)."""
    quality = "medium" if quality in ("auto", "standard", "hd") else quality
    size = "1024x1024" if size == "auto" else size
    if (size, quality) in IMAGE_TOKENS:
        return IMAGE_TOKENS[(size, quality)]
    base = IMAGE_TOKENS.get(("1024x1024", quality), IMAGE_TOKENS[("1024x1024", "high")])
    try:
        width, height = (int(x) for x in size.split("x"))
    except ValueError:
        raise BadRequest(f"Invalid 'size': '{size}'.", param="size") from None
    return -(-base * width * height // (1024 * 1024))


def images(call: Call) -> Reply:
    body = call.body
    model = str(require(body, "model"))
    prompt = require(body, "prompt")
    n = int_param(body, "n") or 1
    size = str(body.get("size") or "auto")
    quality = str(body.get("quality") or "auto")
    b64 = base64.b64encode(PNG_1X1).decode()
    gpt_image = model.startswith(("gpt-image", "chatgpt-image"))
    out: dict[str, Any] = {"created": now()}
    if gpt_image:
        out["data"] = [{"b64_json": b64} for _ in range(n)]
        text = count_tokens(prompt)
        usage = Usage(text, image_tokens(size, quality) * n)
        out.update({"background": "opaque", "output_format": body.get("output_format", "png"),
                    "quality": "medium" if quality == "auto" else quality,
                    "size": "1024x1024" if size == "auto" else size})
        if call.include_usage:
            out["usage"] = {
                "input_tokens": usage.input_tokens,
                "input_tokens_details": {"text_tokens": usage.input_tokens, "image_tokens": 0},
                "output_tokens": usage.output_tokens,
                "output_tokens_details": {"image_tokens": usage.output_tokens, "text_tokens": 0},
                "total_tokens": usage.total_tokens,
            }
        return json_reply(out, usage=usage if call.include_usage else None)
    # DALL-E models: no token usage; a URL unless b64_json was asked for.
    if body.get("response_format") == "b64_json":
        out["data"] = [{"b64_json": b64, "revised_prompt": prompt} for _ in range(n)]
    else:
        out["data"] = [{"url": f"https://mock-provider.invalid/images/{new_id('img-')}.png",
                        "revised_prompt": prompt} for _ in range(n)]
    return json_reply(out)


# -- models -----------------------------------------------------------------------------

def models(call: Call) -> Reply:
    return json_reply({"object": "list", "data": [
        {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "openai"}
        for m in call.models
    ]})


HANDLERS: dict[str, Callable[[Call], Reply]] = {
    "openai.chat": chat,
    "openai.responses": responses,
    "openai.completions": completions,
    "openai.embeddings": embeddings,
    "openai.images": images,
    "openai.models": models,
}
ROUTES = {
    ("POST", "/v1/chat/completions"): "openai.chat",
    ("POST", "/v1/responses"): "openai.responses",
    ("POST", "/v1/completions"): "openai.completions",
    ("POST", "/v1/embeddings"): "openai.embeddings",
    ("POST", "/v1/images/generations"): "openai.images",
    ("GET", "/v1/models"): "openai.models",
}
