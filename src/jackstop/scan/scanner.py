"""Scan one input (a file, a git blob, standard input) into findings, unpacking archives.

`Scanner.scan_reader` is the one path every source goes through, so a key is found the
same way in a working-tree file, a blob from history, or a zip inside a tar.gz.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

from jackstop.scan import archives, content
from jackstop.scan.engine import Detector, Hit, reader_chunks
from jackstop.scan.findings import Finding, ScanError
from jackstop.scan.rules import RuleSet


@dataclass
class Result:
    findings: list[Finding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    bytes_scanned: int = 0
    files_scanned: int = 0

    def extend(self, other: Result) -> None:
        self.findings.extend(other.findings)
        self.errors.extend(other.errors)
        self.bytes_scanned += other.bytes_scanned
        self.files_scanned += other.files_scanned


class _Prepended:
    """A reader that yields `head` before the rest of `inner` (we sniffed the head already)."""

    def __init__(self, head: bytes, inner: BinaryIO) -> None:
        self.head, self.inner = head, inner

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n is None or n < 0:
                data, self.head = self.head + self.inner.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            return data
        return self.inner.read(n)

    def readable(self) -> bool:
        return True


def _hits_to_findings(hits: Iterable[Hit], path: str) -> list[Finding]:
    seen: set[tuple[str, int, bytes]] = set()
    out = []
    for h in hits:
        key = (path, h.start, h.secret)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            Finding(
                rule=h.rule.id, provider=h.rule.provider, description=h.rule.description, path=path,
                line=h.line, column=h.column, secret=h.secret.decode("ascii"), encoding=h.encoding,
                confidence=h.rule.confidence,
            )
        )
    return out


class Scanner:
    def __init__(self, ruleset: RuleSet, limits: archives.Limits | None = None, force_re: bool = False) -> None:
        self.ruleset = ruleset
        self.limits = limits or archives.Limits()
        self.detector = Detector(ruleset, force_re=force_re)

    def scan_bytes(self, data: bytes, path: str = "(memory)") -> Result:
        import io

        return self.scan_reader(io.BytesIO(data), path)

    def scan_file(self, path: str, display: str | None = None) -> Result:
        display = display or path
        try:
            f = open(path, "rb")
        except OSError as exc:
            return Result(errors=[ScanError(display, f"cannot read ({exc.strerror or exc}); check its permissions")])
        with f:
            try:
                return self.scan_reader(f, display)
            except OSError as exc:
                return Result(errors=[ScanError(display, f"read failed ({exc.strerror or exc})")])

    def scan_reader(self, reader: BinaryIO, path: str) -> Result:
        result = Result()
        budget = archives.Budget(self.limits)
        try:
            self._scan(reader, path, 0, budget, result)
        except archives.ArchiveRefused as exc:
            result.errors.append(ScanError(path, f"refused: {exc}"))
        result.files_scanned += 1
        return result

    def _scan(self, reader: BinaryIO, path: str, depth: int, budget: archives.Budget, result: Result) -> None:
        head = reader.read(content.SNIFF)
        kind = content.sniff(head)
        if kind in content.ARCHIVES:
            self._scan_archive(reader, head, kind, path, depth, budget, result)
            return
        if kind == content.BINARY:
            return
        counted = _CountingChunks(reader_chunks(_Prepended(head, reader).read))
        hits = self.detector.scan_stream(content.as_text_chunks(kind, counted))
        result.bytes_scanned += counted.total
        result.findings.extend(_hits_to_findings(hits, path))

    def _scan_archive(self, reader: BinaryIO, head: bytes, kind: str, path: str, depth: int,
                      budget: archives.Budget, result: Result) -> None:
        if depth >= self.limits.max_depth:
            result.errors.append(ScanError(
                path, f"refused: archives nested more than {self.limits.max_depth} deep; "
                "raise --max-archive-depth to scan deeper"))
            return
        whole = _Prepended(head, reader)
        if kind in (content.GZIP, content.BZIP2, content.XZ):
            inner = archives.decompress(whole, kind, budget, path)
            inner_head = inner.read(content.SNIFF)
            inner_kind = content.sniff(inner_head)
            if inner_kind == content.TAR:
                members = archives.tar_members(_Prepended(inner_head, inner), budget, path)
            else:  # a single compressed file (config.json.gz): scan what it holds
                name = path + "!" + _strip_suffix(os.path.basename(path.split("!")[-1]))
                self._scan(_Prepended(inner_head, inner), name, depth + 1, budget, result)
                return
        elif kind == content.TAR:
            members = archives.tar_members(whole, budget, path)
        else:
            rewound = _rewound(reader) if depth == 0 else None
            members = archives.zip_members(rewound or archives.spool(reader, head), budget, path)
        # A refusal anywhere inside propagates: the budget belongs to the top-level input.
        for name, member in members:
            self._scan(member, f"{path}!{name}", depth + 1, budget, result)


class _CountingChunks:
    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks, self.total = chunks, 0

    def __iter__(self):
        for c in self.chunks:
            self.total += len(c)
            yield c


def _rewound(f: BinaryIO) -> BinaryIO | None:
    """The reader itself, rewound to undo the sniff, when it can seek (a real file)."""
    try:
        if f.seekable():
            f.seek(0)
            return f
    except (AttributeError, OSError):
        pass
    return None


def _strip_suffix(name: str) -> str:
    for suffix in (".gz", ".tgz", ".bz2", ".xz"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or name
    return name + ".decompressed"
