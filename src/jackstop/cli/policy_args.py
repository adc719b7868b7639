"""Command-line options that set a key's, project's, provider's or the global policy.

The same options serve `create` and `update`: on update, only the options given change;
`--clear FIELD` removes a field.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from jackstop.control.policy import ENDPOINTS

CLEARABLE = ("budgets", "rpm", "tpm", "concurrency", "allow_ips", "providers", "models", "endpoints",
             "max_body_bytes", "max_tokens", "unbounded_reserve", "monitor", "deployments")


def _names(choices: tuple[str, ...] | None = None) -> Any:
    """NAME[,NAME...]: one value per option (repeatable), so a positional after it is not swallowed."""

    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if choices is not None and n not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"invalid choice: {', '.join(map(repr, bad))} "
                                             f"(choose from {', '.join(choices or ())})")
        if not names:
            raise argparse.ArgumentTypeError("give at least one name")
        return names

    return parse


def add_policy_args(p: argparse.ArgumentParser, *, providers: bool = False, expires: bool = True,
                    update: bool = False) -> None:
    g = p.add_argument_group("limits and rules")
    g.add_argument("--budget", action="append", metavar="AMOUNT/WINDOW",
                   help="a spend cap in USD per total|day|week|month|24h|7d, e.g. 10/day (repeatable)")
    g.add_argument("--alerts", metavar="PCTS", help="budget alert thresholds in percent (default 50,80,100)")
    g.add_argument("--rpm", type=int, metavar="N", help="requests per minute")
    g.add_argument("--tpm", type=int, metavar="N", help="tokens per minute (worst case reserved, actual settled)")
    g.add_argument("--concurrency", type=int, metavar="N", help="requests in flight at once")
    g.add_argument("--allow-ip", action="append", metavar="CIDR", help="allowed source networks (repeatable)")
    g.add_argument("--models", action="extend", type=_names(), metavar="GLOB[,GLOB]",
                   help="allowed models (glob patterns; repeatable)")
    g.add_argument("--endpoints", action="extend", type=_names(ENDPOINTS), metavar="NAME[,NAME]",
                   help=f"allowed endpoints ({', '.join(ENDPOINTS)}; repeatable)")
    if providers:
        g.add_argument("--providers", action="extend", type=_names(), metavar="GLOB[,GLOB]",
                       help="allowed providers (glob patterns; repeatable)")
    g.add_argument("--max-tokens", type=int, metavar="N", help="output-token ceiling per request")
    g.add_argument("--max-body", type=int, metavar="BYTES", help="largest request body")
    g.add_argument("--unbounded-reserve", metavar="USD",
                   help="allow requests whose cost cannot be bounded (hosted tools) by reserving this much more")
    if expires:
        g.add_argument("--expires", metavar="DURATION", help="stop working after this long (e.g. 30d)")
    if update:
        g.add_argument("--clear", action="append", metavar="FIELD", choices=CLEARABLE + (("expires",) if expires else ()),
                       help="remove a field")


def policy_changes(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """(fields to set, fields to clear) from the parsed options."""
    out: dict[str, Any] = {}
    if args.budget:
        alerts = None
        if args.alerts:
            try:
                alerts = [int(x) / 100 for x in args.alerts.split(",") if x.strip()]
            except ValueError:
                raise ValueError("--alerts takes percentages separated by commas, e.g. 50,80,100") from None
        out["budgets"] = []
        for text in args.budget:
            amount, sep, window = text.partition("/")
            if not sep:
                raise ValueError(f"--budget {text!r}: write AMOUNT/WINDOW, e.g. 10/day, 50/month, 5/24h, 100/total")
            if amount.strip().startswith("-"):
                raise ValueError(f"--budget {text!r}: a budget is an amount in USD of 0 or more, e.g. 5/day")
            b: dict[str, Any] = {"amount": amount.strip().lstrip("$"), "window": window.strip()}
            if alerts is not None:
                b["alerts"] = alerts
            out["budgets"].append(b)
    elif getattr(args, "alerts", None):
        raise ValueError("--alerts applies to the budgets given with --budget in the same command")
    for opt, name in (("rpm", "rpm"), ("tpm", "tpm"), ("concurrency", "concurrency"), ("max_tokens", "max_tokens"),
                      ("max_body", "max_body_bytes")):
        v = getattr(args, opt, None)
        if v is not None:
            out[name] = v
    for opt, name in (("allow_ip", "allow_ips"), ("models", "models"), ("endpoints", "endpoints"),
                      ("providers", "providers")):
        v = getattr(args, opt, None)
        if v:
            out[name] = list(v)
    if getattr(args, "unbounded_reserve", None) is not None:
        out["unbounded_reserve"] = args.unbounded_reserve.lstrip("$")
    return out, list(getattr(args, "clear", None) or [])


def expiry(args: argparse.Namespace) -> float | None:
    from jackstop.durations import parse_duration

    if getattr(args, "expires", None):
        return time.time() + parse_duration(args.expires)
    return None

