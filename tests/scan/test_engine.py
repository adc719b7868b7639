"""The detection engine: chunk boundaries, encodings, base64, suppression, line numbers."""

from __future__ import annotations

import base64
import random

import pytest

from jackstop.scan import engine
from jackstop.scan.engine import Detector
from jackstop.scan.rules import load

from .helpers import plant


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load())


def _ids(hits) -> list[tuple[str, str, int]]:
    return [(h.rule.id, h.secret.decode(), h.line) for h in hits]


def test_line_and_column_are_reported(detector, rng) -> None:
    p = plant("groq-api-key", rng)
    data = f"a\nb\n    {p.secret}\n".encode()
    (hit,) = detector.scan_buffer(data)
    assert (hit.line, hit.column) == (3, 5)


@pytest.mark.parametrize("shift", [-40, -20, -1, 0, 1, 20])
def test_a_key_across_a_chunk_boundary_is_found_once(detector, rng, monkeypatch, shift) -> None:
    monkeypatch.setattr(engine, "CHUNK", 4096)
    monkeypatch.setattr(engine, "OVERLAP", 1024)
    p = plant("anthropic-api-key", rng)
    filler = b"x = 1\n" * 2000
    cut = 4096 + shift
    data = filler[:cut] + b" " + p.secret.encode() + b"\n" + filler
    chunks = [data[i:i + 1000] for i in range(0, len(data), 1000)]
    hits = detector.scan_stream(chunks)
    assert _ids(hits) == [("anthropic-api-key", p.secret, filler[:cut].count(b"\n") + 1)]


def test_many_chunks_keep_line_numbers(detector, rng, monkeypatch) -> None:
    monkeypatch.setattr(engine, "CHUNK", 2048)
    monkeypatch.setattr(engine, "OVERLAP", 512)
    keys = [plant("openrouter-api-key", rng) for _ in range(5)]
    lines = []
    for i in range(3000):
        lines.append(keys[i // 700].secret if i % 700 == 699 else f"line {i}")
    hits = detector.scan_stream([("\n".join(lines) + "\n").encode()])
    assert [(h.secret.decode(), h.line) for h in hits] == [(keys[i].secret, 700 * (i + 1)) for i in range(4)]


@pytest.mark.parametrize("comment", ["# jackstop:allow", "// jackstop:allow", "/* jackstop:allow */", "<!-- jackstop:allow -->"])
def test_allow_comment_on_the_line_suppresses_it(detector, rng, comment) -> None:
    p = plant("groq-api-key", rng)
    assert detector.scan_buffer(f'KEY = "{p.secret}"  {comment}\n'.encode()) == []
    assert len(detector.scan_buffer(f'KEY = "{p.secret}"\n{comment}\n'.encode())) == 1  # other line: reported


def test_base64_blob_that_decodes_to_a_key(detector, rng) -> None:
    p = plant("anthropic-api-key", rng)
    blob = base64.b64encode(f"ANTHROPIC_API_KEY={p.secret}\nOTHER=1\n".encode()).decode()
    hits = detector.scan_buffer(f"line\nsecret: {blob}\n".encode())
    assert [(h.rule.id, h.secret.decode(), h.line, h.encoding) for h in hits] == [
        ("anthropic-api-key", p.secret, 2, "base64")]


def test_base64_of_binary_or_hashes_is_ignored(detector) -> None:
    rnd = random.Random(1)
    blobs = [base64.b64encode(bytes(rnd.randrange(256) for _ in range(300))).decode() for _ in range(20)]
    assert detector.scan_buffer(("\n".join(blobs)).encode()) == []


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "latin-1", "cp1252", "utf-8-sig"])
def test_text_in_other_encodings(scanner, rng, encoding) -> None:
    p = plant("openai-project-key", rng)
    text = f"# café – réglages\nOPENAI_API_KEY={p.secret}\n"
    res = scanner.scan_bytes(text.encode(encoding, errors="replace"), "f.txt")
    assert [(f.rule, f.secret, f.line) for f in res.findings] == [("openai-project-key", p.secret, 2)]


def test_binary_files_are_skipped(scanner, rng) -> None:
    p = plant("groq-api-key", rng)
    data = bytes(range(256)) * 4 + p.secret.encode() + b"\x00\x01"
    assert scanner.scan_bytes(data, "blob.bin").findings == []


def test_minified_javascript_on_one_long_line(scanner, rng) -> None:
    keys = [plant("google-api-key", rng), plant("openai-project-key", rng)]
    body = ";".join(f"var a{i}=function(){{return {i}}}" for i in range(20000))
    js = f'{body};var k="{keys[0].secret}";{body};fetch(u,{{headers:{{Authorization:"Bearer {keys[1].secret}"}}}});{body}'
    res = scanner.scan_bytes(js.encode(), "app.min.js")
    assert sorted((f.rule, f.secret, f.line) for f in res.findings) == sorted(
        [("google-api-key", keys[0].secret, 1), ("openai-project-key", keys[1].secret, 1)])


def test_env_json_yaml_toml_and_notebook_forms(scanner, rng) -> None:
    p = plant("xai-api-key", rng)
    docs = {
        ".env": f"XAI_API_KEY={p.secret}\n",
        "c.json": f'{{"xai": {{"key": "{p.secret}"}}}}',
        "c.yaml": f"xai:\n  api_key: '{p.secret}'\n",
        "c.toml": f'[xai]\napi_key = "{p.secret}"\n',
        "n.ipynb": '{"cells": [{"outputs": [{"text": ["key is ' + p.secret + '\\n"]}]}]}',
    }
    for name, text in docs.items():
        assert [(f.rule, f.secret) for f in scanner.scan_bytes(text.encode(), name).findings] == [
            ("xai-api-key", p.secret)], name


def test_placeholder_values_are_not_reported(detector) -> None:
    for text in ["sk-ant-api03-" + "x" * 93 + "AA", "AIza" + "A" * 35, "pplx-" + "abcdefghijklmnopqrstuvwxyz" * 2,
                 "gsk_" + "0123456789" * 5 + "ab", "OPENAI_API_KEY=sk-proj-YOUR_KEY_HERE",
                 "hf_EXAMPLEexampleEXAMPLEexampleEXAMPLEx"]:
        assert detector.scan_buffer(text.encode()) == [], text


def test_the_pure_re_fallback_finds_the_same(rng) -> None:
    fallback = Detector(load(), force_re=True)
    p1, p2 = plant("azure-openai-key-context", rng), plant("groq-api-key", rng)
    data = f"Azure_OpenAI_Key = {p1.secret}\nGROQ={p2.secret}\n".encode()
    assert _ids(fallback.scan_buffer(data)) == _ids(Detector(load()).scan_buffer(data))
    assert len(_ids(fallback.scan_buffer(data))) == 2


@pytest.mark.parametrize("rule_id", ["mistral-api-key", "azure-openai-key-context", "huggingface-token",
                                     "anthropic-api-key", "cohere-api-key"])
def test_keys_inside_json_escaped_strings(scanner, rng, rule_id) -> None:
    """Notebook outputs and JSON logs escape quotes and newlines: \\" and \\n around the key."""
    import json

    p = plant(rule_id, rng)
    doc = json.dumps({"outputs": [{"text": f"started\n{p.text}\n", "html": f'<b>"{p.text}"</b>'}]})
    found = {(f.rule, f.secret) for f in scanner.scan_bytes(doc.encode(), "nb.ipynb").findings}
    assert (rule_id, p.secret) in found, doc
