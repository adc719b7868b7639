"""Archives are unpacked recursively; bombs and deep nesting are refused with a message."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile

import pytest

from jackstop.scan import archives
from jackstop.scan.rules import load
from jackstop.scan.scanner import Scanner

from .helpers import plant


def _zip(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return b.getvalue()


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return b.getvalue()


def _found(result) -> list[tuple[str, str]]:
    return sorted((f.path, f.secret) for f in result.findings)


@pytest.mark.parametrize("name, pack", [
    ("app.zip", lambda m: _zip(m)),
    ("lib.whl", lambda m: _zip(m)),
    ("app.jar", lambda m: _zip(m, zipfile.ZIP_STORED)),
    ("app.apk", lambda m: _zip(m)),
    ("App.ipa", lambda m: _zip(m)),
    ("src.tar", lambda m: _tar(m)),
    ("src.tar.gz", lambda m: _tar(m, "w:gz")),
    ("src.tar.bz2", lambda m: _tar(m, "w:bz2")),
    ("src.tar.xz", lambda m: _tar(m, "w:xz")),
])
def test_each_archive_format(scanner, rng, name, pack) -> None:
    p = plant("openrouter-api-key", rng)
    data = pack({"assets/config.json": f'{{"key": "{p.secret}"}}'.encode(), "logo.png": b"\x89PNG\x00\x00"})
    assert _found(scanner.scan_bytes(data, name)) == [(f"{name}!assets/config.json", p.secret)]


@pytest.mark.parametrize("compress, suffix", [(gzip.compress, ".gz"), (bz2.compress, ".bz2"), (lzma.compress, ".xz")])
def test_a_single_compressed_file(scanner, rng, compress, suffix) -> None:
    p = plant("groq-api-key", rng)
    assert _found(scanner.scan_bytes(compress(p.text.encode()), "dump.sql" + suffix)) == [
        (f"dump.sql{suffix}!dump.sql", p.secret)]


def test_zip_inside_tar_gz_inside_zip(scanner, rng) -> None:
    p = plant("cerebras-api-key", rng)
    inner = _zip({"deep/secret.env": p.text.encode()})
    middle = _tar({"bundle.zip": inner}, "w:gz")
    outer = _zip({"release.tar.gz": middle})
    assert _found(scanner.scan_bytes(outer, "a.zip")) == [("a.zip!release.tar.gz!bundle.zip!deep/secret.env", p.secret)]


def test_zip_bomb_is_refused_by_ratio(scanner) -> None:
    bomb = _zip({"zeros.txt": b"0" * (64 << 20)})
    res = scanner.scan_bytes(bomb, "bomb.zip")
    assert res.findings == []
    (err,) = res.errors
    assert "compression ratio" in err.message and "--max-archive-ratio" in err.message


def test_gzip_bomb_is_refused_while_streaming(scanner) -> None:
    bomb = gzip.compress(b"0" * (64 << 20), compresslevel=9)
    res = scanner.scan_bytes(bomb, "bomb.gz")
    (err,) = res.errors
    assert "compression ratio" in err.message


def test_total_unpacked_size_is_limited(rng) -> None:
    small = Scanner(load(), archives.Limits(max_total=1 << 20))
    data = _tar({f"f{i}.txt": bytes(range(32, 127)) * 3000 for i in range(5)})  # ~1.4 MB, ratio ~1
    res = small.scan_bytes(data, "big.tar")
    (err,) = res.errors
    assert "more than 1 MiB" in err.message and "--max-archive-bytes" in err.message


def test_too_deeply_nested_archives_are_refused(scanner, rng) -> None:
    p = plant("groq-api-key", rng)
    data = p.text.encode()
    for i in range(8):
        data = _zip({f"level{i}.zip" if i else "key.txt": data})
    res = scanner.scan_bytes(data, "nest.zip")
    assert res.findings == []
    assert any("nested more than 5 deep" in e.message and "--max-archive-depth" in e.message for e in res.errors)
    deep = Scanner(load(), archives.Limits(max_depth=10)).scan_bytes(data, "nest.zip")
    assert [f.secret for f in deep.findings] == [p.secret]


def test_damaged_archives_are_reported_not_raised(scanner) -> None:
    good = _zip({"a.txt": b"hello"})
    res = scanner.scan_bytes(good[:30] + b"\x00" * 50 + good[80:], "broken.zip")
    assert res.findings == [] and res.errors and "zip" in res.errors[0].message
    res = scanner.scan_bytes(gzip.compress(b"x" * 1000)[:-12], "cut.gz")
    assert res.findings == [] and res.errors


def test_encrypted_member_is_reported(scanner) -> None:
    data = bytearray(_zip({"a.txt": b"hello"}, zipfile.ZIP_STORED))
    data[6] |= 1  # local header: encrypted flag
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 8] |= 1  # central directory: encrypted flag
    res = scanner.scan_bytes(bytes(data), "locked.zip")
    assert any("encrypted" in e.message for e in res.errors)
