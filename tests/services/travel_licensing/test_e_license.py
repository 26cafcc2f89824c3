"""The licence issued as an e-license over the e-license service's public issuer API (a real HTTP round trip)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import func, select

from openzone.core import identity, jobs, ledger
from openzone.core.identity.models import Person
from openzone.core.jobs.models import Job
from openzone.db import transaction
from openzone.kit.time import CST
from openzone.services.e_license import service as e_license
from openzone.services.e_license.models import License
from openzone.services.travel_licensing import service
from openzone.services.travel_licensing.models import Application, Licence
from openzone.services.travel_licensing.settings import TravelSettings, get_travel_settings
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


# --- the worker's round trips: a real Uvicorn server on the same database, jobs run by core/jobs ------------------


@pytest.fixture(scope="module")
def e_license_server(database):
    """Run the whole app (the e-license service included) with Uvicorn on the test database."""
    yield from helpers.serve("openzone.app:create_app")


@pytest.fixture
def wired(e_license_server, monkeypatch):
    """Point the travel-licensing settings at the live e-license service with a fresh issuer token."""
    token = _issuer([service.E_LICENSE_TYPE])
    monkeypatch.setenv("OPENZONE_TRAVEL_E_LICENSE_URL", e_license_server)
    monkeypatch.setenv("OPENZONE_TRAVEL_E_LICENSE_TOKEN", token)
    get_travel_settings.cache_clear()
    yield token
    get_travel_settings.cache_clear()


def _work_until_done(*dedupe_keys, rounds=20):
    for _ in range(rounds):
        with transaction() as session:
            states = [jobs.status(session, key) for key in dedupe_keys]
        if all(state in ("done", "failed") for state in states):
            return states
        jobs.run_once(transaction, "travel-e-license-test")
    raise AssertionError(f"jobs not finished: {states}")


def _events(licence_number, event_type):
    def read(session):
        rows = session.scalars(select(ledger.Entry).where(ledger.Entry.event_type == event_type))
        return [json.loads(row.body) for row in rows if licence_number.encode() in row.body]
    return helpers.committed(read)


def _revoke(licence_id):
    def run(session):
        service.revoke(session, licence=service.get_licence(session, licence_id), found_on=dt.date(2026, 7, 1),
                       actor_org_id=None, basis="旅行社条例第六十三条")
    helpers.committed(run)


def test_the_worker_issues_then_revokes_the_e_license_over_http_on_the_same_database(wired):
    licence_id = helpers.committed(_approved)
    issue_key, revoke_key = f"travel-licensing-el-{licence_id}", f"travel-licensing-el-revoke-{licence_id}"
    # The worker runs the job against a server writing to the same database: on SQLite both need the file's write
    # lock, which the job does not hold while it waits for the answer.
    assert _work_until_done(issue_key) == ["done"]
    e_license_id = helpers.committed(lambda s: s.get(Licence, licence_id).e_license_id)
    assert e_license_id is not None
    number = helpers.committed(lambda s: s.get(Licence, licence_id).number)
    assert len(_events(number, service.E_LICENSE_ISSUED)) == 1

    _revoke(licence_id)
    assert _work_until_done(revoke_key) == ["done"]

    def check(session):
        lic = session.get(License, e_license_id)
        assert lic.status == "revoked" and "旅行社条例第六十三条" in lic.status_reason and number in lic.status_reason
        proof_ok, bits = e_license.check_credential(session, lic)
        assert proof_ok and bits == {"revocation": True, "suspension": False}
    helpers.committed(check)
    [event] = _events(number, service.E_LICENSE_REVOKED)
    assert event["data"]["already"] is False and event["digests"]["vc"].startswith("sha256:")


def test_a_second_revocation_under_another_key_finds_the_e_license_revoked_and_counts_as_done(wired, client):
    licence_id = helpers.committed(_approved)
    _work_until_done(f"travel-licensing-el-{licence_id}")
    _revoke(licence_id)
    _work_until_done(f"travel-licensing-el-revoke-{licence_id}")
    e_license_id, number = helpers.committed(lambda s: (s.get(Licence, licence_id).e_license_id,
                                                        s.get(Licence, licence_id).number))
    # The same key and body replay the first answer; another key meets the final state (409), which is not an error.
    reason = f"许可已吊销（{number}），依据：旅行社条例第六十三条"
    again = service.post_e_license_revocation(client, token=wired, e_license_id=e_license_id, number=number,
                                              reason=reason)
    assert again["status"] == "revoked" and again["id"] == str(e_license_id)
    assert service.post_e_license_revocation(client, token=wired, e_license_id=e_license_id, number=number + "-x",
                                             reason="再次吊销") is None


def test_a_licence_revoked_before_its_e_license_went_out_is_never_issued_as_one(wired):
    licence_id = helpers.committed(_approved)
    number = helpers.committed(lambda s: s.get(Licence, licence_id).number)
    _revoke(licence_id)
    assert _work_until_done(f"travel-licensing-el-{licence_id}", f"travel-licensing-el-revoke-{licence_id}") == [
        "done", "done"]

    def check(session):
        assert session.get(Licence, licence_id).e_license_id is None
        assert session.scalar(select(func.count()).select_from(License).where(License.number == number)) == 0
    helpers.committed(check)
    assert _events(number, service.E_LICENSE_REVOKED) == []


def test_the_revocation_waits_while_the_issue_job_is_still_pending(wired, client):
    licence_id = helpers.committed(_approved)
    _revoke(licence_id)
    with pytest.raises(service.ELicenseCallFailed, match="still being issued"):
        service.revoke_e_license(transaction, licence_id=licence_id, reason="x", http=client, token=wired)


def test_with_settings_unset_a_revocation_queues_no_call(session):
    licence = service.get_licence(session, _approved(session))
    service.revoke(session, licence=licence, found_on=dt.date(2026, 7, 1), actor_org_id=None, basis="旅行社条例第六十三条")
    assert jobs.status(session, f"travel-licensing-el-revoke-{licence.id}") is None
