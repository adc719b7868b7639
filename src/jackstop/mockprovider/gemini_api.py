"""The Gemini (Generative Language API) wire format, under /v1/ and /v1beta/.

generateContent, streamGenerateContent (SSE with alt=sse, else a streamed JSON array),
countTokens, embedContent, batchEmbedContents, models.list. Shapes follow the Gemini API
reference and the google-genai SDK's converters (models.py `_*_from_mldev`). JSON uses
camelCase and, like the real API, leaves zero-valued usage counts out.
"""

from __future__ import annotations

import base64
from typing import Any, Callable

import orjson

from jackstop.mockprovider.openai_api import vector
from jackstop.mockprovider.tokens import (
    Usage,
    count_tokens as count_value,
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
)

FAMILY = "gemini"
SSE_TYPE = "text/event-stream"
JSON_TYPE = "application/json; charset=UTF-8"

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    429: "You exceeded your current quota, please check your plan and billing details. For "
         "more information on this error, head to: https://ai.google.dev/gemini-api/docs/"
         "rate-limits.",
    500: "An internal error has occurred. Please retry or report in "
         "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    529: "The model is overloaded. Please try again later.",
}
_DEBUG_SERVICE = {"service": "generativelanguage.googleapis.com"}


def pick_credential(credentials: dict[str, str]) -> tuple[str, str] | None:
    """x-goog-api-key header, else the `key` query parameter."""
    for place in ("x-goog-api-key", "query:key"):
        if credentials.get(place):
            return place, credentials[place]
    return None


def error(status: int, message: str | None = None, *, param: str | None = None,
          code: str | None = None, kind: str | None = None, retry_after: int | None = None,
          details: list[dict[str, Any]] | None = None) -> Reply:
    body: dict[str, Any] = {"error": {
        "code": status,
        "message": message or _MESSAGES.get(status, phrase(status)),
        "status": kind or _STATUS_NAMES.get(status, "UNAVAILABLE" if status >= 500 else
                                           "FAILED_PRECONDITION"),
    }}
    if retry_after is not None and status == 429:
        details = (details or []) + [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                      "retryDelay": f"{retry_after}s"}]
    if details:
        body["error"]["details"] = details
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    reply = json_reply(body, status=status, headers=headers)
    reply.content_type = JSON_TYPE
    return reply


def auth_error(presented: str | None, place: str | None = None) -> Reply:
    if not presented:
        return error(403, "Method doesn't allow unregistered callers (callers without "
                          "established identity). Please use API Key or other form of API "
                          "consumer identity to call this API.")
    return error(400, "API key not valid. Please pass a valid API key.", details=[
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
         "domain": "googleapis.com", "metadata": _DEBUG_SERVICE},
        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
         "message": "API key not valid. Please pass a valid API key."},
    ])


def not_found(method: str, path: str) -> Reply:
    return error(404, f"Requested entity was not found: {method} {path}")


def model_not_found(model: str) -> Reply:
    return error(404, f"models/{model} is not found for API version v1beta, or is not "
                      "supported for generateContent. Call ListModels to see the list of "
                      "available models and their supported methods.")


def invalid_json() -> BadRequest:
    return BadRequest("Invalid JSON payload received. Unexpected token.")


def stream_error(endpoint: str, framing: str | None, index: int) -> bytes:
    """An error element in a stream: an SSE event, or the array's next (and last) element."""
    body = orjson.dumps({"error": {"code": 503, "message": _MESSAGES[503],
                                   "status": "UNAVAILABLE"}})
    if framing == "sse":
        return b"data: " + body + b"\r\n\r\n"
    return (b"[" if index == 0 else b",\r\n") + body + b"]"


def as_stream_array(reply: Reply) -> Reply:
    """Without alt=sse the streaming endpoint wraps even its errors in a JSON array."""
    reply.body = b"[" + reply.body + b"]"
    return reply


# -- generateContent / streamGenerateContent --------------------------------------------

def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("generationConfig", body.get("generation_config")) or {}
    if not isinstance(config, dict):
        raise BadRequest("Invalid value at 'generation_config': expected an object.")
    return config


