"""Detection on bytes: prefilter for keywords, run each rule's regex in windows around the
hits, then validate. Streams of any size are scanned in overlapping chunks."""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from jackstop.scan import validators
from jackstop.scan.prefilter import Prefilter
from jackstop.scan.rules import CONFIDENCE_LEVELS, Rule, RuleSet

ALLOW_MARKER = b"jackstop:allow"
CHUNK = 8 << 20  # bytes read at a time from a stream
OVERLAP = 16 << 10  # carried into the next chunk; longer than any rule's match
MAX_BASE64_RUN = 4 << 20
BASE64_DEPTH = 2  # base64 inside base64, no deeper
_ELLIPSES = (b"...", "\u2026".encode(), b"\\u2026")  # the last: JSON-escaped
_LINE_SCAN = 4096  # how far to look for the line around a match (minified files)


@dataclass(frozen=True)
class Hit:
    rule: Rule
    secret: bytes
    start: int  # offset of the secret in the buffer or stream
    line: int  # 1-based
    column: int  # 1-based, in bytes
    encoding: str | None = None  # "base64" when found inside a decoded blob


_PRINTABLE = bytes(range(32, 127)) + b"\t\n\r"
_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _printable_ratio(data: bytes) -> float:
    if not data:
        return 0.0
    sample = data[:2048]
    return 1 - len(sample.translate(None, _PRINTABLE)) / len(sample)


class Detector:
    def __init__(self, ruleset: RuleSet, force_re: bool = False) -> None:
        self.rules = ruleset.rules
        self.documented = ruleset.documented
        keywords: list[tuple[str, bool]] = []
        index: dict[tuple[str, bool], int] = {}
        for rule in self.rules:
            for kw in rule.keywords:
                key = (kw.lower() if rule.ignore_case else kw, rule.ignore_case)
                if key not in index:
                    index[key] = len(keywords)
                    keywords.append(key)
        # Rules to try for each keyword hit. A hit on "sk-ant-x" also credits rules whose
        # keyword is a prefix of it, since the prefilter reports only the longest keyword.
        self._rules_for: list[list[int]] = [[] for _ in keywords]
        for k, (kw, ci) in enumerate(keywords):
            for r, rule in enumerate(self.rules):
                if ci and not rule.ignore_case:
                    continue  # a case-insensitive hit may not have the case this rule needs
                hit = kw.lower() if rule.ignore_case else kw
                if any(hit.startswith(own.lower() if rule.ignore_case else own) for own in rule.keywords):
                    self._rules_for[k].append(r)
        self._kwlen = [len(k[0].encode()) for k in keywords]
        self.prefilter = Prefilter(keywords, force_re=force_re)

    # -- one buffer --------------------------------------------------------------------
    def scan_buffer(self, data: bytes, limit: int | None = None, depth: int = 0) -> list[Hit]:
        """Hits whose secret starts before `limit` (default: anywhere in `data`)."""
        limit = len(data) if limit is None else limit
        windows: dict[int, list[tuple[int, int]]] = {}
        for k, off in self.prefilter.hits(data):
            for r in self._rules_for[k]:
                before, after = self.rules[r].window
                windows.setdefault(r, []).append((max(0, off - before), min(len(data), off + self._kwlen[k] + after)))
        found: dict[tuple[int, int], tuple[int, bytes]] = {}
        for r in sorted(windows):
            rule = self.rules[r]
            if rule.anchored:  # one attempt at each keyword, not one at every byte of its window
                spans = sorted(set(windows[r]))
                matches = (rule.regex.match(data, ws, we) for ws, we in spans)
            else:
                matches = (m for ws, we in _merge(windows[r]) for m in rule.regex.finditer(data, ws, we))
            for m in matches:
                if m is None:
                    continue
                s, e = rule.secret_span(m)
                prior = found.get((s, e))
                # One key, one finding: the most specific rule that matched it names it (a jsk_
                # key in OPENAI_API_KEY= is a jackstop key, not a random value in a key setting).
                if s >= limit or prior is not None and _RANK[self.rules[prior[0]].confidence] >= _RANK[rule.confidence]:
                    continue
                if data.startswith(_ELLIPSES, e) if e < len(data) else False:
                    continue  # shown cut short, as documentation does (sk-ant-api03-abc…)
                secret = data[s:e]
                try:
                    text = secret.decode("ascii")
                except UnicodeDecodeError:
                    continue
                if not validators.accept(text, rule.entropy, rule.validator):
                    continue
                if self.documented and hashlib.sha256(secret).hexdigest() in self.documented:
                    continue  # published by the provider itself as an example
                found[(s, e)] = (r, secret)
        hits: list[Hit] = []
        if len(found) > 1:
            found = _outermost(found)
        if found:
            line, pos = 1, 0
            for (s, e), (r, secret) in sorted(found.items()):
                line += data.count(b"\n", pos, s)
                pos = s
                if _allowed(data, s, e):
                    continue
                line_start = data.rfind(b"\n", 0, s) + 1
                hits.append(Hit(self.rules[r], secret, s, line, s - line_start + 1))
        if depth < BASE64_DEPTH:
            hits.extend(self._scan_base64(data, limit, depth, sorted(found)))
        return hits

    def _scan_base64(self, data: bytes, limit: int, depth: int, keys: list[tuple[int, int]] = ()) -> list[Hit]:
        """Keys inside base64 runs; a run that is part of a key already found (the presigned
        URL inside a Bedrock short-term key) is that key, not a second finding."""
        out: list[Hit] = []
        line, pos = 1, 0
        n = len(data)
        for s, e in self.prefilter.base64_runs(data):
            if s >= limit or (s and data[s - 1] in _B64_ALPHABET):
                continue  # not the start of a base64 run
            if keys and _inside(keys, s):
                continue
            while e < n and data[e] in _B64_ALPHABET:
                e += 1
            if e - s > MAX_BASE64_RUN:
                continue
            run = data[s:e]
            run = run[: len(run) - len(run) % 4] if len(run) % 4 == 1 else run
            try:
                decoded = base64.b64decode(run + b"=" * (-len(run) % 4))
            except (binascii.Error, ValueError):
                continue
            if _printable_ratio(decoded) < 0.85:
                continue
            inner = self.scan_buffer(decoded, depth=depth + 1)
            if not inner:
                continue
            line += data.count(b"\n", pos, s)
            pos = s
            if _allowed(data, s, e):
                continue
            line_start = data.rfind(b"\n", 0, s) + 1
            for h in inner:
                out.append(Hit(h.rule, h.secret, s, line, s - line_start + 1, "base64"))
        return out

    # -- a stream of any size --------------------------------------------------------------
    def scan_stream(self, chunks: Iterable[bytes]) -> list[Hit]:
        """Scan a stream given as chunks, in bounded memory (about CHUNK + OVERLAP)."""
        hits: list[Hit] = []
        buf = b""
        base = 0  # stream offset of buf[0]
        line_base = 0  # newlines before buf[0]
        for piece in _rechunk(chunks):
            buf = buf + piece if buf else piece
            if len(buf) < CHUNK + OVERLAP:
                continue
            limit = len(buf) - OVERLAP
            hits.extend(_shift(self.scan_buffer(buf, limit), base, line_base))
            line_base += buf.count(b"\n", 0, limit)
            base += limit
            buf = buf[limit:]
        if buf:
            hits.extend(_shift(self.scan_buffer(buf), base, line_base))
        return hits


