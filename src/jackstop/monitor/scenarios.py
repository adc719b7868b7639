"""Traffic scenarios for replay: normal apps with a daily and weekly rhythm, a launch-day surge,
a network move, and LLMjacking attacks modelled on the public incident reports.

The attacks follow what the reports describe:
- Entro Security (2025): leaked credentials are tried within minutes (17 on average, 9 at the
  fastest); the attacker first enumerates what the key can do (model listings, quota checks).
- Sysdig TRT (2024-2025, "LLMjacking"): scripted key checkers validate access with cheap or
  deliberately invalid requests, then the key is put behind a reverse proxy (oai-reverse-proxy)
  and resold; victims' costs reached $46,000-$100,000 a day on the dearest models.
- Permiso (2024): hijacked Claude access serving a role-play chat site: long prompts, steady
  high concurrency, from a handful of proxy hosts.
- GreyNoise / SANS ISC (2025-2026): enumeration that tries many models with one trivial prompt.
Lines carry an extra "actor" field ("app" or "attacker") so the measurements can tell them apart;
replay ignores it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

DAY = 86400.0
HOUR = 3600.0
START = 1_790_035_200.0  # 2026-09-21T00:00:00Z, a Monday


@dataclass(frozen=True)
class App:
    """A legitimate application using one key."""

    key: str
    per_day: float  # requests on an ordinary weekday
    models: tuple[tuple[str, float], ...]
    provider: str
    input_tokens: int
    output_tokens: int
    ips: tuple[str, ...]
    agents: tuple[str, ...]
    peak_hour_utc: int = 14
    night_share: float = 0.12  # traffic at the quietest hour relative to the peak
    weekend_share: float = 0.45
    error_share: float = 0.004
    lists_models_per_day: float = 0.0


SIZES = {
    # ~$5/day: the "$180-a-month" key of the public incident stories
    "tiny": App("hobby-bot", 120, (("gpt-4o-mini", 1.0),), "openai", 900, 250,
                ("198.51.100.23",), ("OpenAI/Python 1.54.0",), peak_hour_utc=19, night_share=0.05),
    "small": App("shop-assistant", 2200, (("claude-haiku-4-5", 0.9), ("claude-sonnet-4-5", 0.1)), "anthropic",
                 1500, 300, ("203.0.113.10", "203.0.113.11", "203.0.113.12"), ("Anthropic/Python 0.40.0",)),
    "medium": App("support-copilot", 24000, (("gpt-5-mini", 0.8), ("gpt-4.1", 0.2)), "openai", 2500, 400,
                  tuple(f"192.0.2.{i}" for i in range(10, 18)) + ("100.64.7.9",),
                  ("OpenAI/Python 1.54.0", "OpenAI/JS 4.67.1"), lists_models_per_day=24),
    "large": App("search-summaries", 120000, (("gemini-2.5-flash", 0.7), ("gemini-2.5-flash-lite", 0.3)), "gemini",
                 3000, 250, tuple(f"100.70.{a}.{b}" for a in range(4) for b in range(1, 5)),
                 ("google-genai-sdk/1.2.0 gl-python/3.11.4",), peak_hour_utc=12, night_share=0.3,
                 weekend_share=0.8),
}


@dataclass
class Scenario:
    name: str
    description: str
    app: App
    days: float
    attack_start: float | None = None  # timeline seconds of the first attacker request
    expectations: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.app.key


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _rhythm(app: App, ts: float) -> float:
    """Relative traffic at `ts`: a smooth daily curve peaking at the app's busy hour, quieter weekends."""
    hour = (ts % DAY) / HOUR
    phase = math.cos((hour - app.peak_hour_utc) / 24 * 2 * math.pi)  # 1 at the peak, -1 twelve hours off
    daily = app.night_share + (1 - app.night_share) * ((phase + 1) / 2) ** 1.5
    weekday = int((ts - START) // DAY) % 7
    return daily * (app.weekend_share if weekday >= 5 else 1.0)


def _rec(ts: float, key: str, ip: str, agent: str, model: str | None, endpoint: str, status: int, inp: int, out: int,
         provider: str, actor: str) -> dict[str, Any]:
    return {"ts": ts, "key": key, "ip": ip, "user_agent": agent, "model": model, "endpoint": endpoint,
            "status": status, "input_tokens": inp, "output_tokens": out, "provider": provider, "actor": actor}


def _tokens(rng: random.Random, mean: int) -> int:
    return max(1, int(rng.lognormvariate(math.log(mean) - 0.18, 0.6)))


def normal_traffic(app: App, start: float, end: float, rng: random.Random,
                   scale: Any = None) -> Iterator[dict[str, Any]]:
    """The app's own requests between `start` and `end`; `scale(ts)` multiplies the rate (surges)."""
    peak = app.per_day / (24 * 0.55)  # requests per hour at the daily peak (the curve averages ~0.55)
    models = [m for m, _ in app.models]
    weights = [w for _, w in app.models]
    minute = start
    while minute < end:
        lam = peak / 60 * _rhythm(app, minute) * (scale(minute) if scale else 1.0)
        n = _poisson(rng, lam)
        for t in sorted(minute + rng.random() * 60 for _ in range(n)):
            ip = rng.choice(app.ips)
            if rng.random() < app.error_share:
                yield _rec(t, app.key, ip, rng.choice(app.agents), rng.choices(models, weights)[0],
                           "chat.completions" if app.provider == "openai" else
                           "messages" if app.provider == "anthropic" else "generateContent",
                           rng.choice((429, 500, 503)), 0, 0, app.provider, "app")
                continue
            yield _rec(t, app.key, ip, rng.choice(app.agents), rng.choices(models, weights)[0],
                       "chat.completions" if app.provider == "openai" else
                       "messages" if app.provider == "anthropic" else "generateContent",
                       200, _tokens(rng, app.input_tokens), _tokens(rng, app.output_tokens), app.provider, "app")
        if app.lists_models_per_day and rng.random() < app.lists_models_per_day / 1440:
            yield _rec(minute + 30, app.key, rng.choice(app.ips), rng.choice(app.agents), None, "models", 200, 0, 0,
                       app.provider, "app")
        minute += 60


DEAREST = {"openai": "gpt-5.4-pro", "anthropic": "claude-mythos-5", "gemini": "gemini-4-neon"}
PROBE_MODELS = {
    "openai": ("gpt-4o", "gpt-4.1", "gpt-5", "o3", "gpt-5.4-pro"),
    "anthropic": ("claude-opus-4-5", "claude-sonnet-4-5", "claude-opus-5", "claude-mythos-5", "claude-fable-5"),
    "gemini": ("gemini-2.5-pro", "gemini-3.1-pro-preview", "gemini-4-neon", "gemini-4-hydrogen", "gemini-3.5-flash"),
}


def attack_traffic(app: App, start: float, duration: float, rng: random.Random, *, sources: int = 3,
                   per_minute: float = 40.0, model: str | None = None, input_tokens: int = 18000,
                   output_tokens: int = 900, probe: bool = True, agent: str = "python-requests/2.32.3",
                   ip_base: str = "45.83.{}.{}", hosts: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """A stolen key: checked and enumerated from one host, then resold through proxies."""
    kind = app.provider
    model = model or DEAREST[kind]
    listing = "models"
    counting = {"openai": None, "anthropic": "messages.count_tokens", "gemini": "countTokens"}[kind]
    chat = {"openai": "chat.completions", "anthropic": "messages", "gemini": "generateContent"}[kind]
    checker = ip_base.format(rng.randint(1, 250), rng.randint(1, 250))
    t = start
    if probe:
        # key checker: list models, check quota, probe each model with a trivial or invalid request
        yield _rec(t, app.key, checker, "aiohttp/3.9.5", None, listing, 200, 0, 0, kind, "attacker")
        t += rng.uniform(1, 4)
        if counting:
            yield _rec(t, app.key, checker, "aiohttp/3.9.5", model, counting, 200, 12, 0, kind, "attacker")
            t += rng.uniform(1, 4)
        for m in PROBE_MODELS[kind]:
            yield _rec(t, app.key, checker, "aiohttp/3.9.5", m, chat, 400, 0, 0, kind, "attacker")  # invalid max_tokens
            t += rng.uniform(0.5, 2)
            yield _rec(t, app.key, checker, "aiohttp/3.9.5", m, chat, 200, 14, 8, kind, "attacker")
            t += rng.uniform(0.5, 2)
        t += rng.uniform(120, 600)  # the key is handed to the proxy
    hosts = list(hosts) or [ip_base.format(rng.randint(1, 250), rng.randint(1, 250)) for _ in range(sources)]
    end = start + duration
    ramp = 15 * 60.0
    while t < end:
        rate = per_minute * min(1.0, 0.15 + (t - start) / ramp)
        t += rng.expovariate(rate / 60)
        yield _rec(t, app.key, rng.choice(hosts), agent, model, chat, 200, _tokens(rng, input_tokens),
                   _tokens(rng, output_tokens), kind, "attacker")


def _neighbours(app: App, n: int) -> tuple[str, ...]:
    """Addresses in the app's own /24 that the app itself never uses."""
    base = app.ips[0].rsplit(".", 1)[0]
    used = set(app.ips)
    return tuple(ip for ip in (f"{base}.{h}" for h in range(200, 255)) if ip not in used)[:n]


def developer_session(app: App, start: float, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Someone debugging with the production key from home: benign, but new in every way."""
    ip, agent = "81.2.69.142", "curl/8.5.0"
    chat = {"openai": "chat.completions", "anthropic": "messages", "gemini": "generateContent"}[app.provider]
    yield _rec(start, app.key, ip, agent, None, "models", 200, 0, 0, app.provider, "app")
    t = start
    for _ in range(30):
        t += rng.uniform(20, 90)
        yield _rec(t, app.key, ip, agent, app.models[0][0], chat, 200, _tokens(rng, app.input_tokens),
                   _tokens(rng, app.output_tokens), app.provider, "app")


def key_guessing(start: float, rng: random.Random, ip: str = "185.220.101.7", tries: int = 400,
                 per_second: float = 8.0) -> Iterator[dict[str, Any]]:
    t = start
    for _ in range(tries):
        t += rng.expovariate(per_second)
        yield {"ts": t, "key": None, "ip": ip, "user_agent": "python-httpx/0.27.0", "model": "gpt-4o",
               "endpoint": "chat.completions", "status": 401, "rule": "auth_unknown", "input_tokens": 0,
               "output_tokens": 0, "actor": "attacker"}


def _merge(*streams: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [r for s in streams for r in s]
    out.sort(key=lambda r: r["ts"])
    return out


def build(name: str, *, size: str = "small", days: float = 14.0, seed: int = 7) -> Scenario:
    """One named scenario: normal, launch, scale-out, move, move-unannounced, attack-proxy, attack-distributed,
    attack-same-model, attack-slow, attack-quiet, key-guessing."""
    rng = random.Random(f"{name}/{size}/{seed}")
    app = SIZES[size]
    start, end = START, START + days * DAY
    last_day = int(days - 1)
    while (last_day % 7) >= 5:  # the event happens on a weekday (a launch on a quiet Sunday proves little)
        last_day -= 1
    event_at = START + last_day * DAY + 9.5 * HOUR  # 09:30 UTC
    if name == "normal":
        return Scenario(name, f"{days:g} days of a {size} app's ordinary traffic", app, days,
                        records=_merge(normal_traffic(app, start, end, rng)))
    if name == "launch":
        def surge(ts: float) -> float:
            return 1.0 if ts < event_at else 1.0 + 4.0 * min(1.0, (ts - event_at) / HOUR)
        return Scenario(name, f"launch day: the {size} app's traffic rises to 5x within an hour, from its usual "
                        f"networks", app, days, records=_merge(normal_traffic(app, start, end, rng, surge)))
    if name == "scale-out":
        # launch day on an autoscaled fleet: 3x the traffic, and as many new instances in the app's own
        # network as it had, each taking its share (the benign twin of the quiet thief)
        def grow(ts: float) -> float:
            return 1.0 if ts < event_at else 1.0 + 2.0 * min(1.0, (ts - event_at) / HOUR)
        bigger = replace(app, ips=app.ips + _neighbours(app, len(app.ips)))
        return Scenario(name, f"launch day on an autoscaled fleet: the {size} app's traffic rises to 3x and "
                        f"{len(app.ips)} new instances in its own network take their share", app, days,
                        records=_merge(normal_traffic(app, start, event_at, rng, grow),
                                       normal_traffic(bigger, event_at, end, rng, grow)))
    if name in ("move", "move-unannounced"):
        new_ips = tuple(f"34.118.{o}.{h}" for o in (40, 41) for h in (5, 6, 7))
        before = normal_traffic(app, start, event_at, rng)
        after = normal_traffic(replace(app, ips=new_ips), event_at, end, rng)
        exp = [{"key": app.key, "network": "34.118.40.0/23", "from": event_at - HOUR, "until": event_at + 7 * DAY,
                "note": "migration to the new region"}] if name == "move" else []
        return Scenario(name, f"the {size} app moves to a new egress range (34.118.40.0/23)"
                        + (", announced" if exp else ", unannounced"), app, days, expectations=exp,
                        records=_merge(before, after))
    if name.startswith("attack"):
        variants = {
            "attack-proxy": ("key resold through 3 proxy hosts, dearest model, long role-play prompts",
                             {"sources": 3, "per_minute": 40}),
            "attack-distributed": ("key used from 40 networks at once, dearest model, high concurrency",
                                   {"sources": 40, "per_minute": 90, "ip_base": "{}.{}.77.20"}),
            "attack-same-model": ("key used from 2 proxy hosts with the app's own model and client, no probing",
                                  {"sources": 2, "per_minute": 120, "model": app.models[0][0], "probe": False,
                                   "agent": app.agents[0], "input_tokens": app.input_tokens * 8}),
            # The quiet thief: the app's own model, client and request sizes, from new addresses inside
            # the app's own network (its /24: another instance in the same cloud), at 3x the app's
            # average volume, around the clock, for 12 hours.
            "attack-quiet": ("quiet thief: 2 new addresses inside the app's own network, the app's own model, client "
                             "and request sizes, 3x its volume",
                             {"per_minute": app.per_day / 1440 * 3, "model": app.models[0][0], "probe": False,
                              "agent": app.agents[0], "input_tokens": app.input_tokens,
                              "output_tokens": app.output_tokens, "hosts": _neighbours(app, 2)}),
            "attack-slow": ("low and slow: one new host, the app's own model and client, 2x its volume",
                            {"sources": 1, "per_minute": app.per_day / 1440 * 2, "model": app.models[0][0],
                             "probe": False, "agent": app.agents[0], "input_tokens": app.input_tokens,
                             "output_tokens": app.output_tokens}),
        }
        desc, kw = variants[name]
        attack = attack_traffic(app, event_at, (12 if name == "attack-quiet" else 6) * HOUR, rng, **kw)
        return Scenario(name, f"{size} app, {desc}", app, days, attack_start=event_at,
                        records=_merge(normal_traffic(app, start, end, rng), attack))
    if name == "developer":
        dev = _merge(normal_traffic(app, start, end, rng), developer_session(app, event_at, rng))
        return Scenario(name, f"a developer tries the {size} app's key from a laptop: new network, new client, "
                        f"a model listing and 30 requests", app, days, records=dev)
    if name == "key-guessing":
        return Scenario(name, f"a {size} app's traffic while one host guesses keys (400 tries at 8/s)", app, days,
                        attack_start=event_at,
                        records=_merge(normal_traffic(app, start, end, rng), key_guessing(event_at, rng)))
    raise KeyError(f"unknown scenario {name!r}; choose one of {', '.join(NAMES)}")


NAMES = ("normal", "launch", "scale-out", "move", "move-unannounced", "developer", "attack-proxy", "attack-distributed", "attack-same-model",
         "attack-slow", "attack-quiet", "key-guessing")
