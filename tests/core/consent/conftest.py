"""Consent test helpers: a registered test resource kind, holders, requesters and grants."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from openzone.core import consent, ledger
from openzone.core.ledger import merkle
from openzone.kit.time import utcnow
from tests import builders

KIND = "test_licence"
FIELDS = {"name": ("姓名", "Name"), "number": ("证照编号", "Licence number"), "expiry": ("有效期至", "Valid until")}


def _preview(session, holder, resource_id, fields):
    values = {"name": "测试持证人", "number": f"LIC-{resource_id}", "expiry": "2030-12-31"}
    return [(FIELDS[f][0], values[f]) for f in fields]


@pytest.fixture(autouse=True)
def test_kind():
    """Register the test resource kind for every consent test, as a service would at import time."""
    consent.register_kind(KIND, label=("测试证照", "Test licence"), fields=FIELDS, preview=_preview)
    yield KIND


def terms(**overrides):
    """Return valid grant terms for the test kind: one use of name and number, for a window matter, for a day."""
    values = {"scope": [{"kind": KIND, "id": "*", "fields": ["name", "number"]}], "purpose": "service-window",
              "days": 1}
    values.update(overrides)
    return consent.check_terms(**values)


def hall_and_holder(session):
    """Create a service hall with a clerk, and a citizen; return (hall org, clerk, citizen)."""
    hall = builders.create_org(session, kind="service_hall")
    clerk = builders.create_person(session, org=hall, role="clerk")
    citizen = builders.create_person(session)
    return hall, clerk, citizen


def at_window(org, clerk=None, window="A05", hall="H1"):
    """Return a requester at a window of a hall."""
    return consent.Requester(org.id, hall=hall, window=window, clerk_id=clerk.id if clerk else None)


def give(session, citizen, org, *, hall=None, window=None, **overrides):
    """Give an active grant from a citizen to an organisation."""
    return consent.give_grant(session, holder=consent.Holder.person(citizen.id),
                              requester=consent.Binding(org.id, hall, window), terms=terms(**overrides),
                              by_person=citizen.id)


def past(days=2):
    """Return a moment some days ago."""
    return utcnow() - dt.timedelta(days=days)


def ledger_leaves(session) -> set[bytes]:
    """Return the leaf hashes of every ledger entry visible to the session."""
    return {merkle.leaf_hash(bytes(body)) for body in session.scalars(select(ledger.Entry.body))}


def accesses(session, grant_id=None, holder=None):
    """Return access records of a grant or a holder, oldest first."""
    stmt = select(consent.Access).order_by(consent.Access.at, consent.Access.id)
    if grant_id is not None:
        stmt = stmt.where(consent.Access.grant_id == grant_id)
    if holder is not None:
        stmt = stmt.where(consent.Access.holder_id == holder.id)
    return list(session.scalars(stmt))
