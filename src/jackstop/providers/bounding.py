"""The worst-case bound of one request, and the helpers every family's `bound` uses.

The gateway (gateway/bounds.py) computes the input side from the body's bytes and attachments;
each family fills the output side from its own max-tokens parameter (see Family.bound).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# gpt-image output tokens per image at high quality, the dearest (platform.openai.com/docs/guides/
# image-generation, "Cost and latency"): 4,160 for 1024x1024 and 6,240 for 1024x1536 / 1536x1024.
# A custom WIDTHxHEIGHT is scaled by its area from the 1024x1024 figure.
IMAGE_HIGH_PER_MPIX = 4160


class BoundError(ValueError):
    """The request's parameters make no sense to bound (e.g. a negative max_tokens)."""


class UnboundedInput(ValueError):
    """The request carries input whose size nothing bounds (no context window is known)."""


@dataclass
class Bound:
    input_tokens: int
    output_tokens: int
    images: int = 0
    image_size: str | None = None
    image_quality: str | None = None
    mode: str | None = None  # a paid service mode the request asks for ("priority", "fast")
    unbounded: list[str] = field(default_factory=list)
    changed: bool = False  # the body was modified (max tokens injected or lowered)
    output_param: str = ""  # the dialect's max-tokens field, for messages


def positive_int(body: dict[str, Any], name: str) -> int | None:
    v = body.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise BoundError(f"{name} must be a non-negative integer")
    return v


def clamp(container: dict[str, Any], name: str, ceiling: int, bound: Bound, default: int | None = None) -> int:
    """Make container[name] at most `ceiling` (set it when absent); return the value in force."""
    current = positive_int(container, name)
    if current is None:
        value = ceiling if default is None else min(default, ceiling)
        container[name] = value
        bound.changed = True
        return value
    if current > ceiling:
        container[name] = ceiling
        bound.changed = True
        return ceiling
    return current


def count(body: dict[str, Any], name: str, default: int = 1, most: int = 128) -> int:
    v = body.get(name, default)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= most:
        raise BoundError(f"{name} must be an integer between 1 and {most}")
    return v


def image_output_tokens(size: Any, limits: Any) -> int:
    """The most output tokens one generated image of this size can cost."""
    if not isinstance(size, str) or "x" not in size:
        return limits.image_output_tokens  # auto / absent: the model picks one of its sizes
    try:
        width, height = (int(v) for v in size.lower().split("x", 1))
    except ValueError:
        raise BoundError(f"size {size!r} is not WIDTHxHEIGHT or auto") from None
    if width <= 0 or height <= 0:
        raise BoundError(f"size {size!r} is not WIDTHxHEIGHT or auto")
    return max(limits.image_output_tokens, -(-IMAGE_HIGH_PER_MPIX * width * height // (1024 * 1024)))
