"""Working-tree scans: list the files, then scan them in parallel worker processes."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from jackstop.scan.scanner import Result, Scanner
from jackstop.scan.suppress import IgnoreList

SKIP_DIRS = {".git", ".hg", ".svn"}
PARALLEL_MIN_BYTES = 4 << 20  # below this, starting workers costs more than it saves
BATCH_BYTES = 4 << 20


class TreeError(ValueError):
    pass


def list_files(root: Path, respect_gitignore: bool, ignore: IgnoreList) -> Iterator[tuple[str, str, int]]:
    """(path, display path relative to root, size) of every regular file, `.git/` excluded."""
    if root.is_file():
        yield str(root), root.name, root.stat().st_size
        return
    if respect_gitignore:
        names = _git_listed(root)
        for rel in names:
            p = root / rel
            try:
                st = p.lstat()
            except OSError:
                continue
            if not ignore.ignores_path(rel) and _is_regular(st.st_mode):
                yield str(p), rel, st.st_size
        return
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            rel = os.path.relpath(e.path, root).replace(os.sep, "/")
            try:
                if e.is_dir(follow_symlinks=False):
                    if e.name not in SKIP_DIRS and not ignore.ignores_path(rel + "/"):
                        stack.append(Path(e.path))
                elif e.is_file(follow_symlinks=False) and not ignore.ignores_path(rel):
                    yield e.path, rel, e.stat(follow_symlinks=False).st_size
            except OSError:
                continue


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def _git_listed(root: Path) -> list[str]:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True, check=True,
        ).stdout
    except FileNotFoundError:
        raise TreeError("--respect-gitignore needs git on PATH; install git or drop the flag") from None
    except subprocess.CalledProcessError:
        raise TreeError(f"--respect-gitignore needs a git repository, and {root} is not in one; drop the flag") from None
    return sorted({n.decode("utf-8", "surrogateescape") for n in out.split(b"\0") if n})


# -- parallel scanning -----------------------------------------------------------------------
_worker: Scanner | None = None


def _init_worker(scanner: Scanner) -> None:
    global _worker
    _worker = scanner


def _scan_batch(batch: list[tuple[str, str]]) -> Result:
    assert _worker is not None
    result = Result()
    for path, display in batch:
        result.extend(_worker.scan_file(path, display))
    return result


def _batches(files: list[tuple[str, str, int]]) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    size = 0
    for path, display, n in files:
        batch.append((path, display))
        size += n
        if size >= BATCH_BYTES or len(batch) >= 256:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def scan_files(scanner: Scanner, files: list[tuple[str, str, int]], workers: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> Result:
    total = sum(n for _, _, n in files)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    result = Result()
    done = 0
    if workers <= 1 or total < PARALLEL_MIN_BYTES or len(files) < 2:
        _init_worker(scanner)
        for batch in _batches(files):
            r = _scan_batch(batch)
            result.extend(r)
            done = min(total, done + r.bytes_scanned)
            if progress:
                progress(done, total)
        return result
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    ctx = multiprocessing.get_context(method)
    # Big files first, so one huge file does not start last and run alone.
    files = sorted(files, key=lambda f: -f[2])
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(scanner,)) as pool:
        for r in pool.map(_scan_batch, _batches(files)):
            result.extend(r)
            done = min(total, done + r.bytes_scanned)
            if progress:
                progress(done, total)
    return result

