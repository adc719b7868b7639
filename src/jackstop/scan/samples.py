"""Expand the rule examples' templates into concrete test keys (tests, benchmark, self-check).

`{alnum:40}` becomes 40 random characters; `[[ ]]` marks the secret a rule must report.
Keys are made at run time from a seeded generator, so none is ever committed.
"""

from __future__ import annotations

import random
import re
import zlib

from jackstop import keys

ALPHABETS = {
    "alnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "alnum_": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
    "hex": "0123456789abcdef",
    "HEX": "0123456789ABCDEF",
    "lower": "abcdefghijklmnopqrstuvwxyz",
    "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "lalnum": "abcdefghijklmnopqrstuvwxyz0123456789",
    "letters": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "b32": "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
    "b64": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "digits": "0123456789",
}
_TOKEN = re.compile(r"\{([A-Za-z_0-9]+)(?::(\d+))?\}|\{\{|\}\}|\[\[|\]\]")


class TemplateError(ValueError):
    pass


def _jackstop_token(prefix: str, rng: random.Random) -> str:
    body = "".join(rng.choice(keys.BASE62) for _ in range(keys.RANDOM_LEN))
    return prefix + body + keys.base62(zlib.crc32(body.encode()), keys.CHECKSUM_LEN)


def _random(alphabet: str, n: int, rng: random.Random) -> str:
    """Random characters, redrawn until they would pass the scanner's placeholder filter."""
    from jackstop.scan.validators import looks_like_placeholder

    for _ in range(100):
        s = "".join(rng.choice(alphabet) for _ in range(n))
        if n < 8 or not looks_like_placeholder(s):
            return s
    return s


def expand(template: str, rng: random.Random | None = None) -> tuple[str, str | None]:
    """(text, secret): the template filled in, and the part between [[ ]] (None if unmarked)."""
    rng = rng or random.Random()
    out: list[str] = []
    start = end = None
    pos = 0
    for m in _TOKEN.finditer(template):
        out.append(template[pos : m.start()])
        pos = m.end()
        tok = m.group(0)
        if tok == "{{":
            out.append("{")
        elif tok == "}}":
            out.append("}")
        elif tok == "[[":
            start = len("".join(out))
        elif tok == "]]":
            end = len("".join(out))
        else:
            name, count = m.group(1), m.group(2)
            if name == "q":
                out.append(rng.choice(["", '"', "'"]))
            elif name in ("jsk", "jsa", "jst"):
                out.append(_jackstop_token(name + "_", rng))
            elif name in ALPHABETS and count:
                out.append(_random(ALPHABETS[name], int(count), rng))
            else:
                raise TemplateError(f"unknown template token {tok!r} in {template!r}")
    out.append(template[pos:])
    text = "".join(out)
    secret = text[start:end] if start is not None and end is not None else None
    return text, secret