def _rechunk(chunks: Iterable[bytes]) -> Iterable[bytes]:
    for c in chunks:
        if c:
            yield c


def _shift(hits: list[Hit], base: int, line_base: int) -> list[Hit]:
    if not base and not line_base:
        return hits
    return [Hit(h.rule, h.secret, h.start + base, h.line + line_base, h.column, h.encoding) for h in hits]


_RANK = {level: i for i, level in enumerate(CONFIDENCE_LEVELS)}


def _inside(spans: list[tuple[int, int]], pos: int) -> bool:
    i = bisect.bisect_right(spans, (pos, 1 << 62)) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def _outermost(found: dict[tuple[int, int], tuple[int, bytes]]) -> dict[tuple[int, int], tuple[int, bytes]]:
    """Drop a match lying inside another one: `FAL_KEY=ID:SECRET` is one key, not also an ID."""
    out: dict[tuple[int, int], tuple[int, bytes]] = {}
    end = -1
    for (s, e) in sorted(found, key=lambda span: (span[0], -span[1])):
        if e <= end:
            continue
        out[(s, e)] = found[(s, e)]
        end = max(end, e)
    return out


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans.sort()
    merged = [spans[0]]
    for s, e in spans[1:]:
        ps, pe = merged[-1]
        if s <= pe:
            merged[-1] = (ps, max(pe, e))
        else:
            merged.append((s, e))
    return merged


def _allowed(data: bytes, s: int, e: int) -> bool:
    """`jackstop:allow` anywhere on the match's line (any comment syntax) suppresses it."""
    ls = data.rfind(b"\n", max(0, s - _LINE_SCAN), s) + 1
    le = data.find(b"\n", e, e + _LINE_SCAN)
    if le == -1:
        le = min(len(data), e + _LINE_SCAN)
    if ls == 0 and s > _LINE_SCAN:
        ls = s - _LINE_SCAN
    return data.find(ALLOW_MARKER, ls, le) != -1


def reader_chunks(read: Callable[[int], bytes], size: int = 1 << 20) -> Iterable[bytes]:
    while True:
        piece = read(size)
        if not piece:
            return
        yield piece
