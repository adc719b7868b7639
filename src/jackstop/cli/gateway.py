"""Gateway and administration subcommands: init, serve, secrets, providers, keys, usage, prices.

These act on the Store directly, so they work whether or not a gateway is running; a running
gateway sees each change on its very next request.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from jackstop.errors import UsageError
from jackstop.providers import KINDS


def _json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


def _settings(args: argparse.Namespace) -> Any:
    from jackstop import config

    from jackstop import extras

    try:
        settings = config.load(getattr(args, "config", None))
    except config.ConfigError as exc:
        raise UsageError(f"configuration error: {exc}") from None
    extras.check(settings)  # a configured feature whose extra is missing: one line, before anything starts
    return settings


def _control(args: argparse.Namespace, *, create: bool = False, settings: Any = None) -> Any:
    from jackstop.control import Control, ControlError
    from jackstop.home import Home, HomeError

    try:
        return Control.open(settings or _settings(args), Home.from_env(), create=create)
    except (ControlError, HomeError) as exc:
        raise UsageError(str(exc)) from None


def _guard(fn: Any) -> Any:
    """Turn the control layer's errors into one-line CLI errors."""

    def run(args: argparse.Namespace) -> int:
        from jackstop.config import ConfigError
        from jackstop.counters import CountersError
        from jackstop.control import ControlError
        from jackstop.home import HomeError
        from jackstop.secrets import SecretError
        from jackstop.store import StoreError

        try:
            return fn(args)
        except ConfigError as exc:
            raise UsageError(f"configuration error: {exc}") from None
        except (ControlError, HomeError, SecretError, StoreError, CountersError, ValueError) as exc:
            raise UsageError(str(exc)) from None

    return run


# -- init / serve ------------------------------------------------------------------------------

def _first_token(control: Any) -> str | None:
    if control.needs_first_token():
        return control.create_admin_token("admin", "admin", actor="init").token
    return None


def cmd_init(args: argparse.Namespace) -> int:
    control = _control(args, create=True)
    token = _first_token(control)
    home = control.home
    if args.json:
        _json({"home": str(home.path), "store": control.store.url_for_display, "admin_token": token})
        return 0
    print(f"jackstop home: {home.path}")
    print(f"store:         {control.store.url_for_display}")
    if token:
        print("\nAdmin token (shown once; keep it in a password manager):\n")
        print(f"  {token}\n")
        print("Use it as `Authorization: Bearer <token>` on the admin API.")
    else:
        print("Already initialised: an admin token exists (create another with `jackstop admin-tokens create`).")
    return 0


def _next_steps(control: Any, port: int) -> str | None:
    if control.is_set_up():
        return None
    return (
        "No provider or virtual key yet. Register a provider key and create a virtual key:\n\n"
        "  jackstop secrets set openai-main < /path/to/file-with-the-key   # or: read -s K; echo \"$K\" | jackstop secrets set openai-main\n"
        "  jackstop providers add openai-main --kind openai --secret local:openai-main\n"
        "  jackstop keys create my-app --provider openai-main\n\n"
        f"Then point the OpenAI SDK at http://127.0.0.1:{port}/v1 with the jsk_… key it printed.\n"
    )


