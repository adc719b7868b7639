"""`jackstop monitor ...`, `jackstop incident` and `jackstop ledger export` (`jackstop demo` is jackstop.cli.demo).

Module-level imports stay in the standard library so `jackstop --help` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from jackstop.errors import UsageError


def _settings(args: argparse.Namespace) -> Any:
    from jackstop import config

    from jackstop import extras

    try:
        settings = config.load(getattr(args, "config", None))
    except config.ConfigError as exc:
        raise UsageError(f"configuration error: {exc}") from None
    extras.check(settings)  # a configured feature whose extra is missing: one line, before anything starts
    return settings


def _monitor_settings(settings: Any) -> Any:
    from jackstop.config import ConfigError
    from jackstop.monitor.settings import load_monitor_settings

    try:
        return load_monitor_settings(settings.monitor)
    except ConfigError as exc:
        raise UsageError(f"configuration error: {exc}") from None


def _catalog(settings: Any) -> Any:
    from jackstop.pricing import Catalog, PriceError

    try:
        return Catalog.load(settings.prices)
    except PriceError as exc:
        raise UsageError(f"[prices] in the configuration: {exc}") from None


def _store(args: argparse.Namespace) -> Any:
    from jackstop.control import Control, ControlError
    from jackstop.home import Home, HomeError

    try:
        return Control.open(_settings(args), Home.from_env())
    except (ControlError, HomeError) as exc:
        raise UsageError(str(exc)) from None


def _known_key(control: Any, name: str | None) -> None:
    """An unknown --key is an error, not an empty result."""
    from jackstop.store import NotFound

    if name:
        try:
            control.store.get_key(name)
        except NotFound as exc:
            raise UsageError(str(exc)) from None


def _since(text: str) -> float:
    from jackstop.durations import parse_since

    try:
        return parse_since(text)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None


def _open_out(path: str | None) -> Any:
    if not path or path == "-":
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


# -- monitor expect ------------------------------------------------------------------------------

def _expect_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jackstop monitor expect", add_help=False, exit_on_error=False)
    _expect_args(p)
    return p


def _expect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("key", help='key name, "project:NAME" or "*" for every key')
    p.add_argument("--network", action="append", default=[], metavar="CIDR|ASN", help="a new egress range or ASN")
    p.add_argument("--model", action="append", default=[], metavar="NAME", help="a model the key will start using")
    p.add_argument("--agent", action="append", default=[], metavar="UA", help="a new client (user agent)")
    p.add_argument("--surge", metavar="FACTOR", help="expected traffic surge, e.g. 5 or 5x")
    p.add_argument("--from", dest="start", metavar="TIME", help="when it starts (ISO-8601; default now)")
    p.add_argument("--until", required=True, metavar="TIME", help="when it ends: a duration from now (48h) or ISO-8601")
    p.add_argument("--note", default="", help="why (recorded in the audit log)")


def expectations_from_args(args: argparse.Namespace, now: float | None = None) -> list[Any]:
    from jackstop.monitor.expectations import announced

    return announced(args.key, network=args.network, model=args.model, agent=args.agent, surge=args.surge,
                     start_text=args.start, until=args.until, note=args.note, now=now)


def cmd_expect(args: argparse.Namespace) -> int:
    from jackstop.monitor import expectations as exp

    try:
        items = expectations_from_args(args)
    except exp.ExpectationError as exc:
        raise UsageError(str(exc)) from None
    control = _store(args)
    ids = exp.add(control.store, items, "cli")
    rows = [dict(e.as_dict(), id=i) for e, i in zip(items, ids)]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"expected #{r['id']}: {r['target']} {r['kind']} {r['value']} until {r['until']}")
    return 0


def cmd_expectations(args: argparse.Namespace) -> int:
    from jackstop.monitor import expectations as exp
    from jackstop.table import render

    control = _store(args)
    rows = [e.as_dict() for e in exp.load(control.store, include_ended=args.all)]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(render(["id", "key", "kind", "value", "from", "until", "note"],
                     [[r["id"], r["target"], r["kind"], r["value"], r["starts"], r["until"], r["note"]] for r in rows]))
    return 0


def cmd_unexpect(args: argparse.Namespace) -> int:
    from jackstop.monitor import expectations as exp

    control = _store(args)
    if not exp.remove(control.store, args.id, "cli"):
        raise UsageError(f"no announcement #{args.id}; `jackstop monitor expectations --all` lists them")
    print(f"removed announcement #{args.id}")
    return 0


# -- monitor replay / simulate / evaluate ------------------------------------------------------

def cmd_replay(args: argparse.Namespace) -> int:
    import orjson

    from jackstop.monitor.expectations import ExpectationError, Expectations, parse_file
    from jackstop.monitor.replay import Replay, ReplayError

    settings = _settings(args)
    msettings = _monitor_settings(settings)
    expectations = Expectations()
    if args.expect:
        try:
            text = open(args.expect, encoding="utf-8").read()
        except OSError as exc:
            raise UsageError(f"cannot read {args.expect}: {exc.strerror}") from None
        parser = _expect_parser()

        def parse_args(argv: list[str]) -> list[Any]:
            try:
                ns = parser.parse_args(argv)
            except (argparse.ArgumentError, SystemExit) as exc:
                raise ExpectationError(str(exc) or "bad arguments") from None
            return expectations_from_args(ns)

        try:
            expectations.replace(parse_file(text, parse_args))
        except ExpectationError as exc:
            raise UsageError(f"{args.expect}: {exc}") from None
    networks = None
    if msettings.asn_database:
        from jackstop.monitor.networks import Networks, open_asn_database

        networks = Networks(open_asn_database(msettings.asn_database))
    replay = Replay(msettings, catalog=_catalog(settings), expectations=expectations, networks=networks)
    try:
        src = sys.stdin.buffer if args.traffic == "-" else open(args.traffic, "rb")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot read {args.traffic}: {exc.strerror}") from None
    out = sys.stdout
    try:
        with src:
            for ev in replay.run(src):
                out.write(orjson.dumps(ev.as_dict()).decode() + "\n")
    except ReplayError as exc:
        raise UsageError(f"{args.traffic}: {exc}") from None
    except BrokenPipeError:
        return 0
    if args.summary:
        summary = {k: {"requests": t.requests, "refused": t.refused, "spent_usd": round(t.spent_nusd / 1e9, 6),
                       "prevented_usd": round(t.prevented_nusd / 1e9, 6), "suspended_at": t.suspended_at}
                   for k, t in replay.totals.items()}
        print(json.dumps({"lines": replay.lines, "keys": summary}, indent=2), file=sys.stderr)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    import orjson

    from jackstop.durations import iso
    from jackstop.monitor import scenarios

    if args.scenario not in scenarios.NAMES:
        raise UsageError(f"unknown scenario {args.scenario!r}; choose one of {', '.join(scenarios.NAMES)}")
    sc = scenarios.build(args.scenario, size=args.size, days=args.days, seed=args.seed)
    out = _open_out(args.output)
    for r in sc.records:
        line = dict(r, ts=iso(r["ts"])[:-1] + f".{int(r['ts'] * 1000) % 1000:03d}Z")
        out.write(orjson.dumps({k: v for k, v in line.items() if v is not None}).decode() + "\n")
    if out is not sys.stdout:
        out.close()
    if args.expectations:
        with open(args.expectations, "w", encoding="utf-8") as f:
            for e in sc.expectations:
                f.write(json.dumps(dict(e, **{"from": iso(e["from"]), "until": iso(e["until"])})) + "\n")
    print(f"{sc.name}: {sc.description}; {len(sc.records)} lines"
          + (f"; attack starts {iso(sc.attack_start)}" if sc.attack_start else ""), file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from jackstop.monitor import scenarios
    from jackstop.monitor.evaluate import evaluate
    from jackstop.table import render

    settings = _settings(args)
    msettings = _monitor_settings(settings)
    catalog = _catalog(settings)
    results = []
    for size in args.size:
        for name in args.scenario or scenarios.NAMES:
            sc = scenarios.build(name, size=size, days=args.days, seed=args.seed)
            results.append((size, evaluate(sc, msettings, catalog)))
    if args.json:
        print(json.dumps([dict(r.as_dict(), size=s) for s, r in results], indent=2))
        return 0
    print(render(["size", "scenario", "requests", "detected after", "spent before suspension", "attack unchecked",
                  "false critical", "warnings"],
                 [[s, r.scenario, r.requests, _secs(r.detected_after_s if r.attack else r.source_blocked_after_s),
                   "" if r.spent_during_attack_usd is None else f"${r.spent_during_attack_usd:,.2f}",
                   "" if r.attack_unchecked_usd is None else f"${r.attack_unchecked_usd:,.2f}",
                   r.false_critical, r.warnings] for s, r in results]))
    return 0


def _secs(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.0f} s" if v < 120 else f"{v / 60:.1f} min"


# -- monitor events ---------------------------------------------------------------------------

def cmd_events(args: argparse.Namespace) -> int:
    from jackstop.durations import iso
    from jackstop.monitor import eventlog
    from jackstop.table import render

    control = _store(args)
    _known_key(control, args.key)
    events = eventlog.read(control.store, since=_since(args.since), key=args.key)
    if args.json:
        print(json.dumps([e.as_dict() for e in events], indent=2))
        return 0
    print(render(["time", "severity", "key/source", "detector", "action", "reason"],
                 [[iso(e.ts), e.severity, e.key or e.source or "", e.detector, e.action, e.reason[:100]]
                  for e in events]))
    return 0


# -- ledger export / incident --------------------------------------------------------------------

def cmd_ledger_export(args: argparse.Namespace) -> int:
    from jackstop.monitor.export import export_lines

    control = _store(args)
    _known_key(control, args.key)
    out = _open_out(args.output)
    n = 0
    try:
        for line in export_lines(control.store, since=_since(args.since), key=args.key):
            out.write(line + "\n")
            n += 1
    except BrokenPipeError:
        return 0
    finally:
        if out is not sys.stdout:
            out.close()
    if args.output and args.output != "-":
        print(f"wrote {n} lines to {args.output}", file=sys.stderr)
    return 0


def cmd_incident(args: argparse.Namespace) -> int:
    from jackstop.monitor.incident import build_incident, render_csv, render_html
    from jackstop.store import NotFound

    control = _store(args)
    try:
        control.store.get_key(args.key)
    except NotFound as exc:
        raise UsageError(str(exc)) from None
    if args.format == "html" and not args.output and sys.stdout.isatty():
        raise UsageError(f"the incident report is an HTML page, not terminal text; write it to a file with "
                         f"`-o incident-{args.key}.html` and open that, or use --format json")
    settings = _settings(args)
    inc = build_incident(control.store, args.key, since=_since(args.since), catalog=_catalog(settings))
    if args.format == "json":
        text = json.dumps(inc.as_dict(), indent=2, default=str)
    elif args.format == "csv":
        text = render_csv(inc)
    else:
        text = render_html(inc)
    out = _open_out(args.output)
    out.write(text if text.endswith("\n") else text + "\n")
    if out is not sys.stdout:
        out.close()
        print(f"wrote the incident report for {args.key} to {args.output}", file=sys.stderr)
    return 0



# -- registration ---------------------------------------------------------------------------------

def register(sub: Any) -> None:
    def common(p: argparse.ArgumentParser, json_flag: bool = True) -> argparse.ArgumentParser:
        p.add_argument("--config", metavar="FILE", help="jackstop.toml (default: $JACKSTOP_CONFIG)")
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    mon = sub.add_parser("monitor", help="anomaly detection: announcements, replay, events").add_subparsers(
        dest="monitor_cmd", metavar="ACTION", required=True)

    p = common(mon.add_parser("expect", help="announce a planned change so it does not page"))
    _expect_args(p)
    p.set_defaults(func=cmd_expect)
    p = common(mon.add_parser("expectations", help="list announcements in force"))
    p.add_argument("--all", action="store_true", help="include ended ones")
    p.set_defaults(func=cmd_expectations)
    p = common(mon.add_parser("unexpect", help="remove an announcement"), False)
    p.add_argument("id", type=int)
    p.set_defaults(func=cmd_unexpect)

    p = common(mon.add_parser("replay", help="run the detectors over recorded traffic (JSON lines), print events"),
               False)
    p.add_argument("traffic", metavar="TRAFFIC.jsonl", help="traffic lines, or - for standard input")
    p.add_argument("--expect", metavar="FILE", help="announcements: JSON lines or `monitor expect` argument lines")
    p.add_argument("--summary", action="store_true", help="per-key totals on standard error at the end")
    p.set_defaults(func=cmd_replay)

    p = mon.add_parser("simulate", help="write a generated traffic scenario as replay lines")
    p.add_argument("scenario", help="normal, launch, move, move-unannounced, developer, attack-proxy, "
                                    "attack-distributed, attack-same-model, attack-slow, key-guessing")
    p.add_argument("--size", default="small", choices=["tiny", "small", "medium", "large"])
    p.add_argument("--days", type=float, default=14.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--output", "-o", metavar="FILE")
    p.add_argument("--expectations", metavar="FILE", help="also write the scenario's announcements here")
    p.set_defaults(func=cmd_simulate)

    p = common(mon.add_parser("evaluate", help="replay every scenario and report detection time, dollars, "
                                                "false critical events"))
    p.add_argument("--size", nargs="+", default=["tiny", "small"], choices=["tiny", "small", "medium", "large"])
    p.add_argument("--scenario", nargs="+", metavar="NAME")
    p.add_argument("--days", type=float, default=14.0)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=cmd_evaluate)

    p = common(mon.add_parser("events", help="detector events and the actions taken"))
    p.add_argument("--key", metavar="NAME")
    p.add_argument("--since", default="24h", help="a duration (24h, 7d) or an ISO date (default 24h)")
    p.set_defaults(func=cmd_events)

    p = common(sub.add_parser("incident", help="incident report for a key: timeline, charts, events, totals"), False)
    p.add_argument("key", metavar="KEY")
    p.add_argument("--since", default="7d", help="start of the period (default 7d)")
    p.add_argument("--format", choices=["html", "json", "csv"], default="html")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(func=cmd_incident)

    led = sub.add_parser("ledger", help="the usage ledger").add_subparsers(dest="ledger_cmd", metavar="ACTION",
                                                                          required=True)
    p = common(led.add_parser("export", help="write the ledger as replay lines (JSON)"), False)
    p.add_argument("--key", metavar="NAME")
    p.add_argument("--since", default="30d", help="a duration (7d) or an ISO date (default 30d)")
    p.add_argument("--output", "-o", metavar="FILE")
    p.set_defaults(func=cmd_ledger_export)
