"""Multi-keyword prefilter: one linear pass that says where each rule's keywords occur.

Backends: Google RE2 (`google-re2`, a DFA: one pass over the data for all keywords, no
backtracking) when its wheel is installed, else Python's `re` (same answers, slower).
Only the windows around keyword hits are handed to the rules' full regexes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

try:  # pragma: no cover - exercised by whichever backend is installed
    import re2 as _re2
except ImportError:  # pragma: no cover
    _re2 = None

# Base64 that decodes to ASCII text: in every 4-character group the first three characters
# come from restricted sets (each encoded byte is below 0x80). Hashes, images and other
# binary base64 almost never match 6 groups in a row, so they are never decoded.
BASE64_TEXT = (rb"(?:[A-Za-f][A-HQ-Xg-nw-z0-3][ABEFIJMNQRUVYZcdghklopstwx014589][A-Za-z0-9+/]){6,}")


def backend_name() -> str:
    return "re2" if _re2 is not None else "re"


def _compile(pattern: bytes, force_re: bool = False):
    if _re2 is not None and not force_re:
        opts = _re2.Options()
        opts.max_mem = 64 << 20
        return _re2.compile(pattern, options=opts)
    return re.compile(pattern)


class Prefilter:
    """Finds keyword hits; `hits(data)` yields (keyword_index, offset)."""

    def __init__(self, keywords: Sequence[tuple[str, bool]], force_re: bool = False) -> None:
        # keywords: (literal, ignore_case). Longest first so a keyword that is a prefix of
        # another still lets the longer one be reported at the same offset.
        self.keywords = list(keywords)
        order = sorted(range(len(self.keywords)), key=lambda i: -len(self.keywords[i][0]))
        parts = []
        self._lookup: dict[bytes, int] = {}
        self._ci: dict[bytes, int] = {}
        use_re2 = _re2 is not None and not force_re
        for i in order:
            text, ci = self.keywords[i]
            lit = re.escape(text.encode("utf-8"))
            if ci and use_re2:
                parts.append(b"(?i:" + lit + b")")
            else:
                parts.append(lit)
            (self._ci if ci else self._lookup)[text.lower().encode() if ci else text.encode()] = i
        self._regex = _compile(b"|".join(parts), force_re) if use_re2 else None
        # Without RE2: one bytes.find sweep per literal beats a Python `re` alternation
        # (and IGNORECASE makes `re` ~10x slower); the usual spellings of a keyword suffice.
        self._literals: list[tuple[bytes, int]] = []
        if not use_re2:
            for i in order:
                text, ci = self.keywords[i]
                spellings = (text, text.lower(), text.upper(), text.title(), text.capitalize()) if ci else (text,)
                self._literals.extend((v.encode("utf-8"), i) for v in dict.fromkeys(spellings))
        self._b64 = _compile(BASE64_TEXT, force_re)

    def hits(self, data: bytes, pos: int = 0, endpos: int | None = None) -> Iterator[tuple[int, int]]:
        end = len(data) if endpos is None else endpos
        if self._regex is None:
            yield from self._find_literals(data, pos, end)
            return
        # Restart one byte after each match's start, not at its end: keywords may overlap
        # ("api_key=" holds "key="), and every keyword's rules must get their window. The
        # binding's raw Match (spans only) avoids building a match object per hit.
        raw = getattr(self._regex, "_regexp", None)
        if raw is None:  # pragma: no cover - a re2 build without the raw binding
            yield from self._search_loop(data, pos, end)
            return
        match, anchor = raw.Match, _re2._Anchor.UNANCHORED
        lookup, ci = self._lookup, self._ci
        while True:
            s, e = match(anchor, data, pos, end)[0]
            if s < 0:
                return
            text = data[s:e]
            i = lookup.get(text)
            if i is None:
                i = ci.get(text.lower())
            if i is not None:
                yield i, s
            pos = s + 1

    def _search_loop(self, data: bytes, pos: int, end: int) -> Iterator[tuple[int, int]]:
        while True:
            m = self._regex.search(data, pos, end)
            if m is None:
                return
            i = self._lookup.get(m.group())
            if i is None:
                i = self._ci.get(m.group().lower())
            if i is not None:
                yield i, m.start()
            pos = m.start() + 1

    def _find_literals(self, data: bytes, pos: int, end: int) -> Iterator[tuple[int, int]]:
        taken: set[int] = set()  # longest keyword wins at an offset, as with the regex
        for lit, i in self._literals:
            at = data.find(lit, pos, end)
            while at != -1:
                if at not in taken:
                    taken.add(at)
                    yield i, at
                at = data.find(lit, at + 1, end)

    def base64_runs(self, data: bytes, pos: int = 0, endpos: int | None = None) -> Iterable[tuple[int, int]]:
        end = len(data) if endpos is None else endpos
        return (m.span() for m in self._b64.finditer(data, pos, end))
