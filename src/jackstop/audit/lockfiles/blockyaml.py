"""A reader for the block-mapping subset of YAML that pnpm-lock.yaml and Yarn 2+ yarn.lock use.

Why not a YAML library: these files are machine-written with a fixed shape (nested block
mappings of scalars; flow values only as leaves), we need only their keys and a few scalars,
and they can run to tens of megabytes, where a pure-Python YAML parser takes seconds. Lines this
reader does not understand (block sequences, multi-line scalars) are skipped, never guessed.
"""

from __future__ import annotations

from typing import Any


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        return inner.replace("''", "'") if text[0] == "'" else inner.replace('\\"', '"')
    return text


def _split_key(body: str) -> tuple[str, str] | None:
    """'key: value' -> (key, value); handles quoted keys containing ': '."""
    if body[0] in "'\"":
        q = body[0]
        i = 1
        while i < len(body):
            if body[i] == q:
                if q == "'" and i + 1 < len(body) and body[i + 1] == "'":
                    i += 2
                    continue
                break
            i += 1
        rest = body[i + 1 :]
        if not rest.startswith(":"):
            return None
        return _scalar(body[: i + 1]), rest[1:].strip()
    pos = body.find(": ")
    if pos == -1:
        if body.endswith(":"):
            return body[:-1].strip(), ""
        return None
    return body[:pos].strip(), body[pos + 2 :].strip()


def load(text: str) -> dict[str, Any]:
    """Nested dicts of the block mappings; leaf values are unquoted strings."""
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    for lineno, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("- ") or stripped == "-":
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        kv = _split_key(stripped)
        if kv is None:
            continue
        key, value = kv
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if not stack:
            stack = [(-1, root)]
        parent = stack[-1][1]
        if value == "" or value in ("|", ">", "|-", ">-"):
            child: dict[str, Any] = {"__line__": lineno}
            parent[key] = child
            stack.append((indent, child))
        else:
            parent[key] = _scalar(value)
    return root
