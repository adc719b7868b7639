"""Command-line options that set a key's or project's policy (shared by create and update)."""

from __future__ import annotations

import argparse
import time
from typing import Any


def add_policy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", nargs="+", metavar="GLOB", help="allowed models (glob patterns)")
    p.add_argument("--max-tokens", type=int, metavar="N", help="output-token ceiling per request")
    p.add_argument("--expires", metavar="DURATION", help="the key stops working after this long (e.g. 30d)")


def policy_from_args(args: argparse.Namespace) -> tuple[dict[str, Any], float | None]:
    from jackstop.durations import parse_duration

    policy: dict[str, Any] = {}
    if getattr(args, "models", None):
        policy["models"] = list(args.models)
    if getattr(args, "max_tokens", None) is not None:
        if args.max_tokens < 1:
            raise ValueError("--max-tokens must be a positive integer")
        policy["max_tokens"] = args.max_tokens
    expires_at = None
    if getattr(args, "expires", None):
        expires_at = time.time() + parse_duration(args.expires)
    return policy, expires_at
