"""Edges a review found: hostile values, races, a second holder on one application, hidden status, long histories."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from fastapi.testclient import TestClient

from openzone.core import consent
from openzone.services.e_license import service
from tests import builders, helpers
from tests.services.e_license.builders import authorise, build_world, id_card_fields
from tests.services.e_license.test_api import API, _bearer, _new_id_card, _presented, _signed_in


@pytest.fixture
def lenient(app):
    """A client that turns server errors into responses, so a 500 shows as a status rather than an exception."""
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
        yield c


def _marriage(site, number: str) -> dict:
    body = _new_id_card(site)
    return {**body, "type": "marriage_certificate", "valid_from_on": "2018-10-01", "valid_until_on": None,
            "fields": {"number": number, "name": "李四", "id_number": body["fields"]["id_number"],
                       "spouse_name": "王五", "registered_on": "2018-10-01"}}


@pytest.mark.parametrize(("body", "field"), [
    # A term of years added to 9999 or a day's end in UTC before year 1 left what dates can hold: a 500 before.
    ({"valid_from_on": "9999-01-01", "valid_until_on": "9999-12-31"}, "valid_from_on"),
    ({"valid_from_on": "0001-01-01", "valid_until_on": None}, "valid_from_on"),
    ({"valid_from_on": "2021-01-01", "valid_until_on": "2300-12-31"}, "valid_until_on"),
])
def test_dates_outside_the_years_a_license_may_carry_are_refused(lenient, site, body, field):
    response = lenient.post(f"{API}/licenses", json=_new_id_card(site, **body), headers=_bearer(site.token))
    assert response.status_code == 422, response.text
    assert {"field": field, "code": "date_range"} in response.json()["errors"]
    batch = lenient.post(f"{API}/licenses/batch", json=[_new_id_card(site, **body)], headers=_bearer(site.token))
    assert batch.status_code == 422 and batch.headers["content-type"] == "application/problem+json"


def test_a_date_field_outside_the_range_is_refused(lenient, site):
    body = _new_id_card(site)
    body["fields"]["birth_date"] = "0001-01-01"
    response = lenient.post(f"{API}/licenses", json=body, headers=_bearer(site.token))
    assert response.status_code == 422
    assert {"field": "birth_date", "code": "date_range"} in response.json()["errors"]


@pytest.mark.parametrize(("number", "code"), [("N" * 101, "too_long"), ("N\u00001", "control"), ("N\t1", "control")])
def test_a_number_the_column_cannot_hold_is_refused(lenient, site, number, code):
    # PostgreSQL refused both (a 100-character column; no NUL in text) with a 500.
    response = lenient.post(f"{API}/licenses", json=_marriage(site, number), headers=_bearer(site.token))
    assert response.status_code == 422, response.text
    assert {"field": "number", "code": code} in response.json()["errors"]


def test_a_reason_with_a_nul_is_refused(lenient, site):
    response = lenient.post(f"{API}/licenses/{site.id_card_id}/suspend", json={"reason": "lost\u0000"},
                            headers=_bearer(site.token))
    assert response.status_code == 422 and response.json()["errors"] == [{"field": "reason", "code": "control"}]


def test_the_same_number_issued_at_once_gives_one_license_and_conflicts(app, site):
    body = _marriage(site, "RACE-" + uuid.uuid4().hex[:8])
    results: list[int] = []
    start = threading.Barrier(4)

    def call() -> None:
        with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
            start.wait()
            results.append(c.post(f"{API}/licenses", json=body, headers=_bearer(site.token)).status_code)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [201, 409, 409, 409]


def test_a_second_holders_code_cannot_take_over_an_application(session):
    world = build_world(session)
    grant = authorise(session, world)
    shown = consent.present_qr(session, grant.id, holders=[world.holder_ref])
    app = service.start_application(session, clerk_person_id=world.clerk.id, matter_code="M007")
    service.accept_presentation(session, clerk_person_id=world.clerk.id, application_id=app.id,
                                token=shown.qr_payload)
    service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id, license_id=world.id_card.id)
    other = builders.create_person(session, name="张三")
    card = service.issue(session, issuer_org_id=world.issuer_org.id, item=service.LicenseInput(
        "resident_id", "person", other.id, id_card_fields(other), dt.date(2020, 5, 1), dt.date(2040, 4, 30)))
    theirs = service.authorise(session, holder=consent.Holder.person(other.id), by_person=other.id,
                               matter_code="M007", hall_org_id=world.hall.id,
                               choices=[service.Choice(card.id, ("name", "id_number"))])
    code = consent.present_qr(session, theirs.id, holders=[consent.Holder.person(other.id)])
    with pytest.raises(service.OtherApplicant):
        service.accept_presentation(session, clerk_person_id=world.clerk.id, application_id=app.id,
                                    token=code.qr_payload)
    # The same holder may present again (a new grant for the same application).
    again = authorise(session, world)
    shown = consent.present_qr(session, again.id, holders=[world.holder_ref])
    assert service.accept_presentation(session, clerk_person_id=world.clerk.id, application_id=app.id,
                                       token=shown.qr_payload).grant_id == again.id


def test_a_revoked_grant_shows_the_clerk_nothing_more(app, lenient, site):
    holder, hcsrf, grant, clerk, h, application = _presented(app, site, "M007")
    assert len(clerk.get(f"{API}/applications/{application['id']}", headers=h).json()["allowed"]) == 2
    assert holder.post(f"{API}/me/grants/{grant['id']}/revoke", headers={"x-csrf-token": hcsrf}).status_code == 200
    assert lenient.post(f"{API}/licenses/{site.marriage_id}/suspend", json={"reason": "涉嫌伪造，公安立案调查"},
                        headers=_bearer(site.token)).status_code == 200
    assert clerk.get(f"{API}/applications/{application['id']}", headers=h).json()["allowed"] == []


def test_a_grant_names_each_license_once(app, site):
    holder, hcsrf = _signed_in(app, site.holder_email)
    body = {"matter": "M007", "hall_org_id": str(site.hall_id),
            "licenses": [{"license_id": str(site.id_card_id), "fields": ["name"]},
                         {"license_id": str(site.id_card_id), "fields": ["id_number"]}]}
    response = holder.post(f"{API}/me/grants", json=body, headers={"x-csrf-token": hcsrf})
    assert response.status_code == 422 and response.json()["errors"] == [{"field": "licenses", "code": "duplicate"}]


def test_the_authorise_page_grants_to_service_halls_only(app, site):
    holder, token = _signed_in(app, site.holder_email)
    _, firm = helpers.make_user("org_admin")
    data = {"csrf_token": token, "holder": f"person:{site.holder_id}", "matter": "M007", "place": str(firm.id),
            "items": [f"{site.id_card_id}.name"]}
    refused = holder.post("/e-license/authorise/confirm", data=data, headers={"accept": "text/html"},
                          follow_redirects=False)
    assert refused.status_code == 422 and "请选择政务服务大厅" in refused.text


def test_the_access_history_pages_through_every_access(session):
    world = build_world(session)
    grant = authorise(session, world)
    requester = consent.Requester(org_id=world.hall.id, hall=world.window.hall_code, window=world.window.code,
                                  clerk_id=world.clerk.id)
    refused = 0
    for _ in range(7):
        with pytest.raises(consent.Refused):
            consent.gate(session, requester=requester, holder=world.holder_ref, resource_kind=service.KIND,
                         resource_id=str(uuid.uuid4()), fields=("name",), purpose=service.purpose_of("M007"),
                         grant_id=grant.id)
        refused += 1
    session.flush()
    seen, cursor = [], None
    while True:
        lines, cursor = service.access_history(session, [world.holder_ref], cursor=cursor, limit=3)
        seen += [line.access.id for line in lines]
        if cursor is None:
            break
    assert len(seen) == refused == len(set(seen))
    assert seen == sorted(seen, reverse=True)  # newest first
