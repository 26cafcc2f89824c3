"""Builders for travel-licensing tests: a firm with a complete application, officers on duty."""

from __future__ import annotations

from openzone.services.travel_licensing import service
from tests import builders

ANSWERS = {
    "enterprise": lambda org: {"name": org.name, "uscc": org.uscc},
    "legal_rep": lambda org: {"legal_rep_name": "张测试", "legal_rep_id": builders.random_id_number()},
    "premises": lambda org: {"premises_address": "北京市朝阳区示例路1号", "tenure": "leased", "lease_months": "24"},
    "facilities": lambda org: {"phone_lines": "2", "has_fax": "yes", "has_copier": "yes", "has_computer": "yes"},
    "capital": lambda org: {"capital_yuan": "300000"},
    "staff": lambda org: {"staff_count": "10", "guide_count": "3"},
    "managers": lambda org: {"managers": "李经理,总经理,6\n王计调,计调,3"},
    "branches": lambda org: {"branches": "0"},
}


def create_firm(session):
    """Create an enterprise and its administrator."""
    org = builders.create_org(session, kind="enterprise")
    person = builders.create_person(session, org=org, role="org_admin")
    return org, person


def create_application(session, org=None, person=None, **overrides):
    """Create a draft with every page answered; overrides replace a page's form, e.g. capital={...}."""
    if org is None:
        org, person = create_firm(session)
    app = service.start_application(session, org_id=org.id, person_id=person.id)
    for step in service.STEPS:
        form = overrides.get(step) or ANSWERS[step](org)
        service.save_step(session, application=app, step=step, form=form)
    return app


def create_officers(session, *, inspectors=2):
    """Put a clerk and some inspectors on duty in a new agency; return (agency, clerk, [inspectors])."""
    agency = builders.create_org(session, kind="government_agency", uscc=None)
    clerk = builders.create_person(session, org=agency, role="official")
    service.register_officer(session, person_id=clerk.id, org_id=agency.id, duty="clerk")
    people = []
    for _ in range(inspectors):
        p = builders.create_person(session, org=agency, role="supervisor")
        service.register_officer(session, person_id=p.id, org_id=agency.id, duty="inspector")
        people.append(p)
    return agency, clerk, people
