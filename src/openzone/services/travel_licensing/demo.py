"""Load the travel-licensing demo: an authority with a clerk and two inspectors, four firms on both routes."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from openzone.core import identity
from openzone.kit.time import CST, today_cst
from openzone.services.travel_licensing import service
from openzone.services.travel_licensing.models import Licence
from openzone.services.travel_licensing.settings import get_travel_settings

AUTHORITY = ("北京市文化和旅游局旅行社审批处（演示）", "Beijing Culture and Tourism Bureau, travel-agency licensing (demo)")
STAFF = (("clerk@travel.demo.openzone.cn", "陈审批", "official", "clerk"),
         ("inspector1@travel.demo.openzone.cn", "刘检查", "supervisor", "inspector"),
         ("inspector2@travel.demo.openzone.cn", "杨检查", "supervisor", "inspector"))
# (firm, English name, administrator's e-mail and name, capital in yuan, route, story)
FIRMS = (("北京长城国际旅行社有限公司（演示）", "Great Wall International Travel (demo)", "firm1@travel.demo.openzone.cn", "吴经理",
          300_000, "commitment", "on_time"),
         ("北京胡同旅行社有限公司（演示）", "Hutong Travel (demo)", "firm2@travel.demo.openzone.cn", "郑经理",
          500_000, "commitment", "late"),
         ("北京燕京假日旅行社有限公司（演示）", "Yanjing Holiday Travel (demo)", "firm3@travel.demo.openzone.cn", "冯经理",
          200_000, "ordinary", "queued"),
         ("北京运河旅行社有限公司（演示）", "Grand Canal Travel (demo)", "firm4@travel.demo.openzone.cn", "何经理",
          400_000, "commitment", "breach"))


def load(session: Session, *, password_hash: str, uscc: Callable[[int], str],
         id_number: Callable[[int], str]) -> list[tuple[str, str, str, str]]:
    """Create the demo once (idempotent); return (email, name, org, role) of its logins."""
    logins = [(e, n, AUTHORITY[0], r) for e, n, r, _ in STAFF]
    logins += [(e, n, f, "org_admin") for f, _, e, n, _, _, _ in FIRMS]
    if any(org.name == AUTHORITY[0] for org in identity.organisations(session)):
        return logins
    authority = identity.create_organisation(session, name=AUTHORITY[0], name_en=AUTHORITY[1], kind="government_agency",
                                             region="110000")
    for email, name, role, duty in STAFF:
        person = identity.create_person(session, name=name, email=email, password_hash=password_hash)
        identity.add_membership(session, person_id=person.id, org_id=authority.id, role=role)
        service.register_officer(session, person_id=person.id, org_id=authority.id, duty=duty)
    today = today_cst()
    for n, (firm, firm_en, email, name, capital, route, story) in enumerate(FIRMS):
        code = uscc(n)
        org = identity.create_organisation(session, name=firm, name_en=firm_en, kind="enterprise", uscc=code)
        person = identity.create_person(session, name=name, email=email, password_hash=password_hash)
        identity.add_membership(session, person_id=person.id, org_id=org.id, role="org_admin")
        app = service.start_application(session, org_id=org.id, person_id=person.id)
        pages = {"enterprise": {"name": firm, "uscc": code},
                 "legal_rep": {"legal_rep_name": name, "legal_rep_id": id_number(n)},
                 "premises": {"premises_address": f"北京市东城区示例胡同{n + 1}号", "tenure": "leased", "lease_months": "36"},
                 "facilities": {"phone_lines": "2", "has_fax": "yes", "has_copier": "yes", "has_computer": "yes"},
                 "capital": {"capital_yuan": str(capital)}, "staff": {"staff_count": "12", "guide_count": "4"},
                 "managers": {"managers": f"{name},总经理,8\n示例计调,计调,3"}, "branches": {"branches": "0"}}
        for step in service.STEPS:
            service.save_step(session, application=app, step=step, form=pages[step])
        service.choose_route(session, application=app, route=route)
        if route == "commitment":
            service.sign(session, application=app, read_notice=True, commit=True)
        # Past submissions so that deadlines have run: ten working days' worth of calendar before today.
        submitted = dt.datetime.combine(today - dt.timedelta(days=14 + n), dt.time(10, 0), tzinfo=CST)
        service.submit(session, application=app, now=submitted)
        licence = service.licence_of(session, app.id)
        if story in {"on_time", "breach"}:
            [deposit] = service.obligations_of(session, licence.id)
            service.record_deposit(session, obligation=deposit, method="deposit", bank="示范商业银行北京分行（演示）",
                                   amount_fen=deposit.amount_fen, paid_on=deposit.due_on, evidence_name="存款回单（演示）.pdf",
                                   evidence=b"demo deposit slip")
        if story == "breach":
            [inspection] = service.inspections_of(session, licence.id)
            service.record_inspection(session, inspection=inspection, person_id=uuid.UUID(inspection.inspector_ids[0]),
                                      actor_org_id=authority.id, result="breach",
                                      breach_kind="no_insurance", record_class="general",
                                      notes="核查发现未投保旅行社责任险（演示）")
    # The late deposit of the second firm is flagged by the same sweep the worker runs.
    service.sweep(session, today=today)
    return logins


def queue_e_licenses(session: Session) -> int:
    """Queue the e-license issue of every valid demo licence that has none yet, when the feature is configured."""
    settings = get_travel_settings()
    if not settings.e_license_enabled:
        return 0
    licences = session.scalars(select(Licence).where(Licence.status == "valid", Licence.e_license_id.is_(None)))
    return sum(service.queue_e_license(session, licence, settings) for licence in licences)
