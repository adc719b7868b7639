"""Report renderers: table (default), JSON, SARIF, HTML. Each is `render(report) -> str`."""

from __future__ import annotations

from collections.abc import Callable

from jackstop.posture.model import Report


def renderer(name: str) -> Callable[[Report], str]:
    from jackstop.posture.render import html, json_out, sarif, table

    return {"table": table.render, "json": json_out.render, "sarif": sarif.render, "html": html.render}[name]
