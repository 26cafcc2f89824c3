"""The licence issued as an e-license over the e-license service's public issuer API (a real HTTP round trip)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from openzone.core import identity
from openzone.core.identity.models import Person
from openzone.core.jobs.models import Job
from openzone.kit.time import CST
from openzone.services.e_license import service as e_license
from openzone.services.e_license.models import License
from openzone.services.travel_licensing import service
from openzone.services.travel_licensing.models import Application, Licence
from openzone.services.travel_licensing.settings import TravelSettings
from tests import builders, helpers
from tests.services.travel_licensing.builders import create_application


def _approved(session):
    # No officers on duty: committed officers would change who later tests' verifications go to.
    app = create_application(session)
    service.choose_route(session, application=app, route="commitment")
    service.sign(session, application=app, read_notice=True, commit=True)
    service.submit(session, application=app, now=dt.datetime(2026, 6, 2, 10, 0, tzinfo=CST))
    assert app.status == "approved"
    return service.licence_of(session, app.id).id


def _issuer(license_types):
    """Commit a tourism authority registered as an issuer, and a write token of its administrator."""
    def build(session):
        agency = builders.create_org(session, kind="government_agency", uscc=None)
        admin = builders.create_person(session, org=agency, role="org_admin")
        if license_types:
            e_license.create_issuer(session, org_id=agency.id, license_types=license_types)
        return identity.create_token(session, person=session.get(Person, admin.id), org_id=agency.id, name="旅游局",
                                     scopes=["write"])[1]
    return helpers.committed(build)


def _request(licence_id):
    def read(session):
        licence = session.get(Licence, licence_id)
        return licence.number, service.e_license_request(licence, session.get(Application, licence.application_id))
    return helpers.committed(read)


def test_the_approved_licence_is_issued_once_as_an_e_license_held_by_the_firm(client):
    token = _issuer([service.E_LICENSE_TYPE])
    licence_id = helpers.committed(_approved)
    number, body = _request(licence_id)
    # The client speaks HTTP to the whole application (create_app) exactly as another deployment would.
    issued = service.post_e_license(client, token=token, number=number, body=body)
    again = service.post_e_license(client, token=token, number=number, body=body)
    assert again["id"] == issued["id"]
    helpers.committed(lambda s: service.store_e_license(s, licence_id=licence_id, issued=issued))

    def check(session):
        licence = session.get(Licence, licence_id)
        app = session.get(Application, licence.application_id)
        assert licence.e_license_id == uuid.UUID(issued["id"])
        [lic] = session.scalars(select(License).where(License.number == number))
        assert (lic.holder_kind, lic.holder_id, lic.type_code) == ("organisation", licence.org_id, "travel_agency_licence")
        assert lic.fields == {"number": number, "org_name": app.answers["name"], "uscc": app.answers["uscc"],
                              "legal_representative": "张测试", "address": "北京市朝阳区示例路1号",
                              "scope": "国内旅游业务、入境旅游业务"}
        assert lic.valid_from_on == dt.date(2026, 6, 2) and lic.valid_until_on is None
    helpers.committed(check)
    firm_admin_email, application_id = helpers.committed(
        lambda s: (s.get(Person, s.get(Application, s.get(Licence, licence_id).application_id).applicant_person_id).email,
                   s.get(Licence, licence_id).application_id))
    helpers.login(client, firm_admin_email)
    page = client.get(f"/travel-licensing/applications/{application_id}")
    assert f'href="/e-license/my/{issued["id"]}" id="licence-e-license"' in page.text
    holder_view = client.get(f"/e-license/my/{issued['id']}")
    assert holder_view.status_code == 200 and number in holder_view.text


def test_a_refused_call_raises_for_a_retry_and_leaves_the_licence_standing(client):
    token = _issuer([])  # an agency that is not an e-license issuer: the API answers 403
    licence_id = helpers.committed(_approved)
    number, body = _request(licence_id)
    with pytest.raises(service.ELicenseCallFailed, match="403"):
        service.post_e_license(client, token=token, number=number, body=body)

    def check(session):
        licence = session.get(Licence, licence_id)
        assert licence.status == "valid" and licence.e_license_id is None
        assert session.scalar(select(func.count()).select_from(License).where(License.number == number)) == 0
    helpers.committed(check)


def test_with_settings_unset_approval_queues_no_call(session):
    licence = service.get_licence(session, _approved(session))
    queued = select(func.count()).select_from(Job).where(Job.kind == service.E_LICENSE_JOB,
                                                         Job.payload["licence_id"].as_string() == str(licence.id))
    assert session.scalar(queued) == 0 and licence.e_license_id is None
    assert service.e_license_url(licence) is None
    assert not service.queue_e_license(session, licence, TravelSettings(e_license_url="", e_license_token=None))
    assert session.scalar(queued) == 0


def test_with_settings_set_the_call_is_queued_once_in_the_approval_transaction(session):
    licence = service.get_licence(session, _approved(session))
    settings = TravelSettings(e_license_url="https://e-license.example", e_license_token="secret")
    assert service.queue_e_license(session, licence, settings)
    [job] = session.scalars(select(Job).where(Job.dedupe_key == f"travel-licensing-el-{licence.id}"))
    assert (job.kind, job.payload, job.status, job.max_attempts) == (
        service.E_LICENSE_JOB, {"licence_id": str(licence.id)}, "pending", settings.e_license_max_attempts)
