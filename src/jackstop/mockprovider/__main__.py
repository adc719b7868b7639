"""Run the mock provider in the foreground: python -m jackstop.mockprovider --port N."""

from __future__ import annotations

import argparse
import sys
import threading

from jackstop.mockprovider.controls import ControlError, Faults, UsagePolicy, parse_faults, parse_usage
from jackstop.mockprovider.server import FAMILIES, MockProvider


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jackstop.mockprovider",
        description="A mock OpenAI/Anthropic/Gemini API on loopback, for tests and demos.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    for family in FAMILIES:
        parser.add_argument(f"--{family}-key", metavar="KEY",
                            help=f"expected {family} key (default: a random one, printed)")
    parser.add_argument("--usage", default="", metavar="DIRECTIVES",
                        help="server-wide x-mock-usage directives, e.g. 'output=max'")
    parser.add_argument("--fault", default="", metavar="DIRECTIVES",
                        help="server-wide x-mock-fault directives, e.g. 'latency=0.2'")
    args = parser.parse_args(argv)
    try:
        usage = parse_usage(args.usage, UsagePolicy())
        faults = parse_faults(args.fault, Faults())
    except ControlError as exc:
        parser.error(f"{exc} (fix the --usage/--fault value)")
    keys = {f: getattr(args, f"{f.replace('-', '_')}_key") for f in FAMILIES if getattr(args, f"{f.replace('-', '_')}_key")}
    try:
        mock = MockProvider(keys, host=args.host, port=args.port, usage=usage, faults=faults)
        mock.start()
    except OSError as exc:
        print(f"mockprovider: cannot listen on {args.host}:{args.port}: {exc.strerror}; "
              "pick another --port", file=sys.stderr)
        return 2
    print(f"mock provider listening on {mock.base_url}", flush=True)
    for family, key in mock.keys.items():
        print(f"  {family} key: {key}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        mock.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
