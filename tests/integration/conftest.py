"""Fixtures shared by the integration tests."""

from tests.integration.tiny_fs import tiny_fs  # noqa: F401  (a fixture: a real, tiny, full-able disk)