def _bind(host: str, port: int) -> Any:
    """Bind the listening socket before anything is printed, so a busy port or a foreign address
    is one line and a non-zero exit (uvicorn would log it after "listening on")."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({getattr(exc, 'strerror', None) or exc}; "
                         "give --host an address of this machine, e.g. 127.0.0.1)") from None
    family, _, _, _, addr = min(infos, key=lambda i: i[0] == socket.AF_INET6)  # "localhost": 127.0.0.1 first
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart over TIME_WAIT
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} is in use (another program listens on {host}:{port}; stop it "
                             "or pick another with --port or server.port)") from None
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc}; give --host an address "
                         "of this machine, e.g. 127.0.0.1 or 0.0.0.0)") from None
    return sock


def cmd_serve(args: argparse.Namespace) -> int:
    from jackstop.server import make_server, setup_logging

    settings = _settings(args)
    server_over: dict[str, Any] = {}
    if args.host:
        server_over["host"] = args.host
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise UsageError(f"--port {args.port}: a port is a number from 1 to 65535 (0 picks a free one)")
        server_over["port"] = args.port
    if server_over:
        from pydantic import ValidationError

        from jackstop import config as cfg

        try:
            settings = settings.model_copy(update={"server": cfg.ServerSettings.model_validate(
                {**settings.server.model_dump(), **server_over})})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise UsageError(f"--{first['loc'][0]} {first.get('input')!s}: "
                             f"{first['msg'].removeprefix('Value error, ')}") from None
    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give 1 or more gateway processes (e.g. one per core)")
    sock = _bind(settings.server.host, settings.server.port)
    port = sock.getsockname()[1]
    setup_logging(settings.log.level, settings.log.file)
    control = _control(args, create=True)
    token = _first_token(control)
    if token:
        print(f"Initialised jackstop in {control.home.path}.\nAdmin token (shown once): {token}\n", flush=True)
    steps = _next_steps(control, port)
    control.store.close()
    if steps:
        print(steps, flush=True)
    if args.workers > 1:
        from jackstop.workers import serve_workers

        print(f"jackstop gateway listening on http://{settings.server.host}:{port} ({args.workers} workers)",
              flush=True)
        return serve_workers(settings, control.home, sock, args.workers)
    server, _app = make_server(settings, control.home)
    print(f"jackstop gateway listening on http://{settings.server.host}:{port}", flush=True)
    server.run(sockets=[sock])
    return 0


# -- secrets -------------------------------------------------------------------------------------

def cmd_secrets_set(args: argparse.Namespace) -> int:
    control = _control(args)  # like every other command, refuses a home that `jackstop init` did not create
    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"Value for secret {args.name} (input hidden): ")
    else:
        value = sys.stdin.read()
    ref = control.set_secret(args.name, value, "cli")
    print(f"stored {ref} (use it with: jackstop providers add NAME --kind KIND --secret {ref})")
    return 0


def cmd_secrets_list(args: argparse.Namespace) -> int:
    control = _control(args)
    recs = control.secrets()  # the admin API's GET /secrets
    if args.json:
        _json([s.model_dump(mode="json") for s in recs])
        return 0
    from jackstop.table import render

    print(render(["name", "ref", "last4"], [[s.name, s.ref, s.last4] for s in recs]))
    return 0


def cmd_secrets_remove(args: argparse.Namespace) -> int:
    control = _control(args)
    control.remove_secret(args.name, "cli")
    print(f"removed secret local:{args.name}")
    return 0


# -- providers ----------------------------------------------------------------------------------

def _provider_row(control: Any, p: Any) -> dict[str, Any]:
    return dict(control.provider_model(p).model_dump(mode="json", exclude={"policy"}))


def _deployments(args: argparse.Namespace) -> dict[str, str]:
    """--deployment DEPLOYMENT=MODEL (repeatable): the model each Azure deployment runs."""
    out = {}
    for item in args.deployment or []:
        name, sep, model = item.partition("=")
        if not sep or not name.strip() or not model.strip():
            raise UsageError(f"--deployment {item!r}: write DEPLOYMENT=MODEL, e.g. --deployment gpt4prod=gpt-4o")
        out[name.strip()] = model.strip()
    return out


def cmd_providers_add(args: argparse.Namespace) -> int:
    from jackstop.control.policy import validate

    control = _control(args)
    if deployments := _deployments(args):
        validate({"deployments": deployments})  # before the provider exists: all or nothing
    p = control.add_provider(args.name, args.kind, args.secret, args.base_url, "cli")
    if deployments:
        p = control.update_provider_policy(p.name, {"deployments": deployments}, [], "cli")
    if args.json:
        _json(_provider_row(control, p))
    else:
        print(f"added provider {p.name} ({p.kind}) at {p.base_url} using {p.secret_ref}")
    return 0


def cmd_providers_list(args: argparse.Namespace) -> int:
    control = _control(args)
    rows = [p.model_dump(mode="json", exclude={"policy"}) for p in control.providers()]  # GET /providers
    if args.json:
        _json(rows)
        return 0
    from jackstop.table import render

    print(render(["name", "kind", "base url", "secret", "last4"],
                 [[r["name"], r["kind"], r["base_url"], r["secret"], r["secret_last4"]] for r in rows]))
    return 0


def cmd_providers_remove(args: argparse.Namespace) -> int:
    control = _control(args)
    control.remove_provider(args.name, "cli")
    print(f"removed provider {args.name}")
    return 0


def cmd_providers_rotate(args: argparse.Namespace) -> int:
    control = _control(args)
    p = control.rotate_provider(args.name, args.secret, "cli")
    print(f"provider {p.name} now uses {p.secret_ref}; new requests use it at once, in-flight ones finish")
    return 0


# -- keys -------------------------------------------------------------------------------------

def _print_keys(views: list[dict[str, Any]]) -> None:
    from jackstop.durations import iso
    from jackstop.table import render

    print(render(["name", "status", "provider", "project", "key", "created", "expires"],
                 [[v["name"], v["status"] + (f" ({v['status_reason']})" if v["status_reason"] else ""),
                   v["provider"], v["project"] or "",
                   ", ".join(c["display"] for c in v["credentials"] if c["active"]),
                   iso(v["created_at"]), iso(v["expires_at"]) or ""] for v in views]))


def cmd_keys_create(args: argparse.Namespace) -> int:
    from jackstop.cli.policy_args import expiry, policy_changes

    control = _control(args)
    policy, _ = policy_changes(args)
    issued = control.create_key(args.name, args.provider, "cli", project=args.project, policy=policy,
                                expires_at=expiry(args))
    view = control.key_view(issued.record)
    if args.json:
        _json({"key": issued.token, **view})
        return 0
    print(f"Created key {args.name} for provider {args.provider}"
          + (f" in project {args.project}" if args.project else "") + ".")
    print("\nVirtual key (shown once; put it in the app's secret store, never in code):\n")
    print(f"  {issued.token}\n")
    _print_policy(view["policy"])
    return 0


def _print_policy(policy: dict[str, Any]) -> None:
    if not policy:
        print("No budget or limits: add some with `jackstop keys update NAME --budget 10/day --rpm 60`.")
        return
    for b in policy.get("budgets", []):
        print(f"budget: ${b['amount']} per {b['window']} (alerts at "
              f"{', '.join(f'{int(a * 100)}%' for a in b['alerts'])})")
    for k, v in policy.items():
        if k != "budgets":
            print(f"{k}: {v}")


def cmd_keys_update(args: argparse.Namespace) -> int:
    from jackstop.cli.policy_args import expiry, policy_changes

    control = _control(args)
    changes, clear = policy_changes(args)
    exp = expiry(args)
    rec = control.update_key(args.name, changes, clear, "cli", expires_at=exp if exp is not None else False)
    view = control.key_view(rec)
    if args.json:
        _json(view)
    else:
        print(f"updated key {rec.name}; takes effect on its next request")
        _print_policy(view["policy"])
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from jackstop.durations import iso, parse_duration

    control = _control(args)
    grace = parse_duration(args.grace) if args.grace else 0.0
    issued = control.rotate_key(args.name, grace, "cli")
    if args.json:
        _json({"key": issued.token, **control.key_view(issued.record)})
        return 0
    import time

    print(f"Rotated key {args.name}. New virtual key (shown once):\n\n  {issued.token}\n")
    print("The old key " + (f"keeps working until {iso(time.time() + grace)}, then never again."
                            if grace else "stopped working now."))
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    control = _control(args)
    views = [v.model_dump(mode="json", exclude={"spend"})  # the admin API's GET /keys
             for v in control.keys(provider=args.provider, project=args.project, tokens=args.tokens)]
    if args.json:
        _json(views)
    else:
        _print_keys(views)
    return 0


def cmd_keys_show(args: argparse.Namespace) -> int:
    control = _control(args)
    view = control.key_view(control.get_key(args.name), spend=True)  # the admin API's GET /keys/{name}
    if args.json:
        _json(view)
    else:
        _print_keys([view])
        print()
        _print_policy(view["policy"])
        for s in view["spend"]:
            print(f"spent in this {s['window']} window: ${s['spent_usd']} of ${s['cap_usd']}")
    return 0


def _status_cmd(status: str, verb: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        control = _control(args)
        current = control.get_key(args.name)
        if current.status == status:  # nothing changes, so nothing is logged either
            if args.json:
                _json(control.key_view(current))
            else:
                print(f"key {current.name} is already {status}; nothing changed")
            return 0
        rec = control.set_key_status(args.name, status, args.reason or "", "cli")
        if args.json:
            _json(control.key_view(rec))
        else:
            print(f"{verb} key {rec.name}; takes effect on its next request")
        return 0

    return run


# -- usage / prices ---------------------------------------------------------------------------

def cmd_usage(args: argparse.Namespace) -> int:
    from jackstop.durations import parse_since
    from jackstop.table import render, usd

    control = _control(args)
    since = parse_since(args.since)
    rows = [r.model_dump(mode="json") for r in control.usage(since, args.key)]  # the admin API's GET /usage
    if args.json:
        _json({"since": since, "usage": rows,
               "total_cost_usd": sum(r["cost_nusd"] for r in rows) / 1e9})
        return 0
    print(render(["key", "model", "requests", "served", "input", "cached", "output", "reasoning", "cost"],
                 [[r["key"] or "(none)", r["model"] or "", r["requests"], r["served"], r["input_tokens"],
                   r["cached_input_tokens"], r["output_tokens"], r["reasoning_tokens"], usd(r["cost_nusd"])]
                  for r in rows]))
    print(f"\ntotal: {usd(sum(r['cost_nusd'] for r in rows))} since {args.since}")
    return 0


def cmd_prices(args: argparse.Namespace) -> int:
    from jackstop.pricing import Catalog, PriceError

    settings = _settings(args)
    try:
        catalog = Catalog.load(settings.prices)
    except PriceError as exc:
        raise UsageError(f"[prices] in the configuration: {exc}") from None
    from jackstop.providers import price_kind

    # A kind priced as another (azure-openai: OpenAI's list prices) shows that one's prices.
    wanted = price_kind(args.provider) if args.provider in KINDS else args.provider
    rows = [r for r in catalog.rows() if not args.provider or r.provider_kind == wanted]
    if args.provider and not rows:
        kinds = sorted({r.provider_kind for r in catalog.rows()})
        raise UsageError(f"no prices for provider kind {args.provider!r}; known kinds: {', '.join(kinds)}")
    if args.json:
        _json([r.as_dict() for r in rows])
        return 0
    from jackstop.table import render

    print("USD per million tokens (per image where shown)")
    print(render(["provider", "model", "input", "cached", "cache write", "output", "per image", "as of", "override"],
                 [[r.provider_kind, r.model, r.rates.input, r.rates.cached_input or "", r.rates.cache_write or "",
                   r.rates.output, ", ".join(f"{s} {q} {usd}" for s, q, usd in r.images[:3])
                   + (" …" if len(r.images) > 3 else ""), r.as_of or "", "yes" if r.override else ""]
                  for r in rows]))
    return 0


# -- projects, global, provider limits ------------------------------------------------------------

def _project_cmd(create: bool) -> Any:
    def run(args: argparse.Namespace) -> int:
        from jackstop.cli.policy_args import policy_changes

        control = _control(args)
        changes, clear = policy_changes(args)
        rec = control.upsert_project(args.name, changes, clear, "cli", create=create)
        if args.json:
            _json({"name": rec.name, "policy": rec.policy})
        else:
            print(f"{'created' if create else 'updated'} project {rec.name}")
            _print_policy(rec.policy)
        return 0

    return run


def cmd_projects_list(args: argparse.Namespace) -> int:
    from jackstop.table import render

    control = _control(args)
    rows = [p.model_dump(mode="json") for p in control.projects()]  # the admin API's GET /projects
    if args.json:
        _json(rows)
    else:
        print(render(["project", "keys", "policy"], [[r["name"], r["keys"], json.dumps(r["policy"], sort_keys=True)]
                                                      for r in rows]))
    return 0


def cmd_global_update(args: argparse.Namespace) -> int:
    from jackstop.cli.policy_args import policy_changes

    control = _control(args)
    changes, clear = policy_changes(args)
    rec = control.upsert_project("*", changes, clear, "cli", create=False)
    if args.json:
        _json(rec.policy)
    else:
        print("updated the global policy (applies to every request)")
        _print_policy(rec.policy)
    return 0


def cmd_global_show(args: argparse.Namespace) -> int:
    control = _control(args)
    policy = control.global_policy()
    if args.json:
        _json(policy)
    else:
        _print_policy(policy)
    return 0


def cmd_providers_update(args: argparse.Namespace) -> int:
    from jackstop.cli.policy_args import policy_changes

    control = _control(args)
    changes, clear = policy_changes(args)
    if deployments := _deployments(args):  # added to (or replacing) the provider's mapping
        old = control.get_provider(args.name).policy.get("deployments") or {}
        changes["deployments"] = {**old, **deployments}
    if args.base_url:
        # Obeys [providers] approved_hosts like the admin API: the CLI cannot approve a host either.
        rec = control.update_provider(args.name, "cli", base_url=args.base_url)
    if changes or clear or not args.base_url:
        rec = control.update_provider_policy(args.name, changes, clear, "cli")
    if args.json:
        _json({"name": rec.name, "policy": rec.policy})
    else:
        print(f"updated provider {rec.name} ({rec.base_url})")
        _print_policy(rec.policy)
    return 0


# -- panic, audit log, tokens -----------------------------------------------------------------------

def cmd_panic(args: argparse.Namespace) -> int:
    control = _control(args)
    if args.lift:
        rec = control.lift_panic("cli")
        if args.json:
            _json(rec)
        else:
            print(f"lifted panic {rec['id']}: resumed {len(rec['resumed'])} key(s)"
                  + (f": {', '.join(rec['resumed'])}" if rec["resumed"] else ""))
        return 0
    rec = control.panic("cli", provider=args.provider, project=args.project, everything=args.all,
                        reason=args.reason or "")
    if args.json:
        _json(rec)
    else:
        print(f"PANIC {rec['id']}: suspended {len(rec['keys'])} key(s)"
              + (f": {', '.join(rec['keys'])}" if rec["keys"] else "")
              + "\nThey are refused from their next request. Undo exactly this with `jackstop panic --lift`.")
    return 0


def cmd_audit_log(args: argparse.Namespace) -> int:
    from jackstop.durations import iso, parse_since
    from jackstop.table import render

    control = _control(args)
    entries = control.audit_entries(parse_since(args.since), args.limit)  # the admin API's GET /audit-log
    if args.json:
        _json([dict(e.model_dump(mode="json"), time=iso(e.ts)) for e in entries])
    else:
        print(render(["time", "actor", "action", "target", "detail"],
                     [[iso(e.ts), e.actor, e.action, e.target, json.dumps(e.detail, sort_keys=True)[:100]]
                      for e in entries]))
    return 0


def cmd_tokens_mint(args: argparse.Namespace) -> int:
    from jackstop.durations import iso, parse_duration
    from jackstop.cli.policy_args import policy_changes

    control = _control(args)
    changes, _ = policy_changes(args)
    issued = control.mint_client_token(args.key, parse_duration(args.ttl), changes, "cli")
    if args.json:
        _json({"token": issued.token, "name": issued.record.name, "expires_at": issued.record.expires_at})
    else:
        print(f"client token {issued.record.name} (expires {iso(issued.record.expires_at)}):\n\n  {issued.token}\n")
    return 0


def cmd_admin_tokens_create(args: argparse.Namespace) -> int:
    control = _control(args)
    keys = tuple(k.strip() for k in (args.keys or "").split(",") if k.strip())
    issued = control.create_admin_token(args.name, args.role, "cli", keys=keys, project=args.project)
    limit = control.mint_scope(issued.record.hash)
    if args.json:  # what the admin API's POST /admin-tokens returns
        from jackstop.control.models import AdminTokenIssued, MintLimit

        _json(AdminTokenIssued(token=issued.token, name=args.name, role=args.role,
                               limited_to=MintLimit(keys=list(limit.keys), project=limit.project) if limit else None
                               ).model_dump(mode="json"))
    else:
        print(f"admin token {args.name} (role {args.role}"
              + (f", mints only from {limit.describe()}" if limit else "") + f"; shown once):\n\n  {issued.token}\n")
    return 0


def cmd_admin_tokens_list(args: argparse.Namespace) -> int:
    from jackstop.durations import iso
    from jackstop.table import render

    control = _control(args)
    tokens = control.admin_tokens()  # the admin API's GET /admin-tokens
    if args.json:
        _json([t.model_dump(mode="json") for t in tokens])
    else:
        print(render(["name", "role", "limited to", "token", "created", "revoked"],
                     [[t.name, t.role, _limit_text(t.limited_to), t.token, iso(t.created_at), iso(t.revoked_at)]
                      for t in tokens]))
    return 0


def _limit_text(limit: Any) -> str:
    if limit is None:
        return ""
    from jackstop.control import MintScope

    return MintScope(tuple(limit.keys), limit.project).describe()


def cmd_admin_tokens_revoke(args: argparse.Namespace) -> int:
    control = _control(args)
    control.revoke_admin_token(args.name, "cli")
    print(f"revoked admin token {args.name}")
    return 0


# -- registration -------------------------------------------------------------------------------

def register(sub: Any) -> None:
    from jackstop.cli.policy_args import add_policy_args

    def common(p: argparse.ArgumentParser, json_flag: bool = True) -> argparse.ArgumentParser:
        p.add_argument("--config", metavar="FILE", help="jackstop.toml (default: $JACKSTOP_CONFIG)")
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    p = common(sub.add_parser("init", help="create the data directory, store and first admin token"))
    p.set_defaults(func=_guard(cmd_init))

    p = common(sub.add_parser("serve", help="run the gateway"), json_flag=False)
    p.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8787)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="gateway processes sharing the port, caps exact across them (default 1; e.g. one per core)")
    p.set_defaults(func=_guard(cmd_serve))

    sec = sub.add_parser("secrets", help="the local keystore of provider keys").add_subparsers(
        dest="secrets_cmd", metavar="ACTION", required=True)
    p = common(sec.add_parser("set", help="store a secret read from standard input (never from argv)"), False)
    p.add_argument("name")
    p.set_defaults(func=_guard(cmd_secrets_set))
    p = common(sec.add_parser("list", help="list stored secrets (names and last 4 characters)"))
    p.set_defaults(func=_guard(cmd_secrets_list))
    p = common(sec.add_parser("remove", help="delete a stored secret"), False)
    p.add_argument("name")
    p.set_defaults(func=_guard(cmd_secrets_remove))

    prov = sub.add_parser("providers", help="provider credentials the gateway holds").add_subparsers(
        dest="providers_cmd", metavar="ACTION", required=True)
    p = common(prov.add_parser("add", help="register a provider"))
    p.add_argument("name")
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--secret", required=True, metavar="SECRETREF", help="env:VARIABLE, local:NAME, vault:MOUNT/data/PATH#FIELD, "
                   "aws-sm:SECRET_ID[#FIELD] or azure-kv:https://VAULT.vault.azure.net/secrets/NAME")
    p.add_argument("--base-url", help="what you would give the provider's SDK as base_url")
    p.add_argument("--deployment", action="append", metavar="DEPLOYMENT=MODEL",
                   help="azure-openai: the model a deployment runs, for its price (repeatable)")
    p.set_defaults(func=_guard(cmd_providers_add))
    p = common(prov.add_parser("list", help="list providers (never their secrets)"))
    p.set_defaults(func=_guard(cmd_providers_list))
    p = common(prov.add_parser("remove", help="remove a provider"), False)
    p.add_argument("name")
    p.set_defaults(func=_guard(cmd_providers_remove))
    p = common(prov.add_parser("update", help="set a provider's base URL, budgets and limits"))
    p.add_argument("name")
    p.add_argument("--base-url", help="a new base URL (its host must be official or in [providers] approved_hosts)")
    p.add_argument("--deployment", action="append", metavar="DEPLOYMENT=MODEL",
                   help="azure-openai: map a deployment to the model it runs (repeatable; --clear deployments)")
    add_policy_args(p, expires=False, update=True)
    p.set_defaults(func=_guard(cmd_providers_update))
    p = common(prov.add_parser("rotate", help="point a provider at a new secret"), False)
    p.add_argument("name")
    p.add_argument("--secret", required=True, metavar="SECRETREF")
    p.set_defaults(func=_guard(cmd_providers_rotate))

    keys = sub.add_parser("keys", help="virtual keys").add_subparsers(dest="keys_cmd", metavar="ACTION", required=True)
    p = common(keys.add_parser("create", help="create a virtual key (printed once)"))
    p.add_argument("name")
    p.add_argument("--provider", required=True)
    p.add_argument("--project")
    add_policy_args(p)
    p.set_defaults(func=_guard(cmd_keys_create))
    p = common(keys.add_parser("update", help="change a key's budgets, limits and rules"))
    p.add_argument("name")
    add_policy_args(p, update=True)
    p.set_defaults(func=_guard(cmd_keys_update))
    p = common(keys.add_parser("rotate", help="issue a new key; the old one works until --grace ends"))
    p.add_argument("name")
    p.add_argument("--grace", metavar="DURATION", help="how long the old key keeps working (default: not at all)")
    p.set_defaults(func=_guard(cmd_keys_rotate))
    p = common(keys.add_parser("list", help="list keys"))
    p.add_argument("--provider")
    p.add_argument("--project")
    p.add_argument("--tokens", action="store_true", help="include short-lived client tokens")
    p.set_defaults(func=_guard(cmd_keys_list))
    p = common(keys.add_parser("show", help="show one key"))
    p.add_argument("name")
    p.set_defaults(func=_guard(cmd_keys_show))
    for action, status, verb in (("revoke", "revoked", "revoked"), ("suspend", "suspended", "suspended"),
                                 ("resume", "active", "resumed")):
        p = common(keys.add_parser(action, help=f"{action} a key"))
        p.add_argument("name")
        p.add_argument("--reason", help="recorded in the audit log")
        p.set_defaults(func=_guard(_status_cmd(status, verb)))

    proj = sub.add_parser("projects", help="groups of keys with shared budgets and rules").add_subparsers(
        dest="projects_cmd", metavar="ACTION", required=True)
    for action, create in (("create", True), ("update", False)):
        p = common(proj.add_parser(action, help=f"{action} a project"))
        p.add_argument("name")
        add_policy_args(p, providers=True, expires=False, update=not create)
        p.set_defaults(func=_guard(_project_cmd(create)))
    p = common(proj.add_parser("list", help="list projects"))
    p.set_defaults(func=_guard(cmd_projects_list))

    glob = sub.add_parser("global", help="budgets and limits for every request").add_subparsers(
        dest="global_cmd", metavar="ACTION", required=True)
    p = common(glob.add_parser("show", help="show the global policy"))
    p.set_defaults(func=_guard(cmd_global_show))
    p = common(glob.add_parser("update", help="change the global policy"))
    add_policy_args(p, providers=True, expires=False, update=True)
    p.set_defaults(func=_guard(cmd_global_update))

    p = common(sub.add_parser("panic", help="suspend every matching key at once (undo with --lift)"))
    who = p.add_mutually_exclusive_group()
    who.add_argument("--provider", metavar="NAME")
    who.add_argument("--project", metavar="NAME")
    who.add_argument("--all", action="store_true")
    who.add_argument("--lift", action="store_true", help="resume exactly the keys the last panic suspended")
    p.add_argument("--reason")
    p.set_defaults(func=_guard(cmd_panic))

    p = common(sub.add_parser("audit-log", help="who changed what, when"))
    p.add_argument("--since", default="30d")
    p.add_argument("--limit", type=int, default=1000)
    p.set_defaults(func=_guard(cmd_audit_log))

    tok = sub.add_parser("tokens", help="short-lived client tokens (jst_) for mobile and browser apps").add_subparsers(
        dest="tokens_cmd", metavar="ACTION", required=True)
    p = common(tok.add_parser("mint", help="mint a client token from a key (TTL at most 24h, with its own budget)"))
    p.add_argument("key", metavar="KEY")
    p.add_argument("--ttl", required=True, metavar="DURATION", help="e.g. 15m, 1h, 24h")
    add_policy_args(p, expires=False)
    p.set_defaults(func=_guard(cmd_tokens_mint))

    adm = sub.add_parser("admin-tokens", help="tokens for the admin API").add_subparsers(
        dest="admin_tokens_cmd", metavar="ACTION", required=True)
    p = common(adm.add_parser("create", help="create an admin token (printed once)"))
    p.add_argument("name")
    p.add_argument("--role", default="admin", choices=["admin", "mint", "read"],
                   help="admin: everything; mint: only mint client tokens; read: only read")
    p.add_argument("--keys", metavar="NAME,NAME", help="a mint token mints only from these keys")
    p.add_argument("--project", metavar="NAME", help="a mint token mints only from this project's keys")
    p.set_defaults(func=_guard(cmd_admin_tokens_create))
    p = common(adm.add_parser("list", help="list admin tokens"))
    p.set_defaults(func=_guard(cmd_admin_tokens_list))
    p = common(adm.add_parser("revoke", help="revoke an admin token"), False)
    p.add_argument("name")
    p.set_defaults(func=_guard(cmd_admin_tokens_revoke))

    p = common(sub.add_parser("usage", help="spend and tokens per key and model"))
    p.add_argument("--key", metavar="NAME")
    p.add_argument("--since", default="24h", help="a duration (24h, 7d) or an ISO date (default 24h)")
    p.set_defaults(func=_guard(cmd_usage))

    p = common(sub.add_parser("prices", help="prices in force, USD per million tokens"))
    p.add_argument("--provider", metavar="KIND")
    p.set_defaults(func=_guard(cmd_prices))
