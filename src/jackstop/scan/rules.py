"""Load detection rules from the package's data file (rules.toml) or a user-supplied one."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from jackstop.scan import validators

DEFAULT_WINDOW = (256, 512)
CONFIDENCE_LEVELS = ("low", "medium", "high")  # ascending


class RulesError(ValueError):
    """The rules file is malformed; the message names the rule and the field."""


@dataclass(frozen=True)
class Rule:
    id: str
    provider: str
    description: str
    regex: re.Pattern[bytes]
    keywords: tuple[str, ...]
    ignore_case: bool = False
    window: tuple[int, int] = DEFAULT_WINDOW
    entropy: float = 0.0
    validator: str | None = None
    source: str = ""
    examples: tuple[str, ...] = ()
    negatives: tuple[str, ...] = ()
    verify: bool = True
    confidence: str = "high"  # high: a distinctive format; medium/low: found by context
    anchored: bool = False  # the match starts where a keyword does: try there only

    def __repr__(self) -> str:
        return f"Rule({self.id!r})"

    def secret_span(self, m: re.Match[bytes]) -> tuple[int, int]:
        if "secret" in self.regex.groupindex:
            return m.span("secret")
        return m.span()


AUTH_KINDS = ("bearer", "x-api-key", "query", "header")


@dataclass(frozen=True)
class ProviderCheck:
    """How `--verify` asks a provider whether a key is live (read-only, non-billable).

    auth: bearer (Authorization: Bearer KEY), x-api-key, query (?PARAM=KEY), or header
    (HEADER: PREFIX KEY)."""

    url: str
    auth: str = "bearer"
    headers: dict[str, str] = field(default_factory=dict)
    header: str = ""  # auth = header: the header's name
    prefix: str = ""  # auth = header: text before the key ("Token ")
    param: str = "key"  # auth = query: the parameter's name


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    providers: dict[str, ProviderCheck]
    documented: frozenset[str] = frozenset()  # SHA-256 hex of published example keys

    def by_id(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def _rule(raw: dict, index: int) -> Rule:
    rid = raw.get("id") or f"#{index + 1}"
    for key in ("id", "provider", "description", "regex", "keywords"):
        if key not in raw:
            raise RulesError(f"rule {rid}: missing field {key!r}")
    try:
        regex = re.compile(raw["regex"].encode("utf-8"))
    except re.error as exc:
        raise RulesError(f"rule {rid}: bad regex: {exc}") from None
    validator = raw.get("validator")
    if validator is not None and validator not in validators.STRUCTURAL:
        known = ", ".join(sorted(validators.STRUCTURAL))
        raise RulesError(f"rule {rid}: unknown validator {validator!r} (known: {known})")
    keywords = tuple(raw["keywords"])
    if not keywords or not all(isinstance(k, str) and k for k in keywords):
        raise RulesError(f"rule {rid}: keywords must be a non-empty list of strings")
    confidence = raw.get("confidence", "high")
    if confidence not in CONFIDENCE_LEVELS:
        raise RulesError(f"rule {rid}: confidence must be one of {', '.join(CONFIDENCE_LEVELS)}")
    window = tuple(raw.get("window", DEFAULT_WINDOW))
    if len(window) != 2 or not all(isinstance(w, int) and w >= 0 for w in window):
        raise RulesError(f"rule {rid}: window must be [before, after] byte counts")
    return Rule(
        id=raw["id"],
        provider=raw["provider"],
        description=raw["description"],
        regex=regex,
        keywords=keywords,
        ignore_case=bool(raw.get("ignore_case", False)),
        window=(window[0], window[1]),
        entropy=float(raw.get("entropy", 0.0)),
        validator=validator,
        source=raw.get("source", ""),
        examples=tuple(raw.get("examples", ())),
        negatives=tuple(raw.get("negatives", ())),
        verify=bool(raw.get("verify", True)),
        confidence=confidence,
        anchored=bool(raw.get("anchored", False)),
    )


def parse(text: str) -> RuleSet:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rules file is not valid TOML: {exc}") from None
    rules = tuple(_rule(raw, i) for i, raw in enumerate(data.get("rule", [])))
    if not rules:
        raise RulesError("rules file defines no [[rule]]")
    ids = [r.id for r in rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RulesError(f"duplicate rule ids: {', '.join(sorted(dupes))}")
    providers = {name: _provider(name, p) for name, p in data.get("provider", {}).items()}
    documented = data.get("documented_examples", [])
    if not all(isinstance(h, str) and re.fullmatch(r"[0-9a-f]{64}", h) for h in documented):
        raise RulesError("documented_examples must be a list of SHA-256 hex digests")
    return RuleSet(rules=rules, providers=providers, documented=frozenset(documented))


def _provider(name: str, p: dict) -> ProviderCheck:
    auth = p.get("auth", "bearer")
    if auth not in AUTH_KINDS:
        raise RulesError(f"provider {name}: auth must be one of {', '.join(AUTH_KINDS)}")
    if not str(p.get("url", "")).startswith("https://"):
        raise RulesError(f"provider {name}: url must be an https:// URL on the provider's own host")
    if auth == "header" and not p.get("header"):
        raise RulesError(f"provider {name}: auth = header needs header = NAME")
    return ProviderCheck(url=p["url"], auth=auth, headers=dict(p.get("headers", {})), header=p.get("header", ""),
                         prefix=p.get("prefix", ""), param=p.get("param", "key"))


_default: RuleSet | None = None


def load(path: Path | None = None) -> RuleSet:
    """The built-in rules, or the rules in `path`."""
    global _default
    if path is not None:
        return parse(Path(path).read_text(encoding="utf-8"))
    if _default is None:
        _default = parse(resources.files("jackstop.scan").joinpath("rules.toml").read_text(encoding="utf-8"))
    return _default
