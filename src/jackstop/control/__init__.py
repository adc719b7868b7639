"""The control plane: the one door to keys, projects, providers, secret refs, policies, client
tokens, panic and the audit log. The CLI, the admin API, the monitor and the scanner's `--revoke`
all change things through `Control`, so every door validates and audits the same way.

Names are loaded on first use: `jackstop --help` imports policy names without opening a store.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Control": "jackstop.control.plane",
    "ControlError": "jackstop.control.plane",
    "Issued": "jackstop.control.plane",
    "MintScope": "jackstop.control.plane",
    "GLOBAL_PROJECT": "jackstop.control.plane",
    "ROLES": "jackstop.control.plane",
    "check_name": "jackstop.control.plane",
    "revoke_leaked_key": "jackstop.control.plane",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jackstop.control' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
