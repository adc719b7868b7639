"""A live gateway for the admin-API contract tests (the gateway tests' fixtures, reused)."""

from tests.gateway.conftest import mock, start_gateway  # noqa: F401
