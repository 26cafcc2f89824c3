"""Fixtures for e-license HTTP tests: a committed issuer with a token, a hall with an accredited clerk, a holder."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest

from openzone.core import identity
from openzone.core.identity.models import Person
from openzone.services.e_license import service
from tests import builders, helpers
from tests.services.e_license.builders import id_card_fields


@dataclass
class Site:
    """Hold committed ids for HTTP tests."""

    agency_id: uuid.UUID
    issuer_id: uuid.UUID
    token: str
    read_token: str
    official_email: str
    hall_id: uuid.UUID
    hall_code: str
    clerk_id: uuid.UUID
    clerk_email: str
    other_clerk_email: str
    holder_id: uuid.UUID
    holder_email: str
    id_card_id: uuid.UUID
    marriage_id: uuid.UUID


@pytest.fixture
def site(database) -> Site:
    """Commit an issuer with tokens, a hall with two accredited clerks at two windows, and a holder with licenses."""
    admin, agency = helpers.make_user("org_admin", kind="government_agency")
    official = helpers.committed(lambda s: builders.create_person(s, org=s.get(type(agency), agency.id),
                                                                  role="official"))
    clerk, hall = helpers.make_user("clerk", kind="service_hall")
    # A clerk enrolled for TOTP (make_user) who also works at this hall.
    other_clerk, _ = helpers.make_user("clerk", kind="service_hall")
    helpers.committed(lambda s: identity.add_membership(s, person_id=other_clerk.id, org_id=hall.id, role="clerk"))
    holder, _ = helpers.make_user(None)

    def build(session):
        issuer = service.create_issuer(session, org_id=agency.id,
                                       license_types=["resident_id", "marriage_certificate", "business_licence"])
        code = builders.unique("H")
        w1 = service.create_window(session, hall_org_id=hall.id, hall_code=code, code="W01", name="综合窗口1")
        w2 = service.create_window(session, hall_org_id=hall.id, hall_code=code, code="W02", name="综合窗口2")
        service.accredit_clerk(session, person_id=clerk.id, window_id=w1.id, by_person=None)
        service.accredit_clerk(session, person_id=other_clerk.id, window_id=w2.id, by_person=None)
        person = session.get(Person, holder.id)
        id_card = service.issue(session, issuer_org_id=agency.id, item=service.LicenseInput(
            "resident_id", "person", holder.id, id_card_fields(person), dt.date(2020, 5, 1), dt.date(2040, 4, 30)))
        marriage = service.issue(session, issuer_org_id=agency.id, item=service.LicenseInput(
            "marriage_certificate", "person", holder.id,
            {"number": f"J{uuid.uuid4().hex[:10]}", "name": person.name, "id_number": id_card.fields["id_number"],
             "spouse_name": "王五",
             "registered_on": "2018-10-01"}, dt.date(2018, 10, 1), None))
        admin_row = session.get(Person, admin.id)
        _, token = identity.create_token(session, person=admin_row, org_id=agency.id, name="发证系统",
                                         scopes=["write", "read"])
        _, read_token = identity.create_token(session, person=admin_row, org_id=agency.id, name="只读",
                                              scopes=["read"])
        return Site(agency.id, issuer.id, token, read_token, official.email, hall.id, code, clerk.id, clerk.email,
                    other_clerk.email, holder.id, holder.email, id_card.id, marriage.id)

    return helpers.committed(build)
