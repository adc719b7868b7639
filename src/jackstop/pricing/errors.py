"""Errors raised by the pricing package; both are ValueErrors so callers can catch either."""

from __future__ import annotations


class PriceError(ValueError):
    """A price entry (packaged or from jackstop.toml) is invalid; the message names it and the fix."""


class UsageError(ValueError):
    """A provider's usage report cannot be turned into a Usage (missing, negative or inconsistent counts)."""
