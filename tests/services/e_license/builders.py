"""Builders for e-license tests: an issuer, a hall with windows and an accredited clerk, a holder with licenses."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from openzone.core import consent
from openzone.services.e_license import service
from tests import builders


@dataclass
class World:
    """Hold the organisations, people and licenses one test works with."""

    issuer_org: object
    civil_org: object
    hall: object
    window: object
    other_window: object
    clerk: object
    other_clerk: object
    holder: object
    firm: object
    id_card: object
    marriage: object
    business: object

    @property
    def holder_ref(self) -> consent.Holder:
        """Return the holder as consent names it."""
        return consent.Holder.person(self.holder.id)


def id_card_fields(person, number: str | None = None) -> dict:
    """Return valid resident-ID fields for a person."""
    return {"name": person.name, "sex": "女", "ethnicity": "汉", "birth_date": "1990-03-07",
            "address": "北京市朝阳区示例路1号", "id_number": number or builders.random_id_number()}


def build_world(session: Session) -> World:
    """Create two issuers, a hall with two windows and clerks, a person and a firm holding licenses."""
    issuer_org = builders.create_org(session, kind="government_agency", name=f"公安局{builders.unique()}", uscc=None)
    civil_org = builders.create_org(session, kind="government_agency", name=f"民政局{builders.unique()}", uscc=None)
    service.create_issuer(session, org_id=issuer_org.id, license_types=["resident_id", "business_licence"])
    service.create_issuer(session, org_id=civil_org.id, license_types=["marriage_certificate"])
    hall = builders.create_org(session, kind="service_hall", name=f"政务服务中心{builders.unique()}", uscc=None)
    code = builders.unique("H")
    window = service.create_window(session, hall_org_id=hall.id, hall_code=code, code="W01", name="综合窗口1")
    other_window = service.create_window(session, hall_org_id=hall.id, hall_code=code, code="W02", name="综合窗口2")
    clerk = builders.create_person(session, org=hall, role="clerk", name="窗口甲")
    other_clerk = builders.create_person(session, org=hall, role="clerk", name="窗口乙")
    service.accredit_clerk(session, person_id=clerk.id, window_id=window.id, by_person=None)
    service.accredit_clerk(session, person_id=other_clerk.id, window_id=other_window.id, by_person=None)
    holder = builders.create_person(session, name="李四")
    firm = builders.create_org(session)
    id_card = service.issue(session, issuer_org_id=issuer_org.id, item=service.LicenseInput(
        "resident_id", "person", holder.id, id_card_fields(holder), dt.date(2020, 5, 1), dt.date(2040, 4, 30)))
    marriage = service.issue(session, issuer_org_id=civil_org.id, item=service.LicenseInput(
        "marriage_certificate", "person", holder.id,
        {"number": f"J{uuid.uuid4().hex[:10]}", "name": holder.name, "id_number": id_card.fields["id_number"],
         "spouse_name": "王五", "registered_on": "2018-10-01"}, dt.date(2018, 10, 1), None))
    business = service.issue(session, issuer_org_id=issuer_org.id, item=service.LicenseInput(
        "business_licence", "organisation", firm.id,
        {"uscc": firm.uscc, "org_name": firm.name, "entity_type": "有限责任公司", "legal_representative": "赵六",
         "established_on": "2015-06-01", "address": "北京市海淀区示例街2号", "business_scope": "软件开发"},
        dt.date(2015, 6, 1), None))
    return World(issuer_org, civil_org, hall, window, other_window, clerk, other_clerk, holder, firm, id_card,
                 marriage, business)


def authorise(session: Session, world: World, matter: str = "M007", *, fields=None, days_life: int = 30):
    """Have the holder authorise the hall for a matter with the ID card and marriage certificate."""
    choices = [service.Choice(world.id_card.id, tuple(fields or ("name", "id_number"))),
               service.Choice(world.marriage.id, ("number", "name", "spouse_name", "registered_on"))]
    return service.authorise(session, holder=world.holder_ref, by_person=world.holder.id, matter_code=matter,
                             hall_org_id=world.hall.id, choices=choices, data_life_days=days_life)
