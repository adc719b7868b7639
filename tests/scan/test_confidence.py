"""Confidence levels, test-path lowering, --min-confidence, and the context filters that keep
documentation shapes out of the report."""

from __future__ import annotations

import json

import pytest

from jackstop.scan import context, rules
from jackstop.scan.prefilter import Prefilter

from .helpers import plant, run_cli


def _scan(root, *extra: str) -> tuple[int, list[dict], str]:
    res = run_cli("scan", str(root), "--format", "json", "--show-secrets", *extra)
    return res.code, json.loads(res.out)["findings"] if res.out else [], res.err


def test_each_finding_carries_its_rules_confidence(tmp_path, rng) -> None:
    groq, mistral, generic = plant("groq-api-key", rng), plant("mistral-api-key", rng), plant("ai-setting-key", rng)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "settings.env").write_text("\n".join(p.text for p in (groq, mistral, generic)) + "\n")
    code, found, _ = _scan(tmp_path)
    got = {f["secret"]: (f["rule"], f["confidence"]) for f in found}
    assert code == 1
    assert got == {groq.secret: ("groq-api-key", "high"), mistral.secret: ("mistral-api-key", "medium"),
                   generic.secret: ("ai-setting-key", "low")}


def test_a_key_in_a_test_path_is_kept_one_level_lower_and_min_confidence_filters(tmp_path, rng) -> None:
    prod, fixture = plant("groq-api-key", rng), plant("groq-api-key", rng)
    (tmp_path / "src").mkdir()
    (tmp_path / "tests" / "fixtures").mkdir(parents=True)
    (tmp_path / "src" / "llm.py").write_text(prod.text + "\n")
    (tmp_path / "tests" / "fixtures" / "conf.py").write_text(fixture.text + "\n")
    _, found, _ = _scan(tmp_path)
    assert {f["secret"]: f["confidence"] for f in found} == {prod.secret: "high", fixture.secret: "medium"}
    code, found, err = _scan(tmp_path, "--min-confidence", "high")
    assert code == 1 and [f["secret"] for f in found] == [prod.secret]
    assert "1 below --min-confidence high not shown" in err
    (tmp_path / "src" / "llm.py").unlink()
    code, found, _ = _scan(tmp_path, "--min-confidence", "high")
    assert code == 0 and found == []  # nothing at or above the bar: a clean exit


@pytest.mark.parametrize("path, sample", [
    ("tests/test_client.py", True), ("pkg/tests/data/x.json", True), ("src/foo_test.go", True),
    ("web/app.spec.ts", True), ("docs/setup.md", True), ("examples/quickstart.py", True), (".env.example", True),
    ("README.rst", True), ("bundle.whl!pkg/tests/conf.py", True),
    ("src/app/settings.py", False), ("config/prod.env", False), ("attestation/main.py", False),
    ("contest/app.py", False), ("latest/config.yaml", False),
])
def test_sample_paths(path: str, sample: bool) -> None:
    assert context.is_sample_path(path) is sample


def test_keys_shown_cut_short_are_not_reported(tmp_path, rng) -> None:
    key = plant("anthropic-oauth-access-token", rng).secret
    (tmp_path / "docs.txt").write_text(f"CLAUDE_CODE_OAUTH_TOKEN={key[:100]}...\nTOKEN={key[:100]}\u2026\n"
                                       f'{{"t": "{key[:100]}\\u2026"}}\n')
    assert _scan(tmp_path)[1] == []
    (tmp_path / "real.env").write_text(f"CLAUDE_CODE_OAUTH_TOKEN={key}\n")
    assert [f["secret"] for f in _scan(tmp_path)[1]] == [key]


def test_a_key_inside_a_longer_match_is_reported_once(tmp_path, rng) -> None:
    fal = plant("fal-api-key", rng)
    (tmp_path / ".env").write_text(fal.text + "\n")
    found = _scan(tmp_path)[1]
    assert [(f["rule"], f["secret"]) for f in found] == [("fal-api-key", fal.secret)]


