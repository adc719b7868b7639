"""Leak scanner: finds AI-provider keys in trees, git history, notebooks and archives."""
