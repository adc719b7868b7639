"""Git sources: every blob reachable from every ref (history), and the staged index.

History streams `git log --raw` once to learn, for every blob, the first commit that
introduced it at each path, then streams the blobs through `git cat-file --batch`, each
unique blob once however many commits contain it. Commit and tag messages are scanned too.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from jackstop.scan.findings import Finding, ScanError
from jackstop.scan.scanner import Result, Scanner

IN_MEMORY_BLOB = 8 << 20  # larger blobs are streamed from git, never held whole
BATCH_BYTES = 4 << 20
PARALLEL_MIN_BYTES = 4 << 20


class GitError(ValueError):
    """git could not do what we asked; the message says what and how to fix it."""


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    date: str


def _git(repo: Path, *args: str) -> bytes:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH; install git to scan history") from None
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed in {repo}: {msg[-1] if msg else 'exit ' + str(proc.returncode)}")
    return proc.stdout


def check_repo(repo: Path) -> None:
    try:
        _git(repo, "rev-parse", "--git-dir")
    except GitError as exc:
        raise GitError(f"{repo} is not a git repository ({exc}); scan it without --history/--staged") from None


def _revisions(repo: Path, since: str | None) -> list[str]:
    revs = ["--all"]
    try:
        stashes = _git(repo, "reflog", "show", "--format=%H", "refs/stash").decode().split()
    except GitError:
        stashes = []  # no stash
    revs += stashes
    if since:
        try:
            sha = _git(repo, "rev-parse", "--verify", "--quiet", since + "^{commit}").decode().strip()
        except GitError:
            raise GitError(f"--since {since}: no such commit in {repo}; give a commit, tag or branch") from None
        revs.append("^" + sha)
    return revs


def _introductions(repo: Path, revs: list[str]) -> tuple[list[Commit], dict[str, dict[str, int]]]:
    """Commits oldest first, and blob -> {path: index of the first commit that added it there}."""
    proc = subprocess.Popen(
        ["git", "-C", str(repo), "-c", "core.quotepath=off", "log", "--reverse", "--topo-order", "-m", "--raw", "--no-abbrev",
         "--no-renames", "--format=%x00%H%x1f%an <%ae>%x1f%aI", *revs, "--"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    commits: list[Commit] = []
    index: dict[str, int] = {}
    blobs: dict[str, dict[str, int]] = {}
    current = -1
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip(b"\n")
        if line.startswith(b"\x00"):
            sha, author, date = line[1:].decode("utf-8", "replace").split("\x1f")
            if sha not in index:
                index[sha] = len(commits)
                commits.append(Commit(sha, author, date))
            current = index[sha]
        elif line.startswith(b":") and current >= 0:
            meta, _, path = line.partition(b"\t")
            parts = meta.split()
            if len(parts) < 5 or parts[1] == b"160000" or parts[4].startswith(b"D"):
                continue  # submodule entry or deletion
            blob = parts[3].decode()
            paths = blobs.setdefault(blob, {})
            name = _unquote(path)
            if name not in paths:
                paths[name] = current
    err = proc.stderr.read().decode("utf-8", "replace").strip() if proc.stderr else ""
    if proc.wait() != 0:
        raise GitError(f"git log failed in {repo}: {err.splitlines()[-1] if err else 'repository is damaged'}; "
                       "run `git fsck` to see what is broken")
    return commits, blobs


def _unquote(path: bytes) -> str:
    s = path.decode("utf-8", "surrogateescape")
    if s.startswith('"') and s.endswith('"'):
        s = s[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1").decode(
            "utf-8", "surrogateescape")
    return s


class _CatFile:
    """`git cat-file --batch`: write object ids, read (type, size, content) back."""

    def __init__(self, repo: Path, shas: list[str]) -> None:
        self.proc = subprocess.Popen(["git", "-C", str(repo), "cat-file", "--batch"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.writer = threading.Thread(target=self._feed, args=(shas,), daemon=True)
        self.writer.start()

    def _feed(self, shas: list[str]) -> None:
        assert self.proc.stdin is not None
        try:
            for sha in shas:
                self.proc.stdin.write(sha.encode() + b"\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def header(self) -> tuple[str, str, int]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().split()
        if len(line) == 2 and line[1] == "missing":
            return line[0], "missing", 0
        if len(line) != 3:
            raise GitError("git cat-file stopped early: the repository is damaged; run `git fsck`")
        return line[0], line[1], int(line[2])

    def read(self, n: int) -> bytes:
        assert self.proc.stdout is not None
        out = self.proc.stdout.read(n)
        if len(out) != n:
            raise GitError("git cat-file stopped early: the repository is damaged; run `git fsck`")
        return out

    def close(self) -> None:
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        self.writer.join(timeout=5)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # never hang a scan on git: stop it
            self.proc.kill()
            self.proc.wait()


class _Bounded:
    """Reads exactly `size` bytes of one blob from the cat-file stream."""

    def __init__(self, cat: _CatFile, size: int) -> None:
        self.cat, self.left = cat, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        if n <= 0:
            return b""
        data = self.cat.read(n)
        self.left -= len(data)
        return data

    def drain(self) -> None:
        while self.left:
            self.read(1 << 20)

    def readable(self) -> bool:
        return True


# -- workers ---------------------------------------------------------------------------------
_worker: Scanner | None = None


def _init(scanner: Scanner) -> None:
    global _worker
    _worker = scanner


def _noop(_: int) -> None:
    return None


def _scan_blobs(batch: list[tuple[str, bytes]]) -> list[tuple[str, Result]]:
    assert _worker is not None
    return [(sha, _worker.scan_bytes(data, sha)) for sha, data in batch]


def _blob_stream(cat: _CatFile, shas: list[str], scanner: Scanner) -> Iterator[tuple[str, Result | bytes]]:
    """Small blobs as bytes (for the workers); large ones scanned here, streamed."""
    for _ in shas:
        sha, kind, size = cat.header()
        if kind == "missing":
            yield sha, Result(errors=[ScanError(sha, "object missing from the repository (damaged or shallow clone)")])
            continue
        if size <= IN_MEMORY_BLOB:
            data = cat.read(size)
            cat.read(1)
            yield sha, data
        else:
            reader = _Bounded(cat, size)
            result = scanner.scan_reader(reader, sha)
            reader.drain()
            cat.read(1)
            yield sha, result


def _scan_all_blobs(repo: Path, scanner: Scanner, shas: list[str], workers: int,
                    progress: Callable[[int, int], None] | None) -> dict[str, Result]:
    results: dict[str, Result] = {}
    pool = None
    if workers > 1 and len(shas) > 32:
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                                   initializer=_init, initargs=(scanner,))
        # Start the workers before git: forked children would otherwise inherit the write end
        # of cat-file's stdin, and cat-file would never see end-of-input.
        list(pool.map(_noop, range(workers)))
    else:
        _init(scanner)
    cat = _CatFile(repo, shas)
    pending: list[Future] = []
    batch: list[tuple[str, bytes]] = []
    size = done = 0

    def flush() -> None:
        nonlocal batch, size
        if not batch:
            return
        if pool is None:
            for sha, r in _scan_blobs(batch):
                results[sha] = r
        else:
            pending.append(pool.submit(_scan_blobs, batch))
            while len(pending) > 2 * workers:  # bound memory: at most a few batches in flight
                for sha, r in pending.pop(0).result():
                    results[sha] = r
        batch, size = [], 0

    try:
        for sha, item in _blob_stream(cat, shas, scanner):
            done += 1
            if isinstance(item, Result):
                results[sha] = item
            else:
                batch.append((sha, item))
                size += len(item)
                if size >= BATCH_BYTES or len(batch) >= 512:
                    flush()
            if progress and done % 200 == 0:
                progress(done, len(shas))
        flush()
        for fut in pending:
            for sha, r in fut.result():
                results[sha] = r
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        cat.close()
    if progress:
        progress(len(shas), len(shas))
    return results


def scan_history(scanner: Scanner, repo: Path, since: str | None = None, workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> Result:
    check_repo(repo)
    revs = _revisions(repo, since)
    commits, blobs = _introductions(repo, revs)
    order = sorted(blobs, key=lambda b: min(blobs[b].values()))
    workers = workers if workers is not None else (os.cpu_count() or 1)
    blob_results = _scan_all_blobs(repo, scanner, order, workers, progress)

    out = Result()
    best: dict[tuple[str, str, str], tuple[int, Finding]] = {}
    for blob, res in blob_results.items():
        out.bytes_scanned += res.bytes_scanned
        out.files_scanned += 1
        for err in res.errors:
            path = next(iter(blobs.get(blob, {blob: 0})))
            out.errors.append(ScanError(path + err.path[len(blob):], err.message))
        for f in res.findings:
            inner = f.path[len(blob):]  # "" or "!member/inside/archive"
            for path, idx in blobs[blob].items():
                key = (f.rule, f.secret, path + inner)
                if key not in best or idx < best[key][0]:
                    best[key] = (idx, f)
    for (rule, secret, path), (idx, f) in best.items():
        c = commits[idx]
        out.findings.append(Finding(
            rule=f.rule, provider=f.provider, description=f.description, path=path, line=f.line,
            column=f.column, secret=f.secret, commit=c.sha, author=c.author, date=c.date, encoding=f.encoding,
            confidence=f.confidence))
    _scan_messages(repo, scanner, commits, out)
    out.findings.sort(key=lambda f: (f.date or "", f.path, f.line))
    return out


def _scan_messages(repo: Path, scanner: Scanner, commits: list[Commit], out: Result) -> None:
    """Commit messages and annotated-tag messages can hold keys too."""
    tags = []
    for line in _git(repo, "for-each-ref", "--format=%(objectname) %(objecttype) %(refname:short)",
                     "refs/tags").decode("utf-8", "replace").splitlines():
        sha, kind, name = line.split(" ", 2)
        if kind == "tag":
            tags.append((sha, name))
    by_sha = {c.sha: c for c in commits}
    targets = [c.sha for c in commits] + [t for t, _ in tags]
    names = dict(tags)
    cat = _CatFile(repo, targets)
    try:
        for _ in targets:
            sha, kind, size = cat.header()
            if kind == "missing":
                continue
            data = cat.read(size)
            cat.read(1)
            _, _, message = data.partition(b"\n\n")
            offset_lines = data[: len(data) - len(message)].count(b"\n")
            res = scanner.scan_bytes(message, sha)
            for f in res.findings:
                c = by_sha.get(sha)
                f.path = "(commit message)" if c else f"(tag {names.get(sha, sha)})"
                f.line += offset_lines
                if c:
                    f.commit, f.author, f.date = c.sha, c.author, c.date
                else:
                    f.commit = sha
                out.findings.append(f)
    finally:
        cat.close()


def scan_staged(scanner: Scanner, repo: Path) -> Result:
    """What `git commit` would record now: the staged version of every added or changed file."""
    check_repo(repo)
    names = [n for n in _git(repo, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMRT").split(b"\0") if n]
    out = Result()
    if not names:
        return out
    entries = []
    listing = _git(repo, "ls-files", "-s", "-z", "--", *[n.decode("utf-8", "surrogateescape") for n in names])
    for rec in listing.split(b"\0"):
        if not rec:
            continue
        meta, _, path = rec.partition(b"\t")
        mode, sha, stage = meta.split()
        if mode != b"160000" and stage == b"0":
            entries.append((sha.decode(), path.decode("utf-8", "surrogateescape")))
    cat = _CatFile(repo, [sha for sha, _ in entries])
    try:
        for _, path in entries:
            sha, kind, size = cat.header()
            reader = _Bounded(cat, size)
            out.extend(scanner.scan_reader(reader, path))
            reader.drain()
            cat.read(1)
    finally:
        cat.close()
    return out
