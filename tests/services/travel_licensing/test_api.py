"""Travel-licensing API: apply in one request, automatic approval, denials between firms and roles."""

from __future__ import annotations

import base64
import uuid

from openzone.db import transaction
from openzone.kit.time import today_cst
from openzone.services.travel_licensing import service
from tests import builders, helpers

JSON = {"accept": "application/json"}


def body(org, **changes):
    """Return a complete application for an organisation."""
    data = {"name": org.name, "uscc": org.uscc, "legal_rep_name": "张测试", "legal_rep_id": builders.random_id_number(),
            "premises_address": "北京市朝阳区示例路1号", "tenure": "leased", "lease_months": 24, "phone_lines": 2,
            "has_fax": True, "has_copier": True, "has_computer": True, "capital_yuan": 300000, "staff_count": 10,
            "guide_count": 3, "managers": [{"name": "李经理", "role": "总经理", "years": 6}], "branches": 0,
            "route": "commitment", "read_notice": True, "commit": True}
    return data | changes


def signed_in_firm(client):
    """Sign a new firm administrator in and return (person, org, csrf headers)."""
    person, org = helpers.make_user("org_admin")
    helpers.login(client, person.email)
    return person, org, {**JSON, "x-csrf-token": helpers.csrf(client, "/travel-licensing/apply")}


def test_a_firm_applies_by_commitment_and_is_approved_at_once(client):
    _, org, headers = signed_in_firm(client)
    response = client.post("/api/v1/travel-licensing/applications", json=body(org), headers=headers)
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["status"] == "approved" and out["automatic"] and out["licence_number"].startswith("L-BJ-")
    check = client.get(f"/api/v1/travel-licensing/licences/{out['licence_number']}", headers=JSON)
    assert check.json()["status"] == "valid" and check.json()["uscc"] == org.uscc
    with transaction() as session:
        licence = service.licence_by_number(session, out["licence_number"])
        [deposit] = service.obligations_of(session, licence.id)
        deposit_id = deposit.id
    paid = client.post(f"/api/v1/travel-licensing/obligations/{deposit_id}/deposit", headers=headers, json={
        "method": "guarantee", "bank": "示范银行", "amount_yuan": 200000, "paid_on": str(licence.issued_on),
        "evidence_name": "担保函.pdf", "evidence_base64": base64.b64encode(b"%PDF-1.4 test").decode()})
    assert paid.status_code == 200 and paid.json()["on_time"] is True


def test_an_ineligible_applicant_cannot_take_the_commitment_route(client):
    _, org, headers = signed_in_firm(client)
    response = client.post("/api/v1/travel-licensing/applications", json=body(org, guide_count=2), headers=headers)
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/travel-licensing-commitment-closed"
    ordinary = client.post("/api/v1/travel-licensing/applications", json=body(org, guide_count=2, route="ordinary"),
                           headers=headers)
    assert ordinary.status_code == 201 and ordinary.json()["status"] == "queued"


def test_a_firm_cannot_see_another_firms_case(client):
    _, org, headers = signed_in_firm(client)
    made = client.post("/api/v1/travel-licensing/applications", json=body(org), headers=headers).json()
    client.cookies.clear()
    signed_in_firm(client)
    assert client.get(f"/api/v1/travel-licensing/applications/{made['id']}", headers=JSON).status_code == 404


def test_only_assigned_inspectors_record_inspections(client):
    _, org, headers = signed_in_firm(client)
    made = client.post("/api/v1/travel-licensing/applications", json=body(org), headers=headers).json()
    with transaction() as session:
        licence = service.licence_by_number(session, made["licence_number"])
        [inspection] = service.inspections_of(session, licence.id)
        inspection_id = inspection.id
    # A firm's person is refused by role; a supervisor who is not assigned is refused too.
    assert client.post(f"/api/v1/travel-licensing/inspections/{inspection_id}/result", json={"result": "pass"},
                       headers=headers).status_code == 403
    client.cookies.clear()
    outsider, _ = helpers.make_user("supervisor", kind="government_agency")
    helpers.login(client, outsider.email)
    token = helpers.csrf(client, "/travel-licensing/inspector")
    refused = client.post(f"/api/v1/travel-licensing/inspections/{inspection_id}/result", json={"result": "pass"},
                          headers={**JSON, "x-csrf-token": token})
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/travel-licensing-not-inspector"


def test_statistics_are_public(client):
    stats = client.get("/api/v1/travel-licensing/statistics", headers=JSON).json()
    assert set(stats) >= {"by_route", "deposits", "breaches", "repairs", "decision_seconds"}


def _licensed_firm(client):
    """Sign a firm in, have it licensed by commitment, and return (application id, headers)."""
    _, org, headers = signed_in_firm(client)
    made = client.post("/api/v1/travel-licensing/applications", json=body(org), headers=headers).json()
    assert made["status"] == "approved"
    return made["id"], headers


def test_a_firm_registers_a_branch_and_records_its_deposit(client):
    app_id, headers = _licensed_firm(client)
    added = client.post(f"/api/v1/travel-licensing/applications/{app_id}/branches", headers=headers)
    assert added.status_code == 201, added.text
    out = added.json()
    assert out["kind"] == "branch_deposit" and out["amount_fen"] == 5_000_000 and out["status"] == "open"
    paid = client.post(f"/api/v1/travel-licensing/obligations/{out['id']}/deposit", headers=headers, json={
        "method": "deposit", "bank": "示范银行", "amount_yuan": 50000, "paid_on": today_cst().isoformat(), "evidence_name": "回单.pdf", "evidence_base64": base64.b64encode(b"%PDF-1.4 branch").decode()})
    assert paid.status_code == 200 and paid.json()["status"] == "met"


def test_another_firm_cannot_register_a_branch_on_a_case(client):
    app_id, _ = _licensed_firm(client)
    client.cookies.clear()
    _, _, other = signed_in_firm(client)
    assert client.post(f"/api/v1/travel-licensing/applications/{app_id}/branches", headers=other).status_code == 404
    with transaction() as session:
        licence = service.licence_of(session, uuid.UUID(app_id))
        assert [o.kind for o in service.obligations_of(session, licence.id)] == ["deposit"]


def test_only_a_clerk_orders_a_top_up(client):
    app_id, firm_headers = _licensed_firm(client)
    # The firm itself is not a clerk.
    assert client.post(f"/api/v1/travel-licensing/applications/{app_id}/top-ups", json={"amount_yuan": 30000},
                       headers=firm_headers).status_code == 403
    client.cookies.clear()
    clerk, _ = helpers.make_user("official", kind="government_agency")
    helpers.login(client, clerk.email)
    headers = {**JSON, "x-csrf-token": helpers.csrf(client, "/travel-licensing/clerk")}
    bad = client.post(f"/api/v1/travel-licensing/applications/{app_id}/top-ups", json={"amount_yuan": 0}, headers=headers)
    assert bad.status_code == 422
    ordered = client.post(f"/api/v1/travel-licensing/applications/{app_id}/top-ups", json={"amount_yuan": 30000},
                          headers=headers)
    assert ordered.status_code == 201, ordered.text
    out = ordered.json()
    assert out["kind"] == "top_up" and out["amount_fen"] == 3_000_000
