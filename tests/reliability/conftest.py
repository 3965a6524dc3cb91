"""Reliability tests reuse the end-to-end project fixture."""

from tests.engine.conftest import project  # noqa: F401 - a fixture, used by name
