"""Load the e-license demo: issuing agencies, the hall's windows and accredited clerks, and licenses for demo holders."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from openzone.core import identity
from openzone.services.e_license import service
from openzone.services.e_license.models import License

HALL_CODE = "BJ-CY"
FIRM_NAME = "北京开放示范贸易有限公司（演示）"
ISSUERS = (
    # name, English name, license types
    ("北京市公安局（演示）", "Beijing Public Security Bureau (demo)",
     ["resident_id", "household_register", "residence_permit", "driving_licence", "vehicle_licence"]),
    ("北京市朝阳区民政局（演示）", "Chaoyang Civil Affairs Bureau (demo)", ["marriage_certificate", "divorce_certificate"]),
    ("北京市市场监督管理局（电子证照演示）", "Beijing Market Regulation, e-licenses (demo)",
     ["business_licence", "food_business_licence", "food_production_licence", "special_equipment_use"]),
    ("北京市规划和自然资源委员会（演示）", "Beijing Planning and Natural Resources (demo)", ["real_estate_certificate"]),
)
WINDOWS = (("A01", "综合受理窗口1", False), ("A02", "综合受理窗口2", False), ("WEB", "网上办事大厅", True))
PEOPLE = (
    # email, name, role at the hall (None for a citizen), window
    ("citizen@e-license.demo.openzone.cn", "陈市民", None, None),
    ("clerk2@e-license.demo.openzone.cn", "刘窗口", "clerk", "A02"),
    ("online@e-license.demo.openzone.cn", "网办专员", "clerk", "WEB"),
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_number(rng: random.Random) -> str:
    # GB 11643-1999 with the ISO 7064 MOD 11-2 check character; sequence 9xx keeps it synthetic.
    first17 = f"110105{rng.randint(1965, 2000):04d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}9{rng.randint(0, 99):02d}"
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _org(session: Session, name: str):
    return next((o for o in identity.organisations(session) if o.name == name), None)


def load(session: Session, *, password_hash: str, hall_id: uuid.UUID, firm_id: uuid.UUID, firm_uscc: str,
         clerk_id: uuid.UUID | None) -> list[tuple[str, str, str, str]]:
    """Create what does not exist yet and return the demo logins (email, name, organisation, role).

    The platform demo's hall, firm and clerk (accredited at window A01) come from openzone.demo.
    """
    rng = random.Random(20255)
    hall = identity.organisation(session, hall_id)
    issuer_orgs = {}
    for name, name_en, types in ISSUERS:
        org = _org(session, name) or identity.create_organisation(session, name=name, name_en=name_en,
                                                                  kind="government_agency", uscc=None)
        service.create_issuer(session, org_id=org.id, license_types=types)
        for t in types:
            issuer_orgs[t] = org.id
    windows = {code: service.create_window(session, hall_org_id=hall.id, hall_code=HALL_CODE, code=code, name=name,
                                           online=online) for code, name, online in WINDOWS}
    logins = []
    people = {}
    for email, name, role, window in PEOPLE:
        id_number = _id_number(rng)
        phone = f"138{rng.randint(0, 99999999):08d}"  # drawn every run so the sequence repeats
        # The seeded generator gives the same number every run, so the blind index finds the person again.
        found = identity.find_person_by_id_number(session, id_number)
        person_id = found.id if found else None
        if person_id is None:
            person_id = identity.create_person(session, name=name, email=email, password_hash=password_hash,
                                               phone=phone, id_number=id_number).id
            if role:
                identity.add_membership(session, person_id=person_id, org_id=hall.id, role=role)
        people[email] = (person_id, name, id_number)
        if window:
            service.accredit_clerk(session, person_id=person_id, window_id=windows[window].id, by_person=None)
        logins.append((email, name, hall.name if role else "—", role or "citizen"))
    if clerk_id is not None:
        service.accredit_clerk(session, person_id=clerk_id, window_id=windows["A01"].id, by_person=None)
    citizen_id, citizen_name, id_number = people["citizen@e-license.demo.openzone.cn"]
    if session.scalar(select(License.id).where(License.holder_id == citizen_id)) is None:
        _licenses(session, issuer_orgs, citizen_id, citizen_name, id_number, firm_id, hall.name, firm_uscc)
    return logins


def _licenses(session: Session, issuers: dict, citizen_id, name: str, id_number: str, firm_id, _hall: str,
              uscc: str) -> None:
    def issue(type_code: str, holder_kind: str, holder_id, fields: dict, start: dt.date, until: dt.date | None):
        service.issue(session, issuer_org_id=issuers[type_code], item=service.LicenseInput(
            type_code, holder_kind, holder_id, fields, start, until))

    birth = f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}"
    issue("resident_id", "person", citizen_id,
          {"name": name, "sex": "男", "ethnicity": "汉", "birth_date": birth, "address": "北京市朝阳区建国路示例小区1号楼",
           "id_number": id_number}, dt.date(2019, 4, 1), dt.date(2039, 3, 31))
    issue("household_register", "person", citizen_id,
          {"householder": name, "name": name, "relation": "户主", "id_number": id_number, "household_type": "家庭户",
           "address": "北京市朝阳区建国路示例小区1号楼"}, dt.date(2012, 6, 1), None)
    issue("marriage_certificate", "person", citizen_id,
          {"number": "J110105-2016-009001", "name": name, "id_number": id_number, "spouse_name": "林示例",
           "registered_on": "2016-05-20"}, dt.date(2016, 5, 20), None)
    issue("driving_licence", "person", citizen_id,
          {"name": name, "sex": "男", "nationality": "中国", "birth_date": birth, "first_issued_on": "2010-08-01",
           "vehicle_class": "C1", "number": id_number}, dt.date(2022, 8, 1), dt.date(2032, 8, 1))
    issue("real_estate_certificate", "person", citizen_id,
          {"number": "京(2020)朝阳区不动产权第9000001号", "owner": name, "co_ownership": "单独所有",
           "location": "朝阳区建国路示例小区1号楼1单元101", "unit_number": "110105009001GB00001F00010001",
           "right_type": "国有建设用地使用权/房屋所有权", "use": "城镇住宅用地/住宅", "area": "89.5"},
          dt.date(2020, 9, 1), None)
    issue("business_licence", "organisation", firm_id,
          {"uscc": uscc, "org_name": FIRM_NAME, "entity_type": "有限责任公司（自然人投资或控股）",
           "legal_representative": "赵企业", "registered_capital": "500万元", "established_on": "2018-03-15",
           "address": "北京市朝阳区示例商务区8号", "business_scope": "货物进出口；技术进出口；食品销售"},
          dt.date(2018, 3, 15), None)
    issue("food_business_licence", "organisation", firm_id,
          {"number": "JY11105009000001", "org_name": FIRM_NAME, "uscc": uscc,
           "legal_representative": "赵企业", "address": "北京市朝阳区示例商务区8号", "main_business": "预包装食品销售"},
          dt.date(2023, 1, 10), dt.date(2028, 1, 9))
