"""Travel-licensing pages as people use them: one question per page, check answers, sign; the clerk's queue."""

from __future__ import annotations

import uuid
from collections import Counter

from openzone.db import transaction
from openzone.kit.time import today_cst
from openzone.services.travel_licensing import service
from tests import builders, helpers
from tests.test_pages import PageFacts

HTML = {"accept": "text/html"}


def _well_formed(html, where):
    facts = PageFacts()
    facts.feed(html)
    duplicates = [i for i, n in Counter(facts.ids).items() if n > 1]
    assert duplicates == [], f"{where}: duplicate ids {duplicates}"
    assert all(f["csrf"] for f in facts.forms if f["method"] == "post"), where


ANSWERS = {
    "enterprise": lambda org: {"name": org.name, "uscc": org.uscc},
    "legal_rep": lambda org: {"legal_rep_name": "张测试", "legal_rep_id": builders.random_id_number()},
    "premises": lambda org: {"premises_address": "北京市朝阳区示例路1号", "tenure": "leased", "lease_months": "24"},
    "facilities": lambda org: {"phone_lines": "2", "has_fax": "yes", "has_copier": "yes", "has_computer": "yes"},
    "capital": lambda org: {"capital_yuan": "300000"},
    "staff": lambda org: {"staff_count": "10", "guide_count": "3"},
    "managers": lambda org: {"managers": "李经理,总经理,6"},
    "branches": lambda org: {"branches": "0"},
}


