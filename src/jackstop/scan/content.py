"""What a file is (text, UTF-16 text, binary, archive) and its text as a stream of bytes."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator

SNIFF = 8192

ZIP, TAR, GZIP, BZIP2, XZ = "zip", "tar", "gzip", "bzip2", "xz"
ARCHIVES = (ZIP, TAR, GZIP, BZIP2, XZ)
TEXT, UTF16LE, UTF16BE, BINARY = "text", "utf-16-le", "utf-16-be", "binary"


def sniff(head: bytes) -> str:
    """Classify by content, never by name: a key in a misnamed file is still a key."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return ZIP
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    if head.startswith(b"BZh") and len(head) > 4 and head[3:4].isdigit():
        return BZIP2
    if head.startswith(b"\xfd7zXZ\x00"):
        return XZ
    if len(head) > 262 and head[257:262] == b"ustar":
        return TAR
    if head.startswith(codecs.BOM_UTF16_LE):
        return UTF16LE
    if head.startswith(codecs.BOM_UTF16_BE):
        return UTF16BE
    if b"\x00" not in head:
        return TEXT
    sample = head[:4096]
    even_nul = sample[0::2].count(0)
    odd_nul = sample[1::2].count(0)
    half = len(sample) // 2 or 1
    if odd_nul > 0.6 * half and even_nul < 0.1 * half:
        return UTF16LE  # ASCII text as UTF-16 without a BOM: every second byte is NUL
    if even_nul > 0.6 * half and odd_nul < 0.1 * half:
        return UTF16BE
    return BINARY


def as_text_chunks(kind: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Chunks of ASCII-compatible bytes to scan. UTF-8, Latin-1 and other single-byte text
    pass through unchanged (keys are ASCII); UTF-16 is transcoded to UTF-8 incrementally."""
    if kind == TEXT:
        yield from chunks
        return
    decoder = codecs.getincrementaldecoder("utf-16-be" if kind == UTF16BE else "utf-16-le")(errors="replace")
    first = True
    for chunk in chunks:
        text = decoder.decode(chunk)
        if first:
            text = text.lstrip("\ufeff")
            first = False
        yield text.encode("utf-8", "surrogatepass")
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail.encode("utf-8", "surrogatepass")
