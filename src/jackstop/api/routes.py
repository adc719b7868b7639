"""The admin API's operations on keys, projects, the global policy, panic, providers, secrets,
admin tokens, usage, prices and the audit log: each one a call into jackstop.control, the same code
the CLI runs, in a worker thread (the Store is synchronous).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from jackstop.api.operation import Call, Operation
from jackstop.control import Control, ControlError
from jackstop.control import models as m
from jackstop.durations import parse_duration, parse_since

READ = ("admin", "read")


class SinceQuery(m.Request):
    since: str = Field("30d", max_length=64, description="a duration ago (24h, 7d) or an ISO-8601 time")
    limit: int = Field(1000, ge=1, le=100_000, description="at most this many entries, newest first")


class UsageQuery(m.Request):
    since: str = Field("24h", max_length=64, description="a duration ago (24h, 7d) or an ISO-8601 time")
    key: str | None = Field(None, max_length=128, description="only this key")


class KeyListQuery(m.Request):
    provider: str | None = Field(None, max_length=128, description="only keys of this provider")
    project: str | None = Field(None, max_length=128, description="only keys of this project")
    tokens: bool = Field(True, description="include short-lived client tokens")


class PriceQuery(m.Request):
    provider: str | None = Field(None, max_length=64, description="only this provider kind")


def _policy(spec: Any) -> dict[str, Any]:
    """The fields a request sets (absent fields keep their values on an update)."""
    return spec.model_dump(mode="json", exclude_unset=True) if spec is not None else {}


def operations(control: Control, catalog: Any) -> list[Operation]:
    def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return asyncio.to_thread(fn, *args, **kwargs)

    async def list_keys(c: Call) -> tuple[int, BaseModel]:
        q: KeyListQuery = c.query

        return 200, m.KeyList(keys=await run(control.keys, provider=q.provider, project=q.project, tokens=q.tokens))

    async def create_key(c: Call) -> tuple[int, BaseModel]:
        b: m.KeyCreate = c.body
        issued = await run(control.create_key, b.name, b.provider, c.actor, project=b.project,
                           policy=_policy(b.policy), expires_at=b.expires_at)
        return 201, m.IssuedKey(key=issued.token, record=await run(control.key_model, issued.record),
                                note="this is the only time the key is shown; store it in your app's secret store")

    async def show_key(c: Call) -> tuple[int, BaseModel]:
        rec = await run(control.get_key, c.params["name"])
        return 200, await run(control.key_model, rec, spend=True)

    def status(new: str) -> Callable[[Call], Any]:
        async def change(c: Call) -> tuple[int, BaseModel]:
            rec = await run(control.set_key_status, c.params["name"], new, c.body.reason, c.actor)
            return 200, await run(control.key_model, rec)

        return change

    async def revoke_leaked(c: Call) -> tuple[int, BaseModel]:
        name = await run(control.revoke_leaked_key, c.body.key, c.body.reason, c.actor)
        if name is None:
            raise ControlError("that token is not a key of this gateway", 404, "unknown_key")
        return 200, m.LeakRevoked(name=name, status="revoked")

    async def update_key(c: Call) -> tuple[int, BaseModel]:
        b: m.KeyUpdate = c.body
        rec = await run(control.update_key, c.params["name"], _policy(b.policy), list(b.clear), c.actor,
                        expires_at=b.expires_at if "expires_at" in b.model_fields_set else False)
        return 200, await run(control.key_model, rec)

    async def rotate_key(c: Call) -> tuple[int, BaseModel]:
        grace = parse_duration(c.body.grace) if c.body.grace else 0.0
        issued = await run(control.rotate_key, c.params["name"], grace, c.actor)
        return 200, m.IssuedKey(key=issued.token, record=await run(control.key_model, issued.record))

    async def mint_token(c: Call) -> tuple[int, BaseModel]:
        # A mint-role token may be limited to some keys or a project (`admin-tokens create --keys/--project`).
        scope = await run(control.mint_scope, c.admin_hash) if c.role == "mint" else None
        issued = await run(control.mint_client_token, c.params["name"], parse_duration(c.body.ttl),
                           _policy(c.body.policy), c.actor, scope=scope)
        rec = issued.record
        return 201, m.MintedToken(token=issued.token, name=rec.name, expires_at=rec.expires_at,
                                  policy=m.PolicySpec.model_validate(rec.policy))

    async def list_projects(c: Call) -> tuple[int, BaseModel]:
        return 200, m.ProjectList(projects=await run(control.projects))

    async def create_project(c: Call) -> tuple[int, BaseModel]:
        rec = await run(control.upsert_project, c.body.name, _policy(c.body.policy), [], c.actor, create=True)
        return 201, m.ProjectView(name=rec.name, policy=rec.policy)

    async def update_project(c: Call) -> tuple[int, BaseModel]:
        rec = await run(control.upsert_project, c.params["name"], _policy(c.body.policy), list(c.body.clear),
                        c.actor, create=False)
        return 200, m.ProjectView(name=rec.name, policy=rec.policy)

    async def show_global(c: Call) -> tuple[int, BaseModel]:
        return 200, m.GlobalPolicy(policy=await run(control.global_policy))

    async def update_global(c: Call) -> tuple[int, BaseModel]:
        rec = await run(control.upsert_project, "*", _policy(c.body.policy), list(c.body.clear), c.actor,
                        create=False)
        return 200, m.GlobalPolicy(policy=rec.policy)

    async def panic(c: Call) -> tuple[int, BaseModel]:
        b: m.PanicRequest = c.body
        rec = await run(control.panic, c.actor, provider=b.provider, project=b.project, everything=b.all,
                        reason=b.reason)
        return 200, m.PanicRecord(**rec)

    async def lift_panic(c: Call) -> tuple[int, BaseModel]:
        return 200, m.PanicRecord(**await run(control.lift_panic, c.actor))

    async def list_providers(c: Call) -> tuple[int, BaseModel]:
        return 200, m.ProviderList(providers=await run(control.providers))

    async def add_provider(c: Call) -> tuple[int, BaseModel]:
        b: m.ProviderAdd = c.body
        rec = await run(control.add_provider, b.name, b.kind, b.secret, b.base_url, c.actor)
        return 201, await run(control.provider_model, rec)

    async def update_provider(c: Call) -> tuple[int, BaseModel]:
        b: m.ProviderUpdate = c.body
        name = c.params["name"]
        if b.base_url is not None:
            await run(control.update_provider, name, c.actor, base_url=b.base_url)
        if b.policy is not None or b.clear:
            await run(control.update_provider_policy, name, _policy(b.policy), list(b.clear), c.actor)
        rec = await run(control.get_provider, name)
        return 200, await run(control.provider_model, rec, policy=True)

    async def remove_provider(c: Call) -> tuple[int, BaseModel]:
        await run(control.remove_provider, c.params["name"], c.actor)
        return 200, m.ProviderRemoved(name=c.params["name"], removed=True)

    async def rotate_provider(c: Call) -> tuple[int, BaseModel]:
        rec = await run(control.rotate_provider, c.params["name"], c.body.secret, c.actor)
        return 200, await run(control.provider_model, rec)

    async def list_secrets(c: Call) -> tuple[int, BaseModel]:
        return 200, m.SecretList(secrets=await run(control.secrets))

    async def set_secret(c: Call) -> tuple[int, BaseModel]:
        return 200, m.SecretStored(ref=await run(control.set_secret, c.params["name"], c.body.value, c.actor))

    async def remove_secret(c: Call) -> tuple[int, BaseModel]:
        await run(control.remove_secret, c.params["name"], c.actor)
        return 200, m.SecretRemoved(name=c.params["name"], removed=True)

    async def list_admin_tokens(c: Call) -> tuple[int, BaseModel]:
        return 200, m.AdminTokenList(tokens=await run(control.admin_tokens))

    async def create_admin_token(c: Call) -> tuple[int, BaseModel]:
        b: m.AdminTokenCreate = c.body
        issued = await run(control.create_admin_token, b.name, b.role, c.actor, keys=tuple(b.keys), project=b.project)
        limit = await run(control.mint_scope, issued.record.hash)
        return 201, m.AdminTokenIssued(token=issued.token, name=b.name, role=b.role,
                                       limited_to=m.MintLimit(keys=list(limit.keys), project=limit.project)
                                       if limit else None)

    async def revoke_admin_token(c: Call) -> tuple[int, BaseModel]:
        await run(control.revoke_admin_token, c.params["name"], c.actor)
        return 200, m.AdminTokenRevoked(name=c.params["name"], revoked=True)

    async def usage(c: Call) -> tuple[int, BaseModel]:
        since = parse_since(c.query.since)
        return 200, m.UsageReport(since=since, usage=await run(control.usage, since, c.query.key))

    async def prices(c: Call) -> tuple[int, BaseModel]:
        kind = c.query.provider
        rows = [r for r in catalog.rows() if not kind or r.provider_kind == kind]
        if kind and not rows:
            kinds = sorted({r.provider_kind for r in catalog.rows()})
            raise ControlError(f"no prices for provider kind {kind!r}; known kinds: {', '.join(kinds)}", 404)
        return 200, m.PriceList(prices=[r.as_dict() for r in rows])

    async def audit_log(c: Call) -> tuple[int, BaseModel]:
        since = parse_since(c.query.since)
        return 200, m.AuditLog(entries=await run(control.audit_entries, since, c.query.limit))

    O = Operation
    return [
        O("GET", "/keys", "list_keys", "List virtual keys", list_keys, m.KeyList, query=KeyListQuery, roles=READ),
        O("POST", "/keys", "create_key", "Create a virtual key (the key is returned once)", create_key,
          m.IssuedKey, m.KeyCreate, status=201),
        O("POST", "/keys/revoke-leaked", "revoke_leaked", "Revoke the key a leaked token belongs to", revoke_leaked,
          m.LeakRevoked, m.RevokeLeaked),
        O("GET", "/keys/{name}", "show_key", "Show one key, with its spend in each budget window", show_key,
          m.KeyView, roles=READ),
        O("PATCH", "/keys/{name}", "update_key", "Change a key's budgets, limits, rules or expiry", update_key,
          m.KeyView, m.KeyUpdate),
        O("POST", "/keys/{name}/revoke", "revoke_key", "Revoke a key (final)", status("revoked"), m.KeyView,
          m.StatusChange),
        O("POST", "/keys/{name}/suspend", "suspend_key", "Suspend a key", status("suspended"), m.KeyView,
          m.StatusChange),
        O("POST", "/keys/{name}/resume", "resume_key", "Resume a suspended key", status("active"), m.KeyView,
          m.StatusChange),
        O("POST", "/keys/{name}/rotate", "rotate_key", "Issue a new key; the old one works until the grace ends",
          rotate_key, m.IssuedKey, m.KeyRotate),
        O("POST", "/keys/{name}/tokens", "mint_token",
          "Mint a short-lived client token (jst_) with a budget carved from the key's", mint_token, m.MintedToken,
          m.TokenMint, roles=("admin", "mint"), status=201),
        O("GET", "/projects", "list_projects", "List projects", list_projects, m.ProjectList, roles=READ),
        O("POST", "/projects", "create_project", "Create a project", create_project, m.ProjectView, m.ProjectCreate,
          status=201),
        O("PATCH", "/projects/{name}", "update_project", "Change a project's policy", update_project, m.ProjectView,
          m.PolicyUpdate),
        O("GET", "/global", "show_global", "The global policy", show_global, m.GlobalPolicy, roles=READ),
        O("PATCH", "/global", "update_global", "Change the global policy", update_global, m.GlobalPolicy,
          m.PolicyUpdate),
        O("POST", "/panic", "panic", "Suspend every matching key at once", panic, m.PanicRecord, m.PanicRequest),
        O("POST", "/panic/lift", "lift_panic", "Resume exactly the keys the last panic suspended", lift_panic,
          m.PanicRecord, m.PanicLift),
        O("GET", "/providers", "list_providers", "List providers (never their secrets)", list_providers,
          m.ProviderList, roles=READ),
        O("POST", "/providers", "add_provider", "Register a provider credential", add_provider, m.ProviderView,
          m.ProviderAdd, status=201),
        O("PATCH", "/providers/{name}", "update_provider",
          "Change a provider's base URL (to a host the gateway's config approves) or its budgets and limits",
          update_provider, m.ProviderView, m.ProviderUpdate),
        O("DELETE", "/providers/{name}", "remove_provider", "Remove a provider", remove_provider, m.ProviderRemoved),
        O("POST", "/providers/{name}/rotate", "rotate_provider", "Point a provider at a new secret", rotate_provider,
          m.ProviderView, m.ProviderRotate),
        O("GET", "/secrets", "list_secrets", "List keystore secrets (names and last 4 characters)", list_secrets,
          m.SecretList, roles=READ),
        O("PUT", "/secrets/{name}", "set_secret", "Store a secret in the local keystore", set_secret,
          m.SecretStored, m.SecretSet),
        O("DELETE", "/secrets/{name}", "remove_secret", "Delete a secret from the local keystore", remove_secret,
          m.SecretRemoved),
        O("GET", "/admin-tokens", "list_admin_tokens", "List admin tokens (never the tokens)", list_admin_tokens,
          m.AdminTokenList, roles=READ),
        O("POST", "/admin-tokens", "create_admin_token", "Create an admin token (returned once)", create_admin_token,
          m.AdminTokenIssued, m.AdminTokenCreate, status=201),
        O("POST", "/admin-tokens/{name}/revoke", "revoke_admin_token", "Revoke an admin token", revoke_admin_token,
          m.AdminTokenRevoked),
        O("GET", "/usage", "usage", "Spend and tokens per key and model", usage, m.UsageReport, query=UsageQuery,
          roles=READ),
        O("GET", "/prices", "prices", "Prices in force, USD per million tokens", prices, m.PriceList,
          query=PriceQuery, roles=READ),
        O("GET", "/audit-log", "audit_log", "Administrative actions, newest first", audit_log, m.AuditLog,
          query=SinceQuery, roles=READ),
    ]
