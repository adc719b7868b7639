"""`jackstop ledger export`: the live ledger as replay lines, so real history can be replayed
against new thresholds (`jackstop monitor replay`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from jackstop.durations import iso

_COLS = ("id, ts, key_name, project, source_ip, user_agent, model, endpoint, status, rule, stream, input_tokens, "
         "output_tokens, images, cost_nusd, latency_ms, provider_kind")


def line_of(r: tuple[Any, ...]) -> str:
    ts = float(r[1])
    out: dict[str, Any] = {
        "ts": iso(ts)[:-1] + f".{int(ts * 1000) % 1000:03d}Z", "key": r[2], "ip": r[4], "user_agent": r[5],
        "model": r[6], "endpoint": r[7], "status": int(r[8]), "input_tokens": int(r[11] or 0),
        "output_tokens": int(r[12] or 0), "cost_usd": int(r[14] or 0) / 1e9,
    }
    if r[3]:
        out["project"] = r[3]
    if r[9]:
        out["rule"] = r[9]
    if r[10]:
        out["stream"] = True
    if r[13]:
        out["images"] = int(r[13])
    if r[15] is not None:
        out["latency_ms"] = round(float(r[15]), 3)
    if r[16]:
        out["provider"] = r[16]
    return orjson.dumps(out).decode()


def export_lines(store: Any, *, since: float = 0.0, key: str | None = None, page: int = 20000) -> Iterator[str]:
    last = 0
    while True:
        sql = f"SELECT {_COLS} FROM ledger WHERE id > ? AND ts >= ?"
        params: list[Any] = [last, since]
        if key:
            sql += " AND key_name = ?"
            params.append(key)
        rows = store.query(sql + f" ORDER BY id LIMIT {int(page)}", params, ledger=True)
        if not rows:
            return
        for r in rows:
            yield line_of(r)
        last = int(rows[-1][0])
