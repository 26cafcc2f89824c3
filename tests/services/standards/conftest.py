"""Fixtures for standards tests: officials of the three regions' regulators, committed once per run."""

from __future__ import annotations

import pytest

from tests.services.standards.builders import ensure_regulators


@pytest.fixture(scope="session")
def regulators(database):
    """Give each region's regulator an official; return region → (person, organisation with id and name)."""
    return ensure_regulators()
