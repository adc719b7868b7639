"""A request path and query read once, the way no server could read differently.

A route is identified from the raw path (`scope["raw_path"]`, what the provider would see),
never from a decoded copy. A segment may percent-encode only letters, digits and `-._~`
(decoding those changes nothing a server could route on); an encoded `:` `/` `?` `#` `%`,
any other escape, a control character, a backslash, a non-ASCII byte or a `.`/`..` segment
is refused, because some HTTP server between the gateway and the model (or the provider's
own front end, which may decode twice) would read it as a different route. The upstream
URL is then built from the parsed parts only (see each family's `match`).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote_to_bytes

RULE = "path_encoding"
QUERY_RULE = "query_param"

# Characters a raw path may hold: unreserved, sub-delims, ":" "@" (RFC 3986 pchar), "/" and "%".
_RAW_OK = re.compile(rb"^/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$")
_ESCAPE = re.compile(rb"%(?:([0-9A-Fa-f]{2})|)")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# A model id in a path: what provider model names are made of, and nothing a server routes on.
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,255}$")


class PathError(ValueError):
    """The path or query cannot be read one way only; `rule` names the refusal."""

    def __init__(self, message: str, rule: str = RULE) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def _show(raw: bytes) -> str:
    return raw[:120].decode("latin-1").encode("unicode_escape").decode("ascii")


def split_path(raw_path: bytes | str) -> tuple[str, ...]:
    """The path's segments (without the leading empty one), each decoded exactly once.

    Empty segments are kept (`/a//b` gives ("a", "", "b")) so that they match no route.
    """
    if isinstance(raw_path, str):
        try:
            raw_path = raw_path.encode("ascii")
        except UnicodeEncodeError:
            raise PathError("the request path holds non-ASCII characters; percent-encoding is not "
                            "accepted either: use the plain route, e.g. /v1/chat/completions") from None
    if not _RAW_OK.match(raw_path):
        bad = next((chr(b) for b in raw_path if not _RAW_OK.match(b"/" + bytes([b]))), "?")
        raise PathError(f"the request path {_show(raw_path)!r} holds {bad!r}, which a provider could read as "
                        f"another route; send the plain route, e.g. /v1/chat/completions")
    segments = raw_path[1:].split(b"/")
    out = []
    for seg in segments:
        if b"%" in seg:
            for m in _ESCAPE.finditer(seg):
                hexpair = m.group(1)
                if hexpair is None or int(hexpair, 16) not in _UNRESERVED:
                    raise PathError(
                        f"the request path {_show(raw_path)!r} percent-encodes {m.group(0).decode('latin-1')!r}"
                        f"{' (a stray %)' if hexpair is None else ''}; encoded : / ? # % and control characters "
                        f"would make the provider run another route than the one jackstop checked. Send the "
                        f"route unencoded, e.g. /v1beta/models/gemini-2.5-flash:generateContent")
            seg = unquote_to_bytes(seg)
        text = seg.decode("ascii")
        if text in (".", ".."):
            raise PathError(f"the request path {_show(raw_path)!r} has a {text!r} segment, which servers resolve "
                            f"to another path; send the route itself")
        out.append(text)
    return tuple(out)


def check_model(model: str) -> str:
    """A model id taken from a path: only characters no server treats specially."""
    if not _MODEL.match(model):
        raise PathError(f"the model name {model[:80]!r} in the path may hold only letters, digits and - . _ ~ "
                        f"(starting with a letter or digit); use the provider's model id, e.g. gemini-2.5-flash")
    return model


def quote_segment(text: str) -> str:
    """One path segment for an upstream URL: anything outside the unreserved set encoded."""
    return quote(text, safe="-._~")


def parse_query(query: str) -> dict[str, list[str]]:
    """Each query parameter's values in order, names and values decoded once."""
    params: dict[str, list[str]] = {}
    if not query:
        return params
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict", max_num_fields=64)
    except (ValueError, UnicodeDecodeError):
        raise PathError("the query string is malformed (bad encoding, or over 64 parameters)", QUERY_RULE) from None
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params


def one_value(params: dict[str, list[str]], name: str, allowed: re.Pattern[str]) -> str | None:
    """The single value of an allowlisted parameter; refused when repeated or out of shape."""
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise PathError(f"the query parameter {name!r} is given {len(values)} times; the provider might read "
                        f"another one than jackstop did, so give it once", QUERY_RULE)
    if not allowed.fullmatch(values[0]):  # fullmatch: `$` alone would let a trailing newline through
        raise PathError(f"the query parameter {name}={values[0][:40]!r} is not a value jackstop forwards", QUERY_RULE)
    return values[0]
