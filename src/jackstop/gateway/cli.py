"""Gateway and administration subcommands (placeholder until the foundation lands)."""

from __future__ import annotations


def register(sub) -> None:  # noqa: ANN001 - argparse's private type
    pass
