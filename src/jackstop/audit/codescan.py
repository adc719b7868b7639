"""Running the heuristics and the IOC string search over many source files, on every core.

Work is split into chunks of similar byte size and handed to worker processes; each returns
plain tuples, so nothing but file paths and results crosses the process boundary.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from jackstop.audit.heuristics.javascript import analyze_js
from jackstop.audit.heuristics.python import analyze_python, gate, may_need_parsing, needle_set
from jackstop.audit.heuristics.signals import Hit

PARALLEL_BYTES = 8 << 20  # below this, a worker pool costs more than it saves
MAX_FILE_BYTES = 16 << 20  # larger "source" files are data, not code worth parsing


@dataclass(frozen=True)
class FileResult:
    path: str
    hits: tuple[Hit, ...]
    iocs: tuple[tuple[str, int], ...]  # (needle, line)


def _needle_lines(text: str, needles: tuple[str, ...]) -> list[tuple[str, int]]:
    if not needles:
        return []
    low = text.lower()
    out = []
    for n in needles:
        pos = low.find(n)
        while pos != -1:
            before = low[pos - 1] if pos else " "
            after = low[pos + len(n)] if pos + len(n) < len(low) else " "
            # whole names only: 'giftshop.club' matches 'x.giftshop.club', not 'mygiftshop.club'
            if not (before.isalnum() or before in "-_") and not (after.isalnum() or after in "-_"):
                out.append((n, low.count("\n", 0, pos) + 1))
                break
            pos = low.find(n, pos + 1)
    return out


def scan_one(path: str, needles: tuple[str, ...]) -> FileResult | None:
    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            return None
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    return scan_text(path, text, needles)


_IOC_SETS: dict[tuple[str, ...], object] = {}


def scan_bytes(path: str, data: bytes, needles: tuple[str, ...]) -> FileResult | None:
    """Like scan_text, but decides from the raw bytes first: most files are never decoded."""
    if path.endswith((".js", ".mjs", ".cjs")):
        return scan_text(path, data.decode("utf-8", "replace"), needles)
    found = gate(data)
    ioc_hit = False
    if needles:
        rs = _IOC_SETS.get(needles)
        if rs is None:
            rs = _IOC_SETS[needles] = needle_set(needles)
        ioc_hit = bool(rs.Match(data))  # type: ignore[attr-defined]
    if not ioc_hit and not may_need_parsing(found):
        return None
    text = data.decode("utf-8", "replace")
    hits = analyze_python(text, found=found)
    iocs = _needle_lines(text, needles) if ioc_hit else []
    if not hits and not iocs:
        return None
    return FileResult(path, tuple(hits), tuple(iocs))


def scan_text(path: str, text: str, needles: tuple[str, ...]) -> FileResult | None:
    """Heuristic hits and IOC strings for one source already in memory."""
    if path.endswith((".js", ".mjs", ".cjs")):
        hits = analyze_js(text)
    else:
        hits = analyze_python(text)
    iocs = _needle_lines(text, needles)
    if not hits and not iocs:
        return None
    return FileResult(path, tuple(hits), tuple(iocs))


def _scan_chunk(paths: list[str], needles: tuple[str, ...]) -> list[FileResult]:
    return [r for p in paths if (r := scan_one(p, needles)) is not None]


def scan_files(paths: list[str], needles: tuple[str, ...] = (), workers: int | None = None) -> list[FileResult]:
    sizes = []
    for p in paths:
        try:
            sizes.append((os.path.getsize(p), p))
        except OSError:
            continue
    total = sum(s for s, _ in sizes)
    workers = workers or min(os.cpu_count() or 1, 4)
    if workers <= 1 or total < PARALLEL_BYTES:
        return _scan_chunk([p for _, p in sizes], needles)
    # Greedy balance: biggest files first, each to the lightest chunk.
    chunks: list[list[str]] = [[] for _ in range(workers * 4)]
    loads = [0] * len(chunks)
    for size, p in sorted(sizes, reverse=True):
        i = loads.index(min(loads))
        chunks[i].append(p)
        loads[i] += size
    out: list[FileResult] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for res in pool.map(_scan_chunk, chunks, [needles] * len(chunks)):
            out.extend(res)
    return sorted(out, key=lambda r: r.path)