def _answer_all(client, org, token, **overrides):
    started = client.post("/travel-licensing/apply", data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    assert started.status_code == 303
    location = started.headers["location"]
    app_id = location.split("/")[3]
    for step in service.STEPS:
        assert location.endswith(f"/steps/{step}"), location
        page = client.get(location, headers=HTML)
        assert page.status_code == 200
        _well_formed(page.text, step)
        form = overrides.get(step) or ANSWERS[step](org)
        response = client.post(location, data={**form, "csrf_token": token}, headers=HTML, follow_redirects=False)
        assert response.status_code == 303, response.text[:500]
        location = response.headers["location"]
    assert location.endswith("/check")
    return app_id


def test_a_firm_applies_page_by_page_signs_and_gets_its_licence(client):
    person, org = helpers.make_user("org_admin")
    helpers.login(client, person.email)
    token = helpers.csrf(client, "/travel-licensing/apply")
    app_id = _answer_all(client, org, token)
    check = client.get(f"/travel-licensing/applications/{app_id}/check", headers=HTML)
    assert "checks-passed" in check.text and org.uscc in check.text
    _well_formed(check.text, "check")
    chosen = client.post(f"/travel-licensing/applications/{app_id}/route", data={"route": "commitment", "csrf_token": token},
                         headers=HTML, follow_redirects=False)
    assert chosen.headers["location"].endswith("/sign")
    sign = client.get(chosen.headers["location"], headers=HTML)
    assert "旅行社设立许可承诺书" in sign.text and org.name in sign.text
    unsigned = client.post(f"/travel-licensing/applications/{app_id}/sign", data={"read_notice": "yes", "csrf_token": token},
                           headers=HTML)
    assert unsigned.status_code == 422
    signed = client.post(f"/travel-licensing/applications/{app_id}/sign",
                         data={"read_notice": "yes", "commit": "yes", "csrf_token": token}, headers=HTML,
                         follow_redirects=False)
    assert signed.status_code == 303
    case = client.get(f"/travel-licensing/applications/{app_id}", headers=HTML)
    assert "licence-number" in case.text and "L-BJ-" in case.text
    _well_formed(case.text, "case")
    pdf = client.get(f"/travel-licensing/applications/{app_id}/licence.pdf", headers=HTML)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_a_step_with_a_bad_credit_code_keeps_the_input_and_names_the_field(client):
    person, org = helpers.make_user("org_admin")
    helpers.login(client, person.email)
    token = helpers.csrf(client, "/travel-licensing/apply")
    started = client.post("/travel-licensing/apply", data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    bad = client.post(started.headers["location"], data={"name": org.name, "uscc": "91110105MA0000000X",
                                                         "csrf_token": token}, headers=HTML)
    assert bad.status_code == 422 and 'href="#uscc"' in bad.text and "91110105MA0000000X" in bad.text


def test_an_ineligible_firm_is_refused_the_commitment_route_and_a_clerk_decides(client):
    person, org = helpers.make_user("org_admin")
    helpers.login(client, person.email)
    token = helpers.csrf(client, "/travel-licensing/apply")
    app_id = _answer_all(client, org, token, capital={"capital_yuan": "100000"})
    check = client.get(f"/travel-licensing/applications/{app_id}/check", headers=HTML)
    assert "failed-conditions" in check.text
    refused = client.post(f"/travel-licensing/applications/{app_id}/route",
                          data={"route": "commitment", "csrf_token": token}, headers=HTML)
    assert refused.status_code == 403
    client.post(f"/travel-licensing/applications/{app_id}/route", data={"route": "ordinary", "csrf_token": token},
                headers=HTML)
    clerk, _ = helpers.make_user("official", kind="government_agency")
    client.cookies.clear()
    helpers.login(client, clerk.email)
    queue = client.get("/travel-licensing/clerk", headers=HTML)
    assert app_id in queue.text and "工作日" in queue.text
    _well_formed(queue.text, "clerk")
    token = helpers.csrf(client, "/travel-licensing/clerk")
    case = client.get(f"/travel-licensing/clerk/{app_id}", headers=HTML)
    assert "failed-conditions" in case.text
    decided = client.post(f"/travel-licensing/clerk/{app_id}/decide",
                          data={"decision": "refuse", "reason": "注册资本不足", "csrf_token": token},
                          headers=HTML, follow_redirects=False)
    assert decided.status_code == 303
    with transaction() as session:
        assert service.get_application(session, uuid.UUID(app_id)).status == "refused"


def test_a_firm_cannot_open_another_firms_case(client):
    person, org = helpers.make_user("org_admin")
    helpers.login(client, person.email)
    token = helpers.csrf(client, "/travel-licensing/apply")
    app_id = _answer_all(client, org, token)
    client.cookies.clear()
    other, _ = helpers.make_user("org_admin")
    helpers.login(client, other.email)
    assert client.get(f"/travel-licensing/applications/{app_id}/check", headers=HTML).status_code == 404
    assert client.get(f"/travel-licensing/applications/{app_id}", headers=HTML).status_code == 404


def test_public_pages(client):
    for path in ("/travel-licensing", "/travel-licensing/statistics"):
        page = client.get(path, headers=HTML)
        assert page.status_code == 200
        _well_formed(page.text, path)


def test_starting_again_returns_to_the_application_in_progress(client):
    person, _ = helpers.make_user("org_admin")
    helpers.login(client, person.email)
    token = helpers.csrf(client, "/travel-licensing/apply")
    first = client.post("/travel-licensing/apply", data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    app_id = first.headers["location"].split("/")[3]
    again = client.post("/travel-licensing/apply", data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == f"/travel-licensing/applications/{app_id}"


def _licensed(client):
    """Sign a firm in and take it through the pages to a licence; return (person, app id, csrf token)."""
    person, org = helpers.make_user("org_admin")
    helpers.login(client, person.email)
    token = helpers.csrf(client, "/travel-licensing/apply")
    app_id = _answer_all(client, org, token)
    client.post(f"/travel-licensing/applications/{app_id}/route", data={"route": "commitment", "csrf_token": token},
                headers=HTML)
    signed = client.post(f"/travel-licensing/applications/{app_id}/sign",
                         data={"read_notice": "yes", "commit": "yes", "csrf_token": token}, headers=HTML,
                         follow_redirects=False)
    assert signed.status_code == 303
    return person, app_id, token


def _open_obligations(app_id, kind):
    with transaction() as session:
        licence = service.licence_of(session, uuid.UUID(app_id))
        return [o.id for o in service.obligations_of(session, licence.id) if o.kind == kind and o.status == "open"]


def test_a_firm_registers_a_branch_on_its_case_page_and_records_the_deposit(client):
    _, app_id, token = _licensed(client)
    case = client.get(f"/travel-licensing/applications/{app_id}", headers=HTML)
    assert 'id="add-branch"' in case.text
    added = client.post(f"/travel-licensing/applications/{app_id}/branches", data={"csrf_token": token}, headers=HTML,
                        follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == f"/travel-licensing/applications/{app_id}"
    case = client.get(added.headers["location"], headers=HTML)
    assert "分社质量保证金" in case.text
    _well_formed(case.text, "case with two deposit forms")
    [branch_id] = _open_obligations(app_id, "branch_deposit")
    short = client.post(f"/travel-licensing/obligations/{branch_id}/deposit", headers=HTML, data={
        "method": "deposit", "bank": "示范银行", "amount_yuan": "40000", "paid_on": today_cst().isoformat(),
        "csrf_token": token}, files={"evidence": ("回单.pdf", b"%PDF-1.4", "application/pdf")})
    assert short.status_code == 422 and f'href="#amount_yuan-{branch_id}"' in short.text
    paid = client.post(f"/travel-licensing/obligations/{branch_id}/deposit", headers=HTML, follow_redirects=False, data={
        "method": "deposit", "bank": "示范银行", "amount_yuan": "50000", "paid_on": today_cst().isoformat(),
        "csrf_token": token}, files={"evidence": ("回单.pdf", b"%PDF-1.4", "application/pdf")})
    assert paid.status_code == 303
    assert _open_obligations(app_id, "branch_deposit") == []


def test_another_firm_and_a_clerk_cannot_register_a_firms_branch(client):
    _, app_id, _ = _licensed(client)
    client.cookies.clear()
    other, _ = helpers.make_user("org_admin")
    helpers.login(client, other.email)
    token = helpers.csrf(client, "/travel-licensing/apply")
    assert client.post(f"/travel-licensing/applications/{app_id}/branches", data={"csrf_token": token},
                       headers=HTML).status_code == 404
    client.cookies.clear()
    clerk, _ = helpers.make_user("official", kind="government_agency")
    helpers.login(client, clerk.email)
    token = helpers.csrf(client, "/travel-licensing/clerk")
    assert client.post(f"/travel-licensing/applications/{app_id}/branches", data={"csrf_token": token},
                       headers=HTML).status_code == 404
    assert _open_obligations(app_id, "branch_deposit") == []


def test_a_clerk_orders_a_top_up_and_the_firm_records_it(client):
    firm, app_id, firm_token = _licensed(client)
    refused = client.post(f"/travel-licensing/clerk/{app_id}/top-up", data={"amount_yuan": "30000",
                                                                          "csrf_token": firm_token}, headers=HTML)
    assert refused.status_code == 403
    client.cookies.clear()
    clerk, _ = helpers.make_user("official", kind="government_agency")
    helpers.login(client, clerk.email)
    token = helpers.csrf(client, "/travel-licensing/clerk")
    page = client.get(f"/travel-licensing/clerk/{app_id}", headers=HTML)
    assert 'id="order-top-up"' in page.text
    _well_formed(page.text, "clerk case")
    bad = client.post(f"/travel-licensing/clerk/{app_id}/top-up", data={"amount_yuan": "0", "csrf_token": token},
                      headers=HTML)
    assert bad.status_code == 422 and 'href="#amount_yuan"' in bad.text
    ordered = client.post(f"/travel-licensing/clerk/{app_id}/top-up", data={"amount_yuan": "30000", "csrf_token": token},
                          headers=HTML, follow_redirects=False)
    assert ordered.status_code == 303
    [top_up_id] = _open_obligations(app_id, "top_up")
    client.cookies.clear()
    helpers.login(client, firm.email)
    case = client.get(f"/travel-licensing/applications/{app_id}", headers=HTML)
    assert f'id="deposit-{top_up_id}"' in case.text
    paid = client.post(f"/travel-licensing/obligations/{top_up_id}/deposit", headers=HTML, follow_redirects=False, data={
        "method": "guarantee", "bank": "示范银行", "amount_yuan": "30000", "paid_on": today_cst().isoformat(),
        "csrf_token": helpers.csrf(client, "/travel-licensing/apply")},
        files={"evidence": ("担保函.pdf", b"%PDF-1.4", "application/pdf")})
    assert paid.status_code == 303
    assert _open_obligations(app_id, "top_up") == []
