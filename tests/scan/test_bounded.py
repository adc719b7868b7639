"""Very large inputs are scanned in bounded memory: peak RSS of the scanning process is
measured (getrusage of a wrapper's only child), not assumed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import plant

GIB = 1 << 30
RSS_LIMIT_MB = 250  # interpreter + RE2 + rules + ~2 chunks of 8 MiB; far below the input size

# Runs `python -m jackstop scan ...` as its only child, then prints the child's peak RSS.
WRAPPER = r"""
import json, resource, subprocess, sys
proc = subprocess.run([sys.executable, "-m", "jackstop", *sys.argv[1:]], stdin=sys.stdin,
                      capture_output=True)
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": proc.returncode, "out": proc.stdout.decode(), "err": proc.stderr.decode(),
                  "peak_mb": peak_kb / 1024}))
"""


def _run(args: list[str], stdin=None) -> dict:
    out = subprocess.run([sys.executable, "-c", WRAPPER, *args], stdin=stdin, capture_output=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.slow
def test_one_gib_file_is_scanned_to_the_end_in_bounded_memory(tmp_path: Path, rng) -> None:
    p = plant("anthropic-api-key", rng)
    big = tmp_path / "huge.log"
    with open(big, "wb") as f:
        f.write(b"2026-04-27 server started\n" * 400)  # 10 KB of text, then a sparse 1 GiB hole
        f.seek(GIB - 400)
        f.write(b"\nleaked " + p.secret.encode() + b"\n")
    assert big.stat().st_size > GIB - 500
    r = _run(["scan", str(big), "--format", "json", "--show-secrets"])
    assert r["code"] == 1, r["err"]
    (finding,) = json.loads(r["out"])["findings"]
    assert finding["secret"] == p.secret and finding["line"] == 402
    assert r["peak_mb"] < RSS_LIMIT_MB, f"peak RSS {r['peak_mb']:.0f} MB for a 1 GiB file"


@pytest.mark.slow
def test_a_long_stream_on_standard_input_in_bounded_memory(tmp_path: Path, rng) -> None:
    p = plant("openrouter-api-key", rng)
    block = b"".join(b"INFO request id=%06d path=/v1/chat/completions status=200 took=12ms\n" % i for i in range(4000))
    src = tmp_path / "stream.txt"
    with open(src, "wb") as f:
        for _ in range((160 << 20) // len(block)):
            f.write(block)
        f.write(p.text.encode() + b"\n")
    lines = sum(1 for _ in open(src, "rb"))
    with open(src, "rb") as stdin:
        r = _run(["scan", "-", "--format", "json", "--show-secrets"], stdin=stdin)
    assert r["code"] == 1, r["err"]
    (finding,) = json.loads(r["out"])["findings"]
    assert (finding["secret"], finding["line"]) == (p.secret, lines)
    assert r["peak_mb"] < RSS_LIMIT_MB, f"peak RSS {r['peak_mb']:.0f} MB for a 160 MiB stream"


def test_jackstop_scan_of_its_own_repository_is_clean() -> None:
    """Everything in this repository is a template or placeholder, or allowlisted on purpose."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    proc = subprocess.run([sys.executable, "-m", "jackstop", "scan", str(root), "--respect-gitignore",
                           "--format", "json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
