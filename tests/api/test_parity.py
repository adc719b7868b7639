"""Parity: every action of the `jackstop` CLI is an admin-API operation and every admin-API
operation is a CLI action, except the explicit lists below. A new CLI action or a new route
that exists in only one of them fails here until it gets its twin (or a reason to be alone)."""

from __future__ import annotations

import argparse

from jackstop.api.openapi import document
from jackstop.cli import build_parser
from jackstop.server import admin_operations

# CLI action -> the operationId that does the same.
TWINS = {
    "secrets set": "set_secret", "secrets list": "list_secrets", "secrets remove": "remove_secret",
    "providers add": "add_provider", "providers list": "list_providers", "providers remove": "remove_provider",
    "providers update": "update_provider", "providers rotate": "rotate_provider",
    "keys create": "create_key", "keys update": "update_key", "keys rotate": "rotate_key", "keys list": "list_keys",
    "keys show": "show_key", "keys revoke": "revoke_key", "keys suspend": "suspend_key", "keys resume": "resume_key",
    "projects create": "create_project", "projects update": "update_project", "projects list": "list_projects",
    "global show": "show_global", "global update": "update_global",
    "panic": "panic", "audit-log": "audit_log", "tokens mint": "mint_token",
    "admin-tokens create": "create_admin_token", "admin-tokens list": "list_admin_tokens",
    "admin-tokens revoke": "revoke_admin_token",
    "usage": "usage", "prices": "prices", "alerts list": "list_alerts",
    "monitor expect": "add_expectation", "monitor expectations": "list_expectations",
    "monitor unexpect": "remove_expectation", "monitor events": "list_events",
    "incident": "incident", "ledger export": "export_ledger",
}

# Actions that act on this machine, not on the gateway's state, so they have no route.
LOCAL_ONLY = {
    "init",  # creates the data directory and the first admin token: there is no API before it
    "serve",  # runs the server itself
    "scan",  # reads files on this machine (the API's revoke-leaked is what --revoke calls)
    "hook install",  # writes a git hook into a local repository
    "audit feed update", "audit feed status",  # the supply-chain auditor's local advisory feed
    "posture",  # scores a local repository (it reads GET /posture/gateway with --admin-url)
    "demo",  # a simulated attack on a throwaway gateway of its own
    "monitor replay", "monitor simulate", "monitor evaluate",  # offline analysis of files and generated scenarios
    "alerts test",  # sends a test alert through the channels of the config on this machine
}

# Operations that serve other doors rather than a CLI action of their own.
API_ONLY = {
    "revoke_leaked",  # what `jackstop scan --revoke` calls on a running gateway
    "lift_panic",  # `jackstop panic --lift`: one CLI action with a flag, two routes
    "posture_gateway",  # what `jackstop posture --admin-url` reads
}


def cli_actions(parser: argparse.ArgumentParser | None = None) -> set[str]:
    found: set[str] = set()

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None:
            found.add(" ".join(path))
            return
        for name, child in sub.choices.items():
            walk(child, (*path, name))

    walk(parser or build_parser(), ())
    return found


def api_operations() -> set[str]:
    doc = document(admin_operations(None, None, None, None, None))
    return {op["operationId"] for ops in doc["paths"].values() for op in ops.values()} - {"openapi"}


def test_every_cli_action_has_a_route_and_every_route_an_action() -> None:
    actions, ops = cli_actions(), api_operations()
    assert not (set(TWINS) | LOCAL_ONLY) - actions, "listed here but not a CLI action any more"
    assert not (set(TWINS.values()) | API_ONLY) - ops, "listed here but not an admin-API operation any more"
    cli_alone = actions - set(TWINS) - LOCAL_ONLY
    api_alone = ops - set(TWINS.values()) - API_ONLY
    assert not cli_alone, f"CLI actions without an admin-API route: {sorted(cli_alone)}"
    assert not api_alone, f"admin-API operations without a CLI action: {sorted(api_alone)}"


def test_the_walk_sees_a_new_action() -> None:
    """The check above is not vacuous: an action added to the parser shows up as unpaired."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub.add_parser("frobnicate")
    assert cli_actions(parser) - set(TWINS) - LOCAL_ONLY == {"frobnicate"}