def _usage_json(u: Usage, *, final: bool = True) -> dict[str, Any]:
    """usageMetadata; intermediate stream chunks carry the prompt count only."""
    out: dict[str, Any] = {"promptTokenCount": u.input_tokens}
    visible = u.output_tokens - u.reasoning_tokens
    if final and visible:
        out["candidatesTokenCount"] = visible
    out["totalTokenCount"] = u.total_tokens if final else u.input_tokens
    if u.cached_tokens:
        out["cachedContentTokenCount"] = u.cached_tokens
    out["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": u.input_tokens}]
    if u.cached_tokens:
        out["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": u.cached_tokens}]
    if final and visible:
        out["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": visible}]
    if final and u.reasoning_tokens:
        out["thoughtsTokenCount"] = u.reasoning_tokens
    return out


def _plan(call: Call) -> tuple[Usage, list[str], str, int]:
    body = call.body
    contents = body.get("contents")
    if not contents:
        raise BadRequest("* GenerateContentRequest.contents: contents is not specified\n")
    config = _generation_config(body)
    n = int_param(config, "candidateCount", label="generation_config.candidate_count") or 1
    limit = int_param(config, "maxOutputTokens", label="generation_config.max_output_tokens")
    gen = plan_output(call.policy.output_tokens, call.policy.reasoning_tokens, limit)
    prompt = input_tokens("gemini.generate", body, call.path_model)
    cached, _ = split_cached(prompt, call.policy.cached_tokens, 0)
    usage = Usage(prompt, gen.output_tokens * n, gen.reasoning_tokens * n, cached)
    finish = "MAX_TOKENS" if gen.hit_limit else "STOP"
    return usage, filler_words(gen.visible_tokens), finish, n


def _chunk(call: Call, rid: str, texts: list[str], n: int, finish: str | None,
           usage: dict[str, Any] | None) -> dict[str, Any]:
    candidates = []
    for i in range(n):
        cand: dict[str, Any] = {"content": {"parts": [{"text": t} for t in texts],
                                            "role": "model"}}
        if finish:
            cand["finishReason"] = finish
        cand["index"] = i
        candidates.append(cand)
    out: dict[str, Any] = {"candidates": candidates}
    if usage is not None:
        out["usageMetadata"] = usage
    out["modelVersion"] = call.path_model
    out["responseId"] = rid
    return out


def generate(call: Call) -> Reply:
    usage, words, finish, n = _plan(call)
    rid = new_id("")
    body = _chunk(call, rid, ["".join(words)], n, finish,
                  _usage_json(usage) if call.include_usage else None)
    reply = json_reply(body, usage=usage if call.include_usage else None)
    reply.content_type = JSON_TYPE
    return reply


def stream(call: Call) -> Reply:
    usage, words, finish, n = _plan(call)
    rid = new_id("")
    pieces = split_pieces(words, call.policy.stream_deltas) or [""]
    chunks = []
    for k, piece in enumerate(pieces):
        last = k == len(pieces) - 1
        meta = _usage_json(usage, final=last) if call.include_usage else None
        chunks.append(_chunk(call, rid, [piece], n, finish if last else None, meta))
    reported = usage if call.include_usage else None
    if call.query.get("alt") == "sse":
        events = [b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks]
        return Reply(events=events, framing="sse", content_type=SSE_TYPE, usage=reported)
    # A JSON array streamed element by element, pretty-printed like the real API.
    parts = [orjson.dumps(c, option=orjson.OPT_INDENT_2) for c in chunks]
    events = [(b"[" if k == 0 else b",\r\n") + p for k, p in enumerate(parts)]
    events[-1] += b"]"
    return Reply(events=events, framing="json-array", content_type=JSON_TYPE, usage=reported)


