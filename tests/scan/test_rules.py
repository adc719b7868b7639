"""Every rule's own examples, the rules file's validation, and generated keys/near-misses."""

from __future__ import annotations

import random
import re
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jackstop import keys
from jackstop.scan import rules, samples, validators
from jackstop.scan.engine import Detector

RULES = rules.load()
DETECTOR = Detector(RULES)


def found(text: str) -> set[tuple[str, str]]:
    return {(h.rule.id, h.secret.decode()) for h in DETECTOR.scan_buffer(text.encode())}


@pytest.mark.parametrize("rule", RULES.rules, ids=lambda r: r.id)
def test_positive_examples_are_found_with_the_exact_secret(rule: rules.Rule) -> None:
    assert rule.examples, f"{rule.id} has no examples"
    rng = random.Random(rule.id)
    for template in rule.examples:
        for _ in range(5):
            text, secret = samples.expand(template, rng)
            assert (rule.id, secret) in found(text), text


@pytest.mark.parametrize("rule", RULES.rules, ids=lambda r: r.id)
def test_negative_examples_are_not_reported(rule: rules.Rule) -> None:
    assert rule.negatives, f"{rule.id} has no negative examples"
    rng = random.Random(rule.id)
    for template in rule.negatives:
        text, _ = samples.expand(template, rng)
        assert found(text) == set(), text


def test_every_rule_cites_a_source_and_the_issue_providers_are_covered() -> None:
    assert all(r.source for r in RULES.rules)
    providers = {r.provider for r in RULES.rules}
    for p in ("openai", "anthropic", "google", "azure-openai", "aws", "xai", "groq", "huggingface", "replicate",
              "perplexity", "openrouter", "deepseek", "mistral", "cohere", "together", "fireworks", "cerebras",
              "nvidia", "langsmith", "jackstop", "netrc", "url",
              # AI-application coverage: hosted open models, speech/image/video, cloud access, vector
              # databases and embeddings, observability, agent tools, and keys found by context
              "deepinfra", "anyscale", "elevenlabs", "deepgram", "assemblyai", "stability", "runway", "leonardo",
              "fal", "aws-bedrock", "azure-ai", "pinecone", "weaviate", "qdrant", "voyage", "jina", "langfuse",
              "helicone", "wandb", "braintrust", "tavily", "serpapi", "exa", "firecrawl", "browserbase", "serper",
              "generic-ai"):
        assert p in providers, p
    # A key without a distinctive format is never reported as high confidence.
    for r in RULES.rules:
        if (r.ignore_case and r.validator == "random_token") or r.provider == "generic-ai":
            assert r.confidence != "high", r.id
    ids = {r.id for r in RULES.rules}
    for rid in ("openai-user-key", "anthropic-oauth-access-token", "anthropic-oauth-refresh-token",
                "azure-openai-key-84", "google-gemini-auth-key", "openai-admin-key", "anthropic-admin-key"):
        assert rid in ids


def test_the_rules_file_holds_no_literal_key() -> None:
    """Scanning the data file itself reports nothing: examples are templates."""
    from importlib import resources

    data = resources.files("jackstop.scan").joinpath("rules.toml").read_bytes()
    assert DETECTOR.scan_buffer(data) == []


@pytest.mark.parametrize("bad, message", [
    ("", "defines no [[rule]]"),
    ("[[rule]]\nid='x'\n", "missing field 'provider'"),
    ("[[rule]]\nid='x'\nprovider='p'\ndescription='d'\nregex='('\nkeywords=['a']\n", "bad regex"),
    ("[[rule]]\nid='x'\nprovider='p'\ndescription='d'\nregex='a'\nkeywords=[]\n", "keywords must be"),
    ("[[rule]]\nid='x'\nprovider='p'\ndescription='d'\nregex='a'\nkeywords=['a']\nvalidator='nope'\n",
     "unknown validator 'nope'"),
    ("[[rule]]\nid='x'\nprovider='p'\ndescription='d'\nregex='a'\nkeywords=['a']\n" * 2, "duplicate rule ids: x"),
    ("not toml [", "not valid TOML"),
])
def test_malformed_rules_files_name_the_problem(bad: str, message: str) -> None:
    with pytest.raises(rules.RulesError, match=re.escape(message)):
        rules.parse(bad)


# -- generated keys ----------------------------------------------------------------------------
BASE62 = string.ascii_letters + string.digits
URLSAFE = BASE62 + "_-"


def body(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=n, max_size=n).filter(
        lambda s: not validators.looks_like_placeholder(s) and validators.shannon_entropy(s) >= 3.6)


