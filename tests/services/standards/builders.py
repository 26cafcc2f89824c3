"""Builders for standards tests: create_standard(session, **overrides) with unique numbers."""

from __future__ import annotations

import itertools
import random
from types import SimpleNamespace

from sqlalchemy.orm import Session

from openzone.core import identity
from openzone.db import transaction
from openzone.services import standards
from openzone.services.standards import workflow
from openzone.services.standards.domain import StandardInput, parse_number
from tests import builders, helpers

_seq = itertools.count(random.Random().randint(1000, 900_000) * 10)


def unique_number(issuer: str = "DB11", year: int = 2021) -> str:
    """Return a number no other test uses (a city-style long sequence keeps clear of real ones)."""
    return f"{issuer}/T {next(_seq)}—{year}"


def create_standard(session: Session, *, numbers: tuple[str, ...] | None = None, **overrides) -> standards.Upserted:
    """Create (or update) a standard through the service, with sensible defaults."""
    values = {"title_zh": "示例标准", "scope": "本标准规定了示例内容。", "effective_on": None}
    values.update(overrides)
    for key in ("keywords", "drafters"):
        if key in values:
            values[key] = tuple(values[key])
    if "replaces" in values:
        values["replaces"] = tuple(parse_number(n) for n in values["replaces"])
    record = StandardInput(numbers=tuple(parse_number(n) for n in (numbers or (unique_number(),))), **values)
    return standards.upsert_standard(session, record=record)


def ensure_regulators() -> dict[str, tuple]:
    """Give each region's regulator a new official (registering test regulators where none exists), committed.

    Returns region → (person, organisation) where the organisation has `id` and `name`.
    """
    made = {}
    with transaction() as session:
        existing = {r.region: (r.org_id, r.name) for r in workflow.regulators(session)}
    for region in ("11", "12", "13"):
        if region not in existing:
            person, org = helpers.make_user("official", kind="government_agency")
            made[region] = (person, SimpleNamespace(id=org.id, name=org.name))
            continue
        org_id, name = existing[region]
        with transaction() as session:
            person = builders.create_person(session)
            identity.add_membership(session, person_id=person.id, org_id=org_id, role="official")
        made[region] = (person, SimpleNamespace(id=org_id, name=name))
    with transaction() as session:
        for region, (person, org) in made.items():
            workflow.register_regulator(session, org_id=org.id, region=region, name=org.name,
                                        contact_person_ids=[person.id])
    return made


def free_sequence(session: Session, year: int = 2026) -> int:
    """Return a joint sequence number in 3100–3999 that no region uses yet for the year."""
    while True:
        seq = random.randint(3100, 3999)
        if all(standards.find_by_number(session, f"DB{r}/T {seq}-{year}") is None for r in (11, 12, 13)):
            return seq