def count(call: Call) -> Reply:
    body = call.body
    inner = body.get("generateContentRequest")
    target = inner if isinstance(inner, dict) else body
    if not target.get("contents"):
        raise BadRequest("* CountTokensRequest.contents: contents is not specified\n")
    total = input_tokens("gemini.generate", target, call.path_model)
    reply = json_reply({"totalTokens": total,
                        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]})
    reply.content_type = JSON_TYPE
    return reply


# -- embeddings -------------------------------------------------------------------------

def _embedding(request: dict[str, Any], label: str) -> tuple[dict[str, Any], int]:
    content = request.get("content")
    if not isinstance(content, dict):
        raise BadRequest(f"* {label}.content: content is not specified\n")
    dims = int_param(request, "outputDimensionality",
                     label=f"{label}.output_dimensionality") or 3072
    return {"values": vector(orjson.dumps(content).decode(), dims)}, count_value(content)


def _with_usage(call: Call, out: dict[str, Any], tokens: int) -> Reply:
    usage = Usage(tokens)
    if call.include_usage:
        out["usageMetadata"] = {"promptTokenCount": tokens, "totalTokenCount": tokens}
    reply = json_reply(out, usage=usage if call.include_usage else None)
    reply.content_type = JSON_TYPE
    return reply


def embed(call: Call) -> Reply:
    embedding, tokens = _embedding(call.body, "EmbedContentRequest")
    return _with_usage(call, {"embedding": embedding}, tokens)


def batch_embed(call: Call) -> Reply:
    requests = call.body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise BadRequest("* BatchEmbedContentsRequest.requests: requests is not specified\n")
    embeddings, total = [], 0
    for i, request in enumerate(requests):
        if not isinstance(request, dict):
            raise BadRequest(f"* BatchEmbedContentsRequest.requests[{i}]: expected an object\n")
        embedding, tokens = _embedding(request, f"BatchEmbedContentsRequest.requests[{i}]")
        embeddings.append(embedding)
        total += tokens
    return _with_usage(call, {"embeddings": embeddings}, total)


# -- models -----------------------------------------------------------------------------

def _model_json(name: str) -> dict[str, Any]:
    embedding = "embed" in name
    methods = ["embedContent", "batchEmbedContents", "countTokens"] if embedding else \
        ["generateContent", "streamGenerateContent", "countTokens", "createCachedContent",
         "batchGenerateContent"]
    out: dict[str, Any] = {
        "name": f"models/{name}", "version": "001",
        "displayName": name.replace("-", " ").title(),
        "description": f"Mock of {name}",
        "inputTokenLimit": 2048 if embedding else 1_048_576,
        "outputTokenLimit": 1 if embedding else 65_536,
        "supportedGenerationMethods": methods,
    }
    if not embedding:
        out.update({"temperature": 1, "topP": 0.95, "topK": 64, "maxTemperature": 2,
                    "thinking": True})
    return out


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _page_offset(token: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "offset":
            return int(value)
    except ValueError:
        pass
    raise BadRequest("Invalid page token.")


def models(call: Call) -> Reply:
    size_text = call.query.get("pageSize", "50")
    try:
        size = min(int(size_text), 1000)
    except ValueError:
        raise BadRequest(f"Invalid value for 'pageSize': {size_text}") from None
    size = 50 if size <= 0 else size
    token = call.query.get("pageToken")
    start = _page_offset(token) if token else 0
    page = list(call.models)[start:start + size]
    out: dict[str, Any] = {"models": [_model_json(m) for m in page]}
    if start + size < len(call.models):
        out["nextPageToken"] = _page_token(start + size)
    reply = json_reply(out)
    reply.content_type = JSON_TYPE
    return reply


HANDLERS: dict[str, Callable[[Call], Reply]] = {
    "gemini.generate": generate,
    "gemini.stream": stream,
    "gemini.count_tokens": count,
    "gemini.embed": embed,
    "gemini.batch_embed": batch_embed,
    "gemini.models": models,
}
METHODS = {
    "generateContent": "gemini.generate",
    "streamGenerateContent": "gemini.stream",
    "countTokens": "gemini.count_tokens",
    "embedContent": "gemini.embed",
    "batchEmbedContents": "gemini.batch_embed",
}
