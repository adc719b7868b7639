"""The constant pool of a JVM class file: the names a class refers to (classes, methods, fields)
and the string literals it holds. Enough to see what a plugin reads and where it connects,
without a decompiler (JVM spec, chapter 4.4)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = 0xCAFEBABE
# tag -> size of the entry after the tag byte (Utf8 is variable: handled apart)
_FIXED = {3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 2, 9: 4, 10: 4, 11: 4, 12: 4, 15: 3, 16: 2, 17: 4, 18: 4, 19: 2, 20: 2}
UTF8, CLASS, STRING = 1, 7, 8


class ClassFormatError(ValueError):
    """Not a class file, or one cut short."""


@dataclass(frozen=True)
class ConstantPool:
    names: frozenset[str]  # every Utf8 entry: class, method, field names and descriptors, literals
    strings: tuple[str, ...]  # the String entries: the class's string literals, in pool order
    classes: frozenset[str]  # the classes it refers to, internal form (java/net/URL)


def _modified_utf8(raw: bytes) -> str:
    """Java's modified UTF-8: NUL as C0 80, characters beyond the BMP as two 3-byte surrogates."""
    text = raw.replace(b"\xc0\x80", b"\x00").decode("utf-8", "surrogatepass")
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:  # a lone surrogate: keep what can be kept
        return text.encode("utf-8", "replace").decode("utf-8", "replace")


def read_constant_pool(data: bytes) -> ConstantPool:
    if len(data) < 10 or struct.unpack_from(">I", data, 0)[0] != MAGIC:
        raise ClassFormatError("not a class file (no CAFEBABE magic)")
    count = struct.unpack_from(">H", data, 8)[0]
    utf8: dict[int, str] = {}
    string_refs: list[int] = []
    class_refs: list[int] = []
    pos, index = 10, 1
    try:
        while index < count:
            tag = data[pos]
            pos += 1
            if tag == UTF8:
                (length,) = struct.unpack_from(">H", data, pos)
                pos += 2
                if pos + length > len(data):
                    raise ClassFormatError("class file cut short inside its constant pool")
                utf8[index] = _modified_utf8(data[pos:pos + length])
                pos += length
            elif tag in _FIXED:
                if tag in (STRING, CLASS):
                    (ref,) = struct.unpack_from(">H", data, pos)
                    (string_refs if tag == STRING else class_refs).append(ref)
                pos += _FIXED[tag]
                if tag in (5, 6):  # long and double take two slots
                    index += 1
            else:
                raise ClassFormatError(f"unknown constant pool tag {tag} at entry {index}")
            index += 1
    except (struct.error, IndexError):
        raise ClassFormatError("class file cut short inside its constant pool") from None
    return ConstantPool(
        names=frozenset(utf8.values()),
        strings=tuple(utf8[i] for i in string_refs if i in utf8),
        classes=frozenset(utf8[i] for i in class_refs if i in utf8),
    )
