"""Attachments a provider bills apart from text, found only where each dialect documents them.

The input bound counts every byte of the request body as text tokens (a BPE token is at least
one byte). An attachment's binary payload is the one exception: its base64 string (or a data:
URL's bytes after the comma) is taken out of the count and the attachment's ceiling is added
instead. Nothing else is taken out: an object that merely looks like an attachment (an
`image_url` member beside a message's content, a tool schema saying {"type": "image"}, an
`inlineData` inside a function response's JSON) stays text, because that is how the provider
bills it. An attachment given by URL or file id keeps its bytes in the count and adds its ceiling.

Documented positions (checked against each provider's API reference):
- OpenAI chat: messages[i].content[j] of type image_url, input_audio, file.
- OpenAI Responses: input[i].content[j] (and a function_call_output's output[j]) of type
  input_image, input_file, input_audio; input[i] of type item_reference is stored context.
- Anthropic: messages[i].content[j] of type image, document, container_upload, and the same
  inside a tool_result's content.
- Gemini: contents[i].parts[j] (and systemInstruction.parts[j], and a functionResponse's parts)
  with inlineData/inline_data or fileData/file_data.

Images have a documented per-image maximum (IMAGE_TOKENS). Audio, video, documents, file
references and stored context have none that does not depend on their length, so they are
bounded by the model's context window: `whole_window` names them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

# The most input tokens one image can be billed, per family.
IMAGE_TOKENS = {
    # OpenAI tile models: a high-detail image is scaled into 2048x2048, then its short side to 768,
    # so at most 2x4 = 8 tiles of 512 px. gpt-4o-mini is the dearest: 2,833 base + 5,667 per tile
    # = 48,169 (platform.openai.com/docs/guides/images-vision, "Calculating costs"). Patch models
    # (32 px patches x a per-model multiplier of at most 2.46) cap at 1,536 patches, or 10,000 for
    # detail "original" ("model sizing behavior"; openai/codex#19865): at most 24,600. A 12 MP
    # photo costs GPT-6 Astra 14,364 (HF dataset JOHNISKING/image-token-cost).
    "openai": 48_169,
    # Anthropic: images are scaled to fit 1568 px / ~1.15 MP, ~1,600 tokens (tokens = w*h/750);
    # 8000x8000 is the largest accepted (docs.claude.com/en/docs/build-with-claude/vision). The
    # high-resolution 5.x models bill a 12 MP photo 4,005 tokens (same dataset); 10,000 is ~2.5x that.
    "anthropic": 10_000,
    # Gemini: 258 tokens per 768x768 tile (2.x; larger images are scaled into 3072x3072, so 16 tiles
    # = 4,128), or the media_resolution table (3.x: 1,120 by default, ~1,100 for a 12 MP photo).
    # The largest image size is not stated for every model; 32,768 covers an 8192x8192 picture
    # tiled at 768 px (11x11 tiles x 258 = 31,218).
    "gemini": 32_768,
}

# Leading bytes of the image formats Gemini accepts (PNG, JPEG, WebP, HEIC/HEIF); an inline
# payload labelled image/* that does not start with one of them may be a video.
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


@dataclass
class Media:
    payload_chars: int = 0  # characters of binary payloads taken out of the text count
    images: int = 0
    whole_window: list[str] = field(default_factory=list)  # inputs only the context window bounds


def _data_url_payload(url: Any) -> int:
    """Characters after the comma of a data: URL (its payload); 0 for any other URL."""
    if isinstance(url, str) and url.startswith("data:"):
        comma = url.find(",")
        if comma > 0:
            return len(url) - comma - 1
    return 0


def _b64(value: Any) -> int:
    """A base64 payload's characters (only those after the comma, if it is written as a data: URL)."""
    if not isinstance(value, str):
        return 0
    return _data_url_payload(value) if value.startswith("data:") else len(value)


