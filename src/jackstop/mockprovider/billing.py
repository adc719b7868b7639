"""What the mock bills for a request's input, the way the real provider would read it.

This is the provider's side of the bill, written apart from the gateway's bound on purpose
(jackstop.providers.media): a test that sends the same body to both catches either one's mistake.

- Text: every string (UTF-8 bytes / 4) and integer (one token each) under the endpoint's prompt
  fields and tool definitions, wherever it sits, attachment-shaped or not.
- Real attachments, only at their documented positions: the binary payload (a base64 string, a
  data: URL's bytes) is not text; an image is billed at IMAGE_MAX, the most its family can bill
  for one image; audio, video, documents, uploaded-file references and stored context (previous
  responses, item references, cached content) at the model's whole context window.
- A prompt longer than the context window is refused (400), as providers do; it bills nothing.
- Both spellings of a Gemini field are read, and of two values the larger is billed
  (`canonical_gemini`); duplicate JSON keys resolve to the larger value (`parse_adversarial`).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from jackstop.mockprovider.wire import BadRequest

BYTES_PER_TOKEN = 4
# The most one image can bill, per family (see jackstop.providers.media for the sources): OpenAI
# gpt-4o-mini high detail 2,833 + 8 x 5,667; Anthropic ~3.75 MP / 750; Gemini 8192x8192 tiled at
# 768 px, 121 x 258.
IMAGE_MAX = {"openai": 48_169, "anthropic": 5_000, "gemini": 31_218}
# The window billed for a model the catalog gives none.
UNKNOWN_WINDOW = 1_000_000

_ONE_PROMPT = ("openai.chat", "openai.responses", "anthropic.messages", "anthropic.count_tokens", "gemini.generate")


class _Bill:
    def __init__(self) -> None:
        self.text_bytes = 0
        self.integers = 0
        self.payload_bytes = 0
        self.images = 0
        self.whole = 0
        self.hidden = 0  # tokens the provider adds that the body does not hold (tool-use prompts)


def _text(node: Any, bill: _Bill) -> None:
    if isinstance(node, str):
        bill.text_bytes += len(node.encode("utf-8"))
    elif isinstance(node, bool) or node is None or isinstance(node, float):
        return
    elif isinstance(node, int):
        bill.integers += 1
    elif isinstance(node, list):
        for item in node:
            _text(item, bill)
    elif isinstance(node, dict):
        for value in node.values():
            _text(value, bill)


def _payload(value: Any) -> int:
    if not isinstance(value, str):
        return 0
    if value.startswith("data:"):
        comma = value.find(",")
        return len(value.encode("utf-8")) - comma - 1 if comma > 0 else 0
    return len(value.encode("utf-8"))


def _is_image_bytes(data: Any) -> bool:
    if not isinstance(data, str):
        return False
    try:
        head = base64.b64decode(data[:24] + "=" * (-len(data[:24]) % 4))
    except ValueError:
        return False
    return (head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
            or (head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heif")))


# -- real attachments at their documented positions --------------------------------------------

def _openai_chat(body: dict[str, Any], bill: _Bill) -> None:
    for msg in body.get("messages") or []:
        if not isinstance(msg, dict):
            continue
        if isinstance(msg.get("audio"), dict):
            bill.whole += 1
        content = msg.get("content")
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else image
                if isinstance(url, str) and url.startswith("data:"):
                    bill.payload_bytes += _payload(url)
                bill.images += 1
            elif kind == "input_audio" and isinstance(part.get("input_audio"), dict):
                bill.payload_bytes += _payload(part["input_audio"].get("data"))
                bill.whole += 1
            elif kind == "file" and isinstance(part.get("file"), dict):
                bill.payload_bytes += _payload(part["file"].get("file_data"))
                bill.whole += 1
            elif kind in ("input_audio", "file"):
                bill.whole += 1


def _responses_part(part: Any, bill: _Bill) -> None:
    if not isinstance(part, dict):
        return
    kind = part.get("type")
    if kind == "input_image":
        url = part.get("image_url")
        if isinstance(url, str) and url.startswith("data:"):
            bill.payload_bytes += _payload(url)
        bill.images += 1
    elif kind == "input_file":
        bill.payload_bytes += _payload(part.get("file_data"))
        bill.whole += 1
    elif kind == "input_audio":
        audio = part.get("input_audio")
        bill.payload_bytes += _payload(audio.get("data")) if isinstance(audio, dict) else 0
        bill.whole += 1


def _openai_responses(body: dict[str, Any], bill: _Bill) -> None:
    items = body.get("input")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        # A compaction item is encrypted prior context the provider expands (developers.openai.com
        # "Compaction"); like a stored item its size is not in the request.
        if item.get("type") in ("item_reference", "compaction"):
            bill.whole += 1
        for name in ("content", "output"):
            parts = item.get(name)
            for part in parts if isinstance(parts, list) else []:
                _responses_part(part, bill)
    bill.whole += sum(1 for name in ("previous_response_id", "conversation", "prompt") if body.get(name))


def _anthropic_block(block: Any, bill: _Bill, nested: bool = False) -> None:
    if not isinstance(block, dict):
        return
    kind = block.get("type")
    if kind in ("image", "document"):
        source = block.get("source") if isinstance(block.get("source"), dict) else {}
        if source.get("type") == "base64":
            bill.payload_bytes += _payload(source.get("data"))
        if kind == "image":
            bill.images += 1
        elif source.get("type") not in ("text", "content"):
            bill.whole += 1
    elif kind == "container_upload":
        bill.whole += 1
    elif kind == "tool_result" and not nested and isinstance(block.get("content"), list):
        for inner in block["content"]:
            _anthropic_block(inner, bill, True)


# Tokens Anthropic adds to the prompt when tools are given, not in the request body
# (docs.claude.com "Tool use pricing"): the tool-use system prompt (Claude 3 Opus 530 for
# tool_choice auto; Claude 4.x 346 auto/none, 313 any/tool), and each Anthropic-schema tool's
# own definition: bash 245, text editor 700, computer use 735 plus its 499-token system prompt.
_ANTHROPIC_TOOL_PROMPT = {"claude-3-opus": {"auto": 530, "none": 530, "any": 281, "tool": 281}}
_ANTHROPIC_TOOL_PROMPT_DEFAULT = {"auto": 346, "none": 346, "any": 313, "tool": 313}
_ANTHROPIC_SCHEMA_TOOLS = {"bash_": 245, "text_editor_": 700, "computer_": 735 + 499}


def _anthropic_tools(body: dict[str, Any], bill: _Bill) -> None:
    tools = body.get("tools")
    if not isinstance(tools, list) or not tools:
        return
    model = str(body.get("model") or "")
    table = next((t for prefix, t in _ANTHROPIC_TOOL_PROMPT.items() if model.startswith(prefix)),
                 _ANTHROPIC_TOOL_PROMPT_DEFAULT)
    choice = body.get("tool_choice")
    kind = choice.get("type") if isinstance(choice, dict) else "auto"
    bill.hidden += table.get(kind if isinstance(kind, str) else "auto", table["auto"])
    for tool in tools:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if isinstance(kind, str):
            bill.hidden += next((n for prefix, n in _ANTHROPIC_SCHEMA_TOOLS.items() if kind.startswith(prefix)), 0)


def _anthropic(body: dict[str, Any], bill: _Bill) -> None:
    _anthropic_tools(body, bill)
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        for block in content if isinstance(content, list) else []:
            _anthropic_block(block, bill)


def _gemini_part(part: Any, bill: _Bill, nested: bool = False) -> None:
    if not isinstance(part, dict):
        return
    for name in ("inlineData", "inline_data"):
        inline = part.get(name)
        if isinstance(inline, dict):
            bill.payload_bytes += _payload(inline.get("data"))
            mime = inline.get("mimeType", inline.get("mime_type"))
            # The provider reads the bytes: a video labelled image/png is billed as the video it is.
            if isinstance(mime, str) and mime.startswith("image/") and _is_image_bytes(inline.get("data")):
                bill.images += 1
            else:
                bill.whole += 1
    for name in ("fileData", "file_data"):
        if isinstance(part.get(name), dict):
            bill.whole += 1
    for name in ("functionResponse", "function_response"):
        response = part.get(name)
        if not nested and isinstance(response, dict) and isinstance(response.get("parts"), list):
            for inner in response["parts"]:
                _gemini_part(inner, bill, True)


def _gemini(body: dict[str, Any], bill: _Bill) -> None:
    contents = body.get("contents")
    contents = contents if isinstance(contents, list) else [contents]
    for content in contents + [body.get("systemInstruction"), body.get("system_instruction")]:
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            _gemini_part(part, bill)
    if body.get("cachedContent") or body.get("cached_content"):
        bill.whole += 1


_SCAN = {"openai.chat": _openai_chat, "openai.responses": _openai_responses, "anthropic.messages": _anthropic,
         "anthropic.count_tokens": _anthropic, "gemini.generate": _gemini}


def context_window(family: str, model: Any) -> int:
    """The model's documented context window (the pricing catalog's figure)."""
    if isinstance(model, str):
        from jackstop.pricing import Catalog

        global _CATALOG
        if _CATALOG is None:
            _CATALOG = Catalog.load()
        price = _CATALOG.lookup(family, model.removeprefix("models/"))
        if price is not None and price.context_window:
            return price.context_window
    return UNKNOWN_WINDOW


_CATALOG: Any = None


def billed_input(endpoint: str, body: dict[str, Any], model: Any) -> int:
    from jackstop.mockprovider.tokens import PROMPT_FIELDS

    bill = _Bill()
    for name in PROMPT_FIELDS[endpoint]:
        if name in body:
            _text(body[name], bill)
    scan = _SCAN.get(endpoint)
    if scan is None:
        return max(1, -(-bill.text_bytes // BYTES_PER_TOKEN) + bill.integers)
    scan(body, bill)
    family = endpoint.split(".")[0]
    window = context_window(family, model)
    if bill.whole:
        return window
    text = max(0, bill.text_bytes - bill.payload_bytes)
    total = -(-text // BYTES_PER_TOKEN) + bill.integers + bill.images * IMAGE_MAX[family] + bill.hidden
    if total > window:  # the provider refuses the prompt and bills nothing
        raise BadRequest(f"This model's maximum context length is {window} tokens; the prompt has {total}.",
                         code="context_length_exceeded")
    return max(1, total)


# -- reading the body as the provider reads it ---------------------------------------------------

def _larger(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        merged = dict(a)
        for key, value in b.items():
            merged[key] = _larger(merged[key], value) if key in merged else value
        return merged
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return max(a, b)
    return a if len(json.dumps(a)) > len(json.dumps(b)) else b


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        out[key] = _larger(out[key], value) if key in out else value
    return out


def parse_adversarial(raw: bytes) -> Any:
    """JSON where a repeated key keeps the larger of its values (the most a provider could read)."""
    return json.loads(raw, object_pairs_hook=_pairs)


_GEMINI_TOP = {"generation_config": "generationConfig", "system_instruction": "systemInstruction",
               "cached_content": "cachedContent"}
_GEMINI_CONFIG = {"max_output_tokens": "maxOutputTokens", "candidate_count": "candidateCount",
                  "thinking_config": "thinkingConfig"}


def _fold(container: dict[str, Any], names: dict[str, str]) -> None:
    for snake, camel in names.items():
        if snake in container:
            value = container.pop(snake)
            container[camel] = _larger(container[camel], value) if camel in container else value


def canonical_gemini(body: dict[str, Any]) -> dict[str, Any]:
    """A Gemini body with both proto spellings folded into camelCase, the larger value kept."""
    _fold(body, _GEMINI_TOP)
    config = body.get("generationConfig")
    if isinstance(config, dict):
        _fold(config, _GEMINI_CONFIG)
        if isinstance(config.get("thinkingConfig"), dict):
            _fold(config["thinkingConfig"], {"thinking_budget": "thinkingBudget"})
    return body
