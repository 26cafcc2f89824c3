"""Credit API: the public register, a subject's repair and objection, decisions by officials, denials."""

from __future__ import annotations

import datetime as dt

from openzone.core import credit
from openzone.kit.time import today_cst
from tests import helpers

JSON = {"accept": "application/json"}


def published_record(org_id, name, code, *, cls="general", days_ago=10):
    """Commit a record found some days ago against an organisation and return its id."""
    return helpers.committed(lambda s: credit.record_finding(
        s, subject_org_id=org_id, subject_name=name, subject_code=code, source="test", record_class=cls,
        legal_basis="旅行社条例第四十八条", legal_basis_en="Travel Agency Regulations art. 48", facts="未按期缴存质量保证金",
        finding_on=today_cst() - dt.timedelta(days=days_ago), actor_org_id=None).id)


def test_the_public_register_lists_published_records_without_sign_in(client):
    _, org = helpers.make_user("org_admin")
    rid = published_record(org.id, org.name, org.uscc)
    listed = client.get("/api/v1/credit", params={"q": org.uscc}, headers=JSON)
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()] == [str(rid)]
    assert listed.json()[0]["legal_basis"] == "旅行社条例第四十八条"
    assert client.get(f"/api/v1/credit/{rid}", headers=JSON).json()["publish_until"]
    minor = published_record(org.id, org.name, org.uscc, cls="minor")
    assert client.get(f"/api/v1/credit/{minor}", headers=JSON).status_code == 404


def test_a_firm_objects_to_its_record_and_an_official_confirms_it(client):
    person, org = helpers.make_user("org_admin")
    rid = published_record(org.id, org.name, org.uscc)
    helpers.login(client, person.email)
    token = helpers.csrf(client, "/credit/mine")
    early = client.post(f"/api/v1/credit/{rid}/repairs", json={"obligations_fulfilled": True, "commitment_signed": True},
                        headers={**JSON, "x-csrf-token": token})
    assert early.status_code == 409 and early.json()["type"] == "/problems/credit-repair-too-early"
    made = client.post(f"/api/v1/credit/{rid}/objections", json={"grounds": "已按期缴存"},
                       headers={**JSON, "x-csrf-token": token})
    assert made.status_code == 201, made.text
    assert client.get(f"/api/v1/credit/{rid}", headers=JSON).json()["disputed"] is True
    official, _ = helpers.make_user("official", kind="government_agency")
    client.cookies.clear()
    helpers.login(client, official.email)
    token = helpers.csrf(client, "/credit/review")
    decided = client.post(f"/api/v1/credit/objections/{made.json()['id']}/decision",
                          json={"outcome": "confirmed", "reason": "核实无误"}, headers={**JSON, "x-csrf-token": token})
    assert decided.status_code == 200 and decided.json()["outcome"] == "confirmed"
    assert client.get(f"/api/v1/credit/{rid}", headers=JSON).json()["disputed"] is False


def test_a_firm_cannot_act_on_another_firms_record(client):
    _, other = helpers.make_user("org_admin")
    rid = published_record(other.id, other.name, other.uscc)
    person, _ = helpers.make_user("org_admin")
    helpers.login(client, person.email)
    token = helpers.csrf(client, "/credit/mine")
    response = client.post(f"/api/v1/credit/{rid}/objections", json={"grounds": "x"},
                           headers={**JSON, "x-csrf-token": token})
    assert response.status_code == 404
