"""Archive members as readers, with limits that turn zip bombs into a refusal, not a crash.

Limits apply per top-level input: nesting depth, total unpacked bytes, member count, and
the compression ratio of each member (zip) or stream (gzip, bzip2, xz).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from jackstop.scan import content

RATIO_SLACK = 1 << 20  # small members may compress very well; judge ratio past 1 MiB


@dataclass(frozen=True)
class Limits:
    max_depth: int = 5
    max_total: int = 1 << 30  # unpacked bytes per top-level input
    max_ratio: float = 100.0
    max_members: int = 100_000


class ArchiveRefused(Exception):
    """An archive (or part of one) was not unpacked; the message says why and how to allow it."""


class Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.unpacked = 0
        self.members = 0

    def add_member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveRefused(
                f"more than {self.limits.max_members} archive members; raise --max-archive-members to scan them"
            )

    def spend(self, n: int) -> None:
        self.unpacked += n
        if self.unpacked > self.limits.max_total:
            raise ArchiveRefused(
                f"unpacks to more than {self.limits.max_total >> 20} MiB (zip bomb?); "
                "raise --max-archive-bytes to scan it"
            )


class _Counting:
    """Counts the compressed bytes a decompressor has consumed."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        return data

    def readable(self) -> bool:
        return True


class _Guarded:
    """A reader that charges every byte to the budget and enforces a ratio against `source`."""

    def __init__(self, inner: BinaryIO, budget: Budget, what: str, source: _Counting | None = None,
                 declared: int | None = None) -> None:
        self.inner, self.budget, self.what, self.source, self.declared = inner, budget, what, source, declared
        self.out = 0

    def read(self, n: int = -1) -> bytes:
        try:
            data = self.inner.read(n if n and n > 0 else 1 << 20)
        except (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, tarfile.TarError) as exc:
            raise ArchiveRefused(f"{self.what}: damaged or truncated ({exc})") from None
        self.out += len(data)
        self.budget.spend(len(data))
        if self.declared is not None and self.out > self.declared:
            raise ArchiveRefused(f"{self.what}: member is larger than its header says (malformed or hostile archive)")
        if self.source is not None and self.out > RATIO_SLACK:
            ratio = self.out / max(self.source.count, 1)
            if ratio > self.budget.limits.max_ratio:
                raise ArchiveRefused(
                    f"{self.what}: compression ratio above {self.budget.limits.max_ratio:.0f}:1 (zip bomb?); "
                    "raise --max-archive-ratio to scan it"
                )
        return data

    def readable(self) -> bool:
        return True


def spool(reader: BinaryIO, head: bytes) -> BinaryIO:
    """A seekable copy (memory up to 32 MiB, then a temporary file) for formats that need seeking."""
    tmp = tempfile.SpooledTemporaryFile(max_size=32 << 20)
    tmp.write(head)
    shutil.copyfileobj(reader, tmp, 1 << 20)
    tmp.seek(0)
    return tmp


def decompress(reader: BinaryIO, kind: str, budget: Budget, what: str) -> BinaryIO:
    counting = _Counting(reader)
    opener = {content.GZIP: gzip.GzipFile, content.BZIP2: bz2.BZ2File, content.XZ: lzma.LZMAFile}[kind]
    stream = opener(fileobj=counting) if kind == content.GZIP else opener(counting)
    return _Guarded(stream, budget, what, source=counting)


def zip_members(f: BinaryIO, budget: Budget, what: str) -> Iterator[tuple[str, BinaryIO]]:
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveRefused(f"{what}: not a readable zip ({exc})") from None
    limits = budget.limits
    for info in zf.infolist():
        if info.is_dir():
            continue
        budget.add_member()
        if info.file_size > RATIO_SLACK and info.file_size / max(info.compress_size, 1) > limits.max_ratio:
            raise ArchiveRefused(
                f"{what}!{info.filename}: compression ratio {info.file_size // max(info.compress_size, 1)}:1 "
                f"exceeds {limits.max_ratio:.0f}:1 (zip bomb?); raise --max-archive-ratio to scan it"
            )
        if budget.unpacked + info.file_size > limits.max_total:
            raise ArchiveRefused(
                f"{what}: members unpack to more than {limits.max_total >> 20} MiB (zip bomb?); "
                "raise --max-archive-bytes to scan it"
            )
        if info.flag_bits & 0x1:
            raise ArchiveRefused(f"{what}!{info.filename}: encrypted member, cannot be scanned")
        try:
            member = zf.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
            raise ArchiveRefused(f"{what}!{info.filename}: cannot unpack ({exc})") from None
        with member:
            yield info.filename, _Guarded(member, budget, f"{what}!{info.filename}", declared=info.file_size)


def tar_members(f: BinaryIO, budget: Budget, what: str) -> Iterator[tuple[str, BinaryIO]]:
    try:
        tf = tarfile.open(fileobj=f, mode="r|")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveRefused(f"{what}: not a readable tar ({exc})") from None
    try:
        for member in tf:
            if not member.isfile():
                continue
            budget.add_member()
            extracted = tf.extractfile(member)
            if extracted is None:
                continue
            yield member.name, _Guarded(extracted, budget, f"{what}!{member.name}", declared=member.size)
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        raise ArchiveRefused(f"{what}: damaged archive ({exc})") from None