def _looks_like_image(data: Any) -> bool:
    if not isinstance(data, str):
        return False
    try:
        head = base64.b64decode(data[:24] + "=" * (-len(data[:24]) % 4), validate=False)
    except (binascii.Error, ValueError):
        return False
    if head.startswith(_IMAGE_MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heif")


# -- OpenAI ----------------------------------------------------------------------------------

def _openai_chat_part(part: Any, m: Media) -> None:
    if not isinstance(part, dict):
        return
    kind = part.get("type")
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        m.images += 1
        m.payload_chars += _data_url_payload(url)
    elif kind == "input_audio":
        audio = part.get("input_audio")
        if isinstance(audio, dict):
            m.payload_chars += _b64(audio.get("data"))
        m.whole_window.append("input_audio")
    elif kind == "file":
        f = part.get("file")
        if isinstance(f, dict):
            m.payload_chars += _b64(f.get("file_data"))
        m.whole_window.append("file")


def openai_chat(body: dict[str, Any], m: Media) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        content = msg.get("content")
        if isinstance(content, list):
            for part in content:
                _openai_chat_part(part, m)
        if isinstance(msg.get("audio"), dict):  # an assistant turn naming earlier audio output by id
            m.whole_window.append("assistant audio reference")


def _responses_part(part: Any, m: Media) -> None:
    if not isinstance(part, dict):
        return
    kind = part.get("type")
    if kind == "input_image":
        m.images += 1
        m.payload_chars += _data_url_payload(part.get("image_url"))
    elif kind == "input_file":
        m.payload_chars += _b64(part.get("file_data"))
        m.whole_window.append("input_file")
    elif kind == "input_audio":
        audio = part.get("input_audio")
        if isinstance(audio, dict):
            m.payload_chars += _b64(audio.get("data"))
        m.whole_window.append("input_audio")


def openai_responses(body: dict[str, Any], m: Media) -> None:
    items = body.get("input")
    if isinstance(items, list):
        for item in items:
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            if kind in ("item_reference", "compaction"):  # stored or encrypted (opaque) prior context
                m.whole_window.append("item_reference")
                continue
            for name in ("content", "output"):  # a message's content; a function_call_output's output
                parts = item.get(name)
                if isinstance(parts, list):
                    for part in parts:
                        _responses_part(part, m)
    for name in ("previous_response_id", "conversation", "prompt"):
        if body.get(name):
            m.whole_window.append(name)


# -- Anthropic -------------------------------------------------------------------------------

def _anthropic_block(block: Any, m: Media, depth: int = 0) -> None:
    if not isinstance(block, dict):
        return
    kind = block.get("type")
    if kind in ("image", "document"):
        source = block.get("source")
        stype = source.get("type") if isinstance(source, dict) else None
        if stype == "base64":
            m.payload_chars += _b64(source.get("data"))  # type: ignore[union-attr]
        if kind == "image":
            m.images += 1
        elif stype not in ("text", "content"):  # a PDF (or file) is paged: only the window bounds it
            m.whole_window.append(f"document ({stype})")
    elif kind == "container_upload":
        m.whole_window.append("container_upload")
    elif kind == "tool_result" and depth == 0:
        content = block.get("content")
        if isinstance(content, list):
            for inner in content:
                _anthropic_block(inner, m, 1)


def anthropic_messages(body: dict[str, Any], m: Media) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    for msg in messages:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, list):
            for block in content:
                _anthropic_block(block, m)


# -- Gemini ----------------------------------------------------------------------------------

def _gemini_part(part: Any, m: Media, depth: int = 0) -> None:
    if not isinstance(part, dict):
        return
    # Both proto spellings are read: a part naming both is counted twice rather than once.
    for name in ("inlineData", "inline_data"):
        inline = part.get(name)
        if isinstance(inline, dict):
            data = inline.get("data")
            m.payload_chars += _b64(data)
            mime = inline.get("mimeType", inline.get("mime_type"))
            if isinstance(mime, str) and mime.startswith("image/") and _looks_like_image(data):
                m.images += 1
            else:  # audio, video, PDF, or a video labelled as an image
                m.whole_window.append(f"inline {mime}")
    for name in ("fileData", "file_data"):
        if isinstance(part.get(name), dict):
            m.whole_window.append("fileData")  # an uploaded file: its length is not in the request
    for name in ("functionResponse", "function_response"):
        response = part.get(name)
        if depth == 0 and isinstance(response, dict) and isinstance(response.get("parts"), list):
            for inner in response["parts"]:
                _gemini_part(inner, m, 1)


def _gemini_content(content: Any, m: Media) -> None:
    parts = content.get("parts") if isinstance(content, dict) else None
    if isinstance(parts, list):
        for part in parts:
            _gemini_part(part, m)


def gemini_generate(body: dict[str, Any], m: Media) -> None:
    contents = body.get("contents")
    if isinstance(contents, list):
        for content in contents:
            _gemini_content(content, m)
    elif isinstance(contents, dict):
        _gemini_content(contents, m)
    _gemini_content(body.get("systemInstruction"), m)
    if body.get("cachedContent"):
        m.whole_window.append("cachedContent")


SCANNERS = {
    ("openai", "chat.completions"): openai_chat,
    ("openai", "responses"): openai_responses,
    ("anthropic", "messages"): anthropic_messages,
    ("gemini", "generateContent"): gemini_generate,
    ("gemini", "streamGenerateContent"): gemini_generate,
}


def scan(family: str, endpoint: str, body: dict[str, Any]) -> Media:
    """The attachments of a request body at their documented positions."""
    m = Media()
    scanner = SCANNERS.get((family, endpoint))
    if scanner is not None:
        scanner(body, m)
    return m
