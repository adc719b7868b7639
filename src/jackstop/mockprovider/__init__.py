"""A mock AI provider: a real HTTP server on loopback speaking the OpenAI, Anthropic,
Gemini and Azure OpenAI wire formats, for jackstop's tests, benchmarks and `jackstop demo`.

Usage
-----
    from jackstop.mockprovider import MockProvider, Faults, UsagePolicy

    with MockProvider(keys={"openai": "sk-...", "anthropic": "sk-ant-...", "gemini": "AIza..."}) as mock:
        client = openai.OpenAI(base_url=mock.base_url + "/v1", api_key=mock.keys["openai"])
        ...
        rec = mock.requests[-1]          # RecordedRequest: method, path, query, headers, body,
        rec.credential_header            # "authorization" | "x-api-key" | "x-goog-api-key" | "query:key"
        rec.credential                   # the key it carried (Bearer prefix removed)
        rec.usage                        # the Usage the answer carries (None if omitted)
        rec.status, rec.events_sent, rec.completed, rec.disconnected   # how the answer went
        mock.faults = Faults(status=429) # server-wide, until changed or mock.reset()
        mock.usage = UsagePolicy(output_tokens="max")

Standalone: `python -m jackstop.mockprovider --port 8900` (prints the base URL and keys).

Endpoints
---------
OpenAI   POST /v1/chat/completions, /v1/responses, /v1/completions, /v1/embeddings,
         /v1/images/generations; GET /v1/models. Auth: `Authorization: Bearer`.
Anthropic POST /v1/messages, /v1/messages/count_tokens; GET /v1/models. Auth: `x-api-key`,
         else `Authorization: Bearer`; `anthropic-version` is required (400 without it).
Gemini   under /v1/ and /v1beta/: POST models/{m}:generateContent, :streamGenerateContent
         (`?alt=sse` gives SSE, otherwise a streamed JSON array), :countTokens,
         :embedContent, :batchEmbedContents; GET models (pageSize/pageToken).
         Auth: `x-goog-api-key`, else `?key=`.
Azure OpenAI  POST /openai/deployments/{d}/chat/completions, /completions, /embeddings,
         /images/generations (?api-version=YYYY-MM-DD[-preview] required), /openai/responses,
         /openai/v1/... (the deployment is the body's model). Auth: `api-key`. Deployments and
         the model each runs: azure_openai_api.DEPLOYMENTS. See that module for its errors.
Each dialect is a `*_api.py` module naming its FAMILY (routing.DIALECTS finds them).
GET /v1/models is shared: x-goog-api-key/?key= -> Gemini, x-api-key or anthropic-version
-> Anthropic, otherwise OpenAI.

Paths are routed as a real provider's front end reads them (routing.decode_path): the raw
path up to the first `?` is percent-decoded, decoded again when escapes remain (`%253A` ->
`:`, as Google's front ends do), and `//`, `.` and `..` are resolved. So a request the gateway
forwards as `models/M%3AgenerateContent` runs, and bills, generateContent. `rec.path` is that
decoded path; `rec.raw_path` the request target as received.

Authentication failures answer as the real provider does: OpenAI 401
(`invalid_api_key`), Anthropic 401 `authentication_error`, Gemini 400 `API_KEY_INVALID`
for a wrong key and 403 `PERMISSION_DENIED` for a missing one.

Header controls (per request; they override the server's settings for that request)
-------------------------------------------------------------------------------
`x-mock-fault: d1, d2=v, ...` with directives named like the Faults fields:
  latency=S      wait S seconds before the first byte (the status line)
  drip=S         wait S seconds between streamed events
  status=CODE    answer CODE with that provider's error body; 429/503/529 carry
                 `retry-after` (and a Gemini RetryInfo); e.g. 429, 500, 503, 529
  retry_after=N  the retry-after value in seconds (default 1)
  malformed      200 whose body is cut to half (invalid JSON); in a stream, the second
                 event's JSON is cut in half instead
  cut_after=N    a stream: close the connection after N events (no usage, no end marker);
                 a whole body: send the headers and half the body, then close
  stall_after=N  like cut_after but keep the connection open and silent (timeout tests)
  error_after=N  a stream: after N events send the provider's in-stream error and end
                 properly (OpenAI `data: {"error": ...}`, Responses `event: error`,
                 Anthropic `event: error` overloaded_error, Gemini an {"error": ...} chunk)
  hang           never send anything (until the client leaves or the mock stops)
  omit_usage     leave usage out (OpenAI `usage`, the include_usage chunk, Anthropic
                 `usage` in message/message_start/message_delta, Gemini `usageMetadata`)
  gated          hold each stream event after the first until `mock.release()`
`x-mock-usage: output=N|max, reasoning=N, cached=N, cache_write=N, deltas=N`
  (UsagePolicy output_tokens, reasoning_tokens, cached_tokens, cache_write_tokens,
  stream_deltas). A bad directive gets a 400 in the caller's dialect naming it.
`status=none` (and cut_after/stall_after/error_after=none) clears a server-wide setting
for one request.

Token counts (deterministic; see tokens.py)
-------------------------------------------
input  = max(1, ceil(B / 4) + I + 258 * A), where B = UTF-8 bytes of every string under
         the prompt fields (chat: messages; responses: instructions, input; completions:
         prompt, suffix; embeddings: input; images: prompt; Anthropic: system, messages;
         Gemini: systemInstruction, contents; embed: content), I = integers there (token
         ids), A = attachment parts (image/audio/file/document, inlineData/fileData), whose
         inner strings are not counted. Without attachments, input <= the body's UTF-8 bytes.
output (per choice/candidate) = min(policy, limit) for a fixed policy (default 16), exactly
         `limit` for "max"; limit = max_completion_tokens or max_tokens (chat),
         max_output_tokens (responses), max_tokens (completions; API default 16; Anthropic,
         required), generationConfig.maxOutputTokens (Gemini); no limit -> 4096 for "max".
         Totals multiply by n / number of prompts / candidateCount.
reasoning = min(policy reasoning, output), inside the output: OpenAI
         completion_tokens_details.reasoning_tokens / output_tokens_details.reasoning_tokens,
         Anthropic output_tokens_details.thinking_tokens, Gemini thoughtsTokenCount (Gemini's
         candidatesTokenCount is output - reasoning, as the real API reports it).
cached   = min(policy cached, input), part of the input: OpenAI cached_tokens, Anthropic
         cache_read_input_tokens, Gemini cachedContentTokenCount. Anthropic also reports
         cache_creation_input_tokens = min(cache_write, input - cached), and its
         input_tokens = input - cached - cache_write (Anthropic's own convention).
images   (gpt-image*) output per image: 1024x1024 low/medium/high = 272/1056/4160,
         1024x1536 or 1536x1024 = 408/1584/6240, auto = 1024x1024 medium, other sizes by area.
A request that reaches its limit finishes as the real API does: "length", "max_tokens",
"MAX_TOKENS", or (Responses) status "incomplete" with a `response.incomplete` final event.
"""

from jackstop.mockprovider.controls import (
    FAULT_HEADER,
    FAULT_NAMES,
    USAGE_HEADER,
    USAGE_NAMES,
    Faults,
    UsagePolicy,
)
from jackstop.mockprovider.recording import RecordedRequest, RequestLog
from jackstop.mockprovider.server import DEFAULT_MODELS, MockProvider, generate_key
from jackstop.mockprovider.tokens import (
    ATTACHMENT_TOKENS,
    MAX_FALLBACK,
    Usage,
    count_tokens,
    input_tokens,
    text_tokens,
)

__all__ = [
    "ATTACHMENT_TOKENS",
    "DEFAULT_MODELS",
    "FAULT_HEADER",
    "FAULT_NAMES",
    "MAX_FALLBACK",
    "USAGE_HEADER",
    "USAGE_NAMES",
    "Faults",
    "MockProvider",
    "RecordedRequest",
    "RequestLog",
    "Usage",
    "UsagePolicy",
    "count_tokens",
    "generate_key",
    "input_tokens",
    "text_tokens",
]
