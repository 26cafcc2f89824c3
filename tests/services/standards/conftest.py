"""Fixtures for standards tests: the three regions' regulators, committed once per run."""

from __future__ import annotations

import pytest

from openzone.db import transaction
from openzone.services.standards import workflow
from tests import helpers


@pytest.fixture(scope="session")
def regulators(database):
    """Register a regulator for Beijing, Tianjin and Hebei, each with one official; return region → (person, org)."""
    made = {}
    for region in ("11", "12", "13"):
        person, org = helpers.make_user("official", kind="government_agency")
        made[region] = (person, org)
    with transaction() as session:
        for region, (person, org) in made.items():
            workflow.register_regulator(session, org_id=org.id, region=region, name=org.name,
                                        contact_person_ids=[person.id])
    return made