@pytest.mark.parametrize("force_re", [False, True])
def test_prefilter_reports_overlapping_keywords(force_re: bool) -> None:
    pf = Prefilter([("api_key", False), ("key=", True), ("openai_", True)], force_re=force_re)
    data = b"x = OPENAI_API_KEY=1 and url?api_key=2"
    hits = sorted((pf.keywords[i][0], off) for i, off in pf.hits(data))
    at = data.find
    assert hits == sorted([("api_key", at(b"api_key")), ("key=", at(b"KEY=")), ("key=", at(b"key=2")),
                           ("openai_", at(b"OPENAI_"))])


def test_confidence_is_validated_in_the_rules_file() -> None:
    with pytest.raises(rules.RulesError, match="confidence must be one of low, medium, high"):
        rules.parse("[[rule]]\nid='x'\nprovider='p'\ndescription='d'\nregex='a'\nkeywords=['a']\nconfidence='sure'\n")
    assert {r.confidence for r in rules.load().rules} == {"low", "medium", "high"}


def test_sarif_level_follows_confidence(tmp_path, rng) -> None:
    (tmp_path / "a.env").write_text(plant("groq-api-key", rng).text + "\n" + plant("ai-setting-key", rng).text + "\n")
    res = run_cli("scan", str(tmp_path), "--format", "sarif")
    levels = sorted(r["level"] for r in json.loads(res.out)["runs"][0]["results"])
    assert levels == ["error", "note"]


def test_a_bedrock_short_term_key_is_one_finding_not_also_its_inner_access_key(tmp_path, rng) -> None:
    import base64
    import string

    akid = "ASIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
    url = (f"bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Credential={akid}%2F20260101%2Fus-east-1"
           f"%2Fbedrock%2Faws4_request&X-Amz-Security-Token={''.join(rng.choice(string.ascii_letters) for _ in range(200))}")
    key = "bedrock-api-key-" + base64.b64encode(url.encode()).decode()
    (tmp_path / ".env").write_text(f"AWS_BEARER_TOKEN_BEDROCK={key}\n")
    assert [(f["rule"], f["secret"]) for f in _scan(tmp_path)[1]] == [("aws-bedrock-short-term-key", key)]
    (tmp_path / "k8s.yaml").write_text(f"data:\n  creds: {base64.b64encode(url.encode()).decode()}\n")
    rules_found = {f["rule"] for f in _scan(tmp_path)[1]}
    assert "aws-access-key-id" in rules_found  # the same URL on its own still shows its access key


def test_keys_the_providers_publish_as_examples_are_not_reported(tmp_path, rng) -> None:
    import hashlib

    from jackstop.scan.engine import Detector

    # Google's docs show this Firebase web-config key; split so this file holds no key-shaped literal.
    published = "AIzaSyDaGmWKa4JsXZ" + "-HjGw7ISLn_3namBGewQe"
    detector = Detector(rules.load())
    assert detector.scan_buffer(f'apiKey: "{published}"'.encode()) == []
    mine = plant("google-api-key", rng)
    assert [h.secret.decode() for h in detector.scan_buffer(mine.text.encode())] == [mine.secret]
    custom = (tmp_path / "rules.toml")
    base = rules.load()
    text = f'documented_examples = ["{hashlib.sha256(mine.secret.encode()).hexdigest()}"]\n' + \
        "[[rule]]\nid='g'\nprovider='google'\ndescription='d'\nregex='AIza[0-9A-Za-z_-]{35}'\nkeywords=['AIza']\n"
    custom.write_text(text)
    assert base.documented and Detector(rules.load(custom)).scan_buffer(mine.text.encode()) == []
    with pytest.raises(rules.RulesError, match="SHA-256"):
        rules.parse('documented_examples = ["nope"]\n' + text.split("\n", 1)[1])


def test_a_jackstop_key_in_a_provider_setting_is_named_by_the_most_specific_rule(tmp_path, rng) -> None:
    from jackstop.scan import samples

    key = samples._jackstop_token("jsk_", rng)
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={key}\n")
    found = _scan(tmp_path)[1]
    assert [(f["rule"], f["secret"], f["confidence"]) for f in found] == [("jackstop-virtual-key", key, "high")]
