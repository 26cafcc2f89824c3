"""Fixtures for standards tests: officials of the three regions' regulators, committed once per run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from openzone.core import identity
from openzone.db import transaction
from openzone.services.standards import workflow
from tests import builders, helpers


@pytest.fixture(scope="session")
def regulators(database):
    """Give each region a regulator with one official (joining the demo regulator if demo data is loaded).

    Returns region → (person, organisation) where the organisation has `id` and `name`.
    """
    made = {}
    with transaction() as session:
        existing = {r.region: r for r in workflow.regulators(session)}
    for region in ("11", "12", "13"):
        reg = existing.get(region)
        if reg is None:
            person, org = helpers.make_user("official", kind="government_agency")
            made[region] = (person, SimpleNamespace(id=org.id, name=org.name))
            continue
        with transaction() as session:
            person = builders.create_person(session)
            identity.add_membership(session, person_id=person.id, org_id=reg.org_id, role="official")
        made[region] = (person, SimpleNamespace(id=reg.org_id, name=reg.name))
    with transaction() as session:
        for region, (person, org) in made.items():
            workflow.register_regulator(session, org_id=org.id, region=region, name=org.name,
                                        contact_person_ids=[person.id])
    return made
