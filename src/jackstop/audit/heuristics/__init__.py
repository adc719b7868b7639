"""Credential-stealer heuristics: static shapes of the payloads that steal AI and cloud keys."""
