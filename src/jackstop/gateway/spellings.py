"""Moved to jackstop.providers.spellings (each family normalises its own body); kept for imports."""

from jackstop.providers.spellings import AmbiguousParameter, normalise_gemini

__all__ = ["AmbiguousParameter", "normalise_gemini"]