FORMATS = {
    "openai-project-key": st.builds(lambda a, b: f"sk-proj-{a}T3BlbkFJ{b}", body(URLSAFE, 74), body(URLSAFE, 74)),
    "openai-user-key": st.builds(lambda a, b: f"sk-None-{a}T3BlbkFJ{b}", body(URLSAFE, 58), body(URLSAFE, 58)),
    "openai-legacy-key": st.builds(lambda a, b: f"sk-{a}T3BlbkFJ{b}", body(BASE62, 20), body(BASE62, 20)),
    "anthropic-api-key": st.builds(lambda a: f"sk-ant-api03-{a}AA", body(URLSAFE, 93)),
    "anthropic-oauth-access-token": st.builds(lambda a: f"sk-ant-oat01-{a}AA", body(URLSAFE, 93)),
    "google-api-key": st.builds(lambda a: f"AIza{a}", body(URLSAFE, 35)),
    "google-gemini-auth-key": st.builds(lambda a: f"AQ.Ab8RN6{a}", body(URLSAFE, 44)),
    "groq-api-key": st.builds(lambda a: f"gsk_{a}", body(BASE62, 52)),
    "xai-api-key": st.builds(lambda a: f"xai-{a}", body(BASE62, 80)),
    "openrouter-api-key": st.builds(lambda a: f"sk-or-v1-{a}", body("0123456789abcdef", 64)),
    "replicate-api-token": st.builds(lambda a: f"r8_{a}", body(BASE62, 37)),
    "perplexity-api-key": st.builds(lambda a: f"pplx-{a}", body(BASE62, 48)),
    "nvidia-api-key": st.builds(lambda a: f"nvapi-{a}", body(URLSAFE, 64)),
    "pinecone-api-key": st.builds(lambda a, b: f"pcsk_{a}_{b}", body(BASE62, 5), body(BASE62, 63)),
    "tavily-api-key": st.builds(lambda a: f"tvly-dev-{a}", body(BASE62, 32)),
    "jina-api-key": st.builds(lambda a: f"jina_{a}", body(BASE62, 60)),
    "voyage-api-key": st.builds(lambda a: f"pa-{a}", body(URLSAFE, 43).filter(validators.random_token)),
    "firecrawl-api-key": st.builds(lambda a: f"fc-{a}", body("0123456789abcdef", 32)),
    "browserbase-api-key": st.builds(lambda a: f"bb_live_{a}", body(URLSAFE, 27)),
    "elevenlabs-api-key": st.builds(lambda a: f"sk_{a}", body("0123456789abcdef", 48)),
    "aws-bedrock-api-key": st.builds(lambda a: f"ABSKQmVkcm9ja0FQSUtleS1{a}", body(BASE62 + "+/", 107)),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data(), rule_id=st.sampled_from(sorted(FORMATS)),
       before=st.sampled_from(["", " ", "=", '"', "'", "key: ", "\n", "(", "`"]),
       after=st.sampled_from(["", " ", '"', "'", "\n", ")", ",", ";", "`"]))
def test_random_valid_keys_are_found(data, rule_id: str, before: str, after: str) -> None:
    key = data.draw(FORMATS[rule_id])
    assert (rule_id, key) in found(f"x{before or ' '}{key}{after or ' '}y")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data(), rule_id=st.sampled_from(sorted(FORMATS)), cut=st.integers(min_value=1, max_value=30))
def test_near_misses_are_not_reported(data, rule_id: str, cut: int) -> None:
    key = data.draw(FORMATS[rule_id])
    shorter = key[: max(8, len(key) - cut - len(key) // 2)]  # too short for the format
    assert rule_id not in {r for r, _ in found(shorter)}
    glued = "Z" + key  # a key is never glued to a longer token
    assert (rule_id, key) not in found(glued)


@settings(max_examples=50, deadline=None)
@given(random_part=st.text(alphabet=keys.BASE62, min_size=32, max_size=32),
       prefix=st.sampled_from(["jsk_", "jsa_", "jst_"]), flip=st.integers(min_value=0, max_value=37))
def test_jackstop_tokens_need_a_valid_checksum(random_part: str, prefix: str, flip: int) -> None:
    token = prefix + random_part + keys.checksum(random_part)
    rid = {"jsk_": "jackstop-virtual-key", "jsa_": "jackstop-admin-token", "jst_": "jackstop-client-token"}[prefix]
    assert (rid, token) in found(f"KEY={token}\n")
    chars = list(token[4:])
    chars[flip] = "A" if chars[flip] != "A" else "B"
    broken = prefix + "".join(chars)
    assume(not keys.is_well_formed(broken))
    assert found(f"KEY={broken}\n") == set()
