"""Holder pages over HTTP: a grant after its preview, QR code and short code, history with receipts, revocation."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from openzone.core import consent, ledger
from openzone.core.consent import web
from tests import builders, helpers
from tests.core.consent.conftest import KIND, terms

HTML = {"accept": "text/html"}


def _holder(client):
    person, _org = helpers.make_user()
    helpers.login(client, person.email)
    return person, helpers.csrf(client, "/consent/new")


def _grant_form(requester_id, **overrides):
    values = {"requester": str(requester_id), "hall": "", "window": "", "items": [f"{KIND}.name", f"{KIND}.number"],
              "resource_id": "*", "purpose": "service-window", "purpose_text": "办理营业执照变更", "use_mode": "single",
              "days": "1", "data_life_days": "0"}
    values.update(overrides)
    return values


def test_a_holder_previews_then_gives_a_grant_and_shows_a_qr_code(client):
    person, token = _holder(client)
    hall = helpers.committed(lambda s: builders.create_org(s, kind="service_hall"))
    page = client.get("/consent/new", headers=HTML)
    assert page.status_code == 200 and "测试证照：姓名" in page.text and hall.name in page.text
    preview = client.post("/consent/new", data=_grant_form(hall.id) | {"csrf_token": token}, headers=HTML)
    assert preview.status_code == 200
    assert "将要提供的内容" in preview.text and "测试持证人" in preview.text and "LIC-*" in preview.text
    assert helpers.committed(lambda s: consent.grants_of(s, [consent.Holder.person(person.id)])) == []
    confirmed = client.post("/consent/new/confirm", data=_grant_form(hall.id) | {"csrf_token": token}, headers=HTML,
                            follow_redirects=False)
    assert confirmed.status_code == 303
    grant_path = confirmed.headers["location"].split("?")[0]
    detail = client.get(confirmed.headers["location"], headers=HTML)
    assert detail.status_code == 200 and "授权已生效" in detail.text and "出示二维码" in detail.text
    qr = client.post(f"{grant_path}/qr", data={"csrf_token": token}, headers=HTML)
    assert qr.status_code == 200
    assert 'src="data:image/svg+xml' in qr.text and "data-countdown-until=" in qr.text
    assert "cache-control" in qr.headers and "no-store" in qr.headers["cache-control"]
    listing = client.get("/consent", headers=HTML)
    assert hall.name in listing.text and "有效的授权" in listing.text


def test_the_form_keeps_answers_and_says_what_is_wrong(client):
    _person, token = _holder(client)
    response = client.post("/consent/new", data=_grant_form("", items=[]) | {"csrf_token": token}, headers=HTML)
    assert response.status_code == 422 and "govuk-error-summary" in response.text
    hall = helpers.committed(lambda s: builders.create_org(s, kind="service_hall"))
    response = client.post("/consent/new", data=_grant_form(hall.id, items=[], purpose_text="保留的说明")
                           | {"csrf_token": token}, headers=HTML)
    assert response.status_code == 422 and "请至少选择一项授权范围" in response.text and "保留的说明" in response.text


def test_odd_numbers_and_a_bad_hall_get_a_message_not_an_error_page(app):
    client = TestClient(app, raise_server_exceptions=False)
    _person, token = _holder(client)
    hall = helpers.committed(lambda s: builders.create_org(s, kind="service_hall"))
    cases = [{"days": "²"}, {"days": "999999999"}, {"days": "9999999999"}, {"days": "0"},
             {"data_life_days": "99999999999999999999999"}, {"data_life_days": "٣"},
             {"use_mode": "count", "max_uses": "99999999999999999999"}, {"hall": "bad hall"}, {"window": "-x"}]
    for case in cases:
        for path in ("/consent/new", "/consent/new/confirm"):
            response = client.post(path, data=_grant_form(hall.id, **case) | {"csrf_token": token}, headers=HTML,
                                   follow_redirects=False)
            assert response.status_code == 422, (path, case, response.status_code)
            assert "govuk-error-summary" in response.text
    assert helpers.committed(lambda s: consent.grants_of(s, [consent.Holder.person(_person.id)])) == []


def test_the_history_pages_through_every_access_of_every_kind(client):
    person, _token = _holder(client)
    holder = consent.Holder.person(person.id)
    hall = helpers.committed(lambda s: builders.create_org(s, kind="service_hall"))

    def refuse(session, count, kind=KIND):
        for _ in range(count):
            with pytest.raises(consent.Refused):
                consent.require_grant(session, requester=consent.Requester(hall.id), holder=holder, resource_kind=kind,
                                      resource_id="L1", fields=["name"], purpose="service-window")

    helpers.committed(lambda s: refuse(s, 1, kind="Not A Kind"))  # the oldest, and of no kind
    helpers.committed(lambda s: refuse(s, web.HISTORY_PAGE))
    first = client.get("/consent/history", headers=HTML)
    assert first.status_code == 200 and first.text.count('<tr class="govuk-table__row">') == web.HISTORY_PAGE + 1
    older = re.search(r'id="history-older" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = client.get(older, headers=HTML)
    assert second.status_code == 200 and second.text.count('<tr class="govuk-table__row">') == 2
    assert 'id="history-older"' not in second.text and 'href="/consent/history"' in second.text
    assert "超出授权范围或用途" in second.text  # the malformed request, refused as out of scope


def test_a_short_code_is_redeemed_by_the_clerk_and_appears_in_the_history_with_a_receipt(client, app):
    person, token = _holder(client)
    clerk, hall = helpers.make_user("clerk", kind="service_hall")
    grant_id = helpers.committed(lambda s: consent.give_grant(
        s, holder=consent.Holder.person(person.id), requester=consent.Binding(hall.id), terms=terms()).id)
    missing = client.post(f"/consent/grants/{grant_id}/code", data={"csrf_token": token, "window": ""}, headers=HTML)
    assert missing.status_code == 422 and "请填写窗口编号" in missing.text
    page = client.post(f"/consent/grants/{grant_id}/code", data={"csrf_token": token, "window": "A05"}, headers=HTML)
    assert page.status_code == 200
    code = re.search(r'id="consent-code">([\d ]+)<', page.text).group(1).replace(" ", "")
    assert len(code) >= 8
    with TestClient(app, base_url="http://testserver") as counter:
        helpers.login(counter, clerk.email)
        csrf = helpers.csrf(counter, "/")
        redeemed = counter.post("/api/v1/consent/redeem", json={"code": code, "window": "A05"},
                                headers={"x-csrf-token": csrf})
        assert redeemed.status_code == 200, redeemed.text
    history = client.get("/consent/history", headers=HTML)
    assert history.status_code == 200 and hall.name in history.text and "窗口 A05" in history.text
    assert "允许" in history.text and "等待入账" in history.text
    while helpers.committed(lambda s: ledger.integrate(s)):
        pass
    history = client.get("/consent/history", headers=HTML)
    leaf = re.search(r'href="/ledger/receipts/([0-9a-f]{64})\.txt"', history.text).group(1)
    receipt = client.get(f"/ledger/receipts/{leaf}.txt")
    assert receipt.status_code == 200 and receipt.text.startswith("c2sp.org/tlog-proof@v1")


def test_a_holder_approves_a_request_and_revokes_it(client):
    person, token = _holder(client)
    bank = helpers.committed(lambda s: builders.create_org(s, kind="bank"))
    grant_id = helpers.committed(lambda s: consent.request_grant(
        s, requester=consent.Requester(bank.id), holder=consent.Holder.person(person.id), terms=terms()).id)
    listing = client.get("/consent", headers=HTML)
    assert "待您确认" in listing.text and "查看并确认" in listing.text
    assert "同意授权" in client.get(f"/consent/grants/{grant_id}", headers=HTML).text
    approved = client.post(f"/consent/grants/{grant_id}/approve", data={"csrf_token": token}, headers=HTML,
                           follow_redirects=False)
    assert approved.status_code == 303
    assert helpers.committed(lambda s: s.get(consent.Grant, grant_id).status) == "active"
    revoked = client.post(f"/consent/grants/{grant_id}/revoke", data={"csrf_token": token}, headers=HTML,
                          follow_redirects=False)
    assert revoked.status_code == 303 and revoked.headers["location"] == "/consent?revoked=1"
    assert helpers.committed(lambda s: s.get(consent.Grant, grant_id).status) == "revoked"
    again = client.post(f"/consent/grants/{grant_id}/revoke", data={"csrf_token": token}, headers=HTML)
    assert again.status_code == 422


def test_another_persons_grant_is_not_found(client):
    owner = helpers.committed(lambda s: builders.create_person(s))
    hall = helpers.committed(lambda s: builders.create_org(s, kind="service_hall"))
    grant_id = helpers.committed(lambda s: consent.give_grant(
        s, holder=consent.Holder.person(owner.id), requester=consent.Binding(hall.id), terms=terms()).id)
    _person, token = _holder(client)
    assert client.get(f"/consent/grants/{grant_id}", headers=HTML).status_code == 404
    assert client.post(f"/consent/grants/{grant_id}/revoke", data={"csrf_token": token}, headers=HTML).status_code == 404
    assert client.post(f"/consent/grants/{grant_id}/qr", data={"csrf_token": token}, headers=HTML).status_code == 404
    assert client.get(f"/consent/grants/{uuid.uuid4()}", headers=HTML).status_code == 404


def test_pages_need_a_person_not_a_token(client):
    response = client.get("/consent", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_an_organisation_administrator_manages_the_organisations_grants(client):
    admin, firm = helpers.make_user("org_admin")
    bank = helpers.committed(lambda s: builders.create_org(s, kind="bank"))
    grant_id = helpers.committed(lambda s: consent.request_grant(
        s, requester=consent.Requester(bank.id), holder=consent.Holder.organisation(firm.id),
        terms=terms(use_mode="periodic", frequency="day", frequency_uses=3, days=30)).id)
    helpers.login(client, admin.email)
    token = helpers.csrf(client, "/consent/new")
    listing = client.get("/consent", headers=HTML)
    assert bank.name in listing.text and firm.name in listing.text
    assert f'value="organisation:{firm.id}"' in client.get("/consent/new", headers=HTML).text
    assert client.post(f"/consent/grants/{grant_id}/decline", data={"csrf_token": token}, headers=HTML,
                       follow_redirects=False).status_code == 303
    assert helpers.committed(lambda s: s.get(consent.Grant, grant_id).status) == "declined"
