"""Builders that create test data with sensible defaults: create_<thing>(session, **overrides)."""

from __future__ import annotations

import random
import uuid
from functools import lru_cache

from sqlalchemy.orm import Session

from openzone.core.identity import service as identity
from openzone.core.identity.models import Organisation, Person
from openzone.demo import synthetic_id_number, synthetic_uscc

PASSWORD = "Test-password-2026"
_rng = random.Random()


@lru_cache
def password_hash() -> str:
    """Hash the shared test password once; Argon2id is slow on purpose."""
    return identity.hash_password(PASSWORD)


def unique(prefix: str = "t") -> str:
    """Return a short unique string for names and e-mails."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def create_org(session: Session, **overrides) -> Organisation:
    """Create an organisation (an enterprise with a valid credit code by default)."""
    values = {"name": f"测试机构{unique()}", "kind": "enterprise", "uscc": synthetic_uscc(_rng)}
    values.update(overrides)
    return identity.create_organisation(session, **values)


def create_person(session: Session, *, org: Organisation | None = None, role: str | None = None,
                  **overrides) -> Person:
    """Create a person with the test password, optionally holding a role in an organisation."""
    values = {"name": "测试人员", "email": f"{unique()}@example.cn", "password_hash": password_hash()}
    values.update(overrides)
    person = identity.create_person(session, **values)
    if org is not None:
        identity.add_membership(session, person_id=person.id, org_id=org.id, role=role or "staff")
    return person


def random_id_number() -> str:
    """Return a synthetic resident ID number with a valid check digit."""
    return synthetic_id_number(_rng)
