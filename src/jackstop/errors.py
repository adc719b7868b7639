"""Errors every layer may raise for the front ends to show."""

from __future__ import annotations


class UsageError(Exception):
    """A mistake of the caller's: printed as one line, exit code 2."""
