"""`jackstop ledger export`: the live ledger as replay lines, so real history can be replayed
against new thresholds (`jackstop monitor replay`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from jackstop.durations import iso
from jackstop.store import LedgerRow

def line_of(r: LedgerRow) -> str:
    ts = float(r.ts)
    out: dict[str, Any] = {
        "ts": iso(ts)[:-1] + f".{int(ts * 1000) % 1000:03d}Z", "key": r.key_name, "ip": r.source_ip,
        "user_agent": r.user_agent, "model": r.model, "endpoint": r.endpoint, "status": int(r.status),
        "input_tokens": int(r.input_tokens or 0), "output_tokens": int(r.output_tokens or 0),
        "cost_usd": int(r.cost_nusd or 0) / 1e9,
    }
    if r.project:
        out["project"] = r.project
    if r.rule:
        out["rule"] = r.rule
    if r.stream:
        out["stream"] = True
    if r.images:
        out["images"] = int(r.images)
    if r.latency_ms is not None:
        out["latency_ms"] = round(float(r.latency_ms), 3)
    if r.provider_kind:
        out["provider"] = r.provider_kind
    return orjson.dumps(out).decode()


def export_lines(store: Any, *, since: float = 0.0, key: str | None = None, page: int = 20000) -> Iterator[str]:
    last = 0
    while True:
        rows = store.ledger_repo.page(after_id=last, since=since, key_name=key or None, limit=page)
        if not rows:
            return
        for r in rows:
            yield line_of(r)
        last = int(rows[-1].id or 0)
