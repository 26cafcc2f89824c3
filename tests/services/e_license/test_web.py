"""E-license pages over HTTP: the holder authorises after a preview, the clerk retrieves, the holder sees each access."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient

from openzone.core import consent, ledger
from openzone.services.e_license import service
from tests import helpers

HTML = {"accept": "text/html"}


def _signed_in(app, email) -> tuple[TestClient, str]:
    c = TestClient(app, base_url="http://testserver")
    helpers.login(c, email)
    return c, helpers.csrf(c, "/")


def _items(site) -> list[str]:
    return [f"{site.id_card_id}.name", f"{site.id_card_id}.id_number", f"{site.marriage_id}.number",
            f"{site.marriage_id}.spouse_name"]


def _authorise(holder, token, site, matter="M007") -> uuid.UUID:
    form = holder.get(f"/e-license/authorise?matter={matter}&hall={site.hall_id}", headers=HTML)
    assert form.status_code == 200 and "居民身份证" in form.text and "结婚证" in form.text
    data = {"csrf_token": token, "holder": f"person:{site.holder_id}", "matter": matter, "place": str(site.hall_id),
            "items": _items(site)}
    preview = holder.post("/e-license/authorise", data=data, headers=HTML)
    assert preview.status_code == 200 and "将要提供的内容" in preview.text
    # The preview shows exactly the ticked fields: the ID number, never the address.
    assert "公民身份号码" in preview.text and "住址" not in preview.text
    done = holder.post("/e-license/authorise/confirm", data=data, headers=HTML, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/consent/grants/")
    return uuid.UUID(done.headers["location"].split("/")[3].split("?")[0])


def test_the_holder_authorises_the_clerk_retrieves_and_the_holder_sees_it(app, client, site):
    holder, token = _signed_in(app, site.holder_email)
    mine = holder.get("/e-license/my", headers=HTML)
    assert mine.status_code == 200 and "居民身份证" in mine.text and "有效" in mine.text
    grant_id = _authorise(holder, token, site)
    qr_page = holder.post(f"/consent/grants/{grant_id}/qr", data={"csrf_token": token}, headers=HTML)
    assert qr_page.status_code == 200 and "data-countdown-until" in qr_page.text
    payload = helpers.committed(lambda s: consent.present_qr(
        s, grant_id, holders=[consent.Holder.person(site.holder_id)]).qr_payload)
    clerk, ctoken = _signed_in(app, site.clerk_email)
    desk = clerk.get("/e-license/desk", headers=HTML)
    assert desk.status_code == 200 and "W01" in desk.text
    started = clerk.post("/e-license/desk/applications", data={"csrf_token": ctoken, "matter": "M007"}, headers=HTML,
                         follow_redirects=False)
    assert started.status_code == 303
    app_path = started.headers["location"]
    page = clerk.get(app_path, headers=HTML)
    assert 'id="scan-start"' in page.text and "/static/e_license/scan.js" in page.text
    # The clerk's application page alone may use the camera; every other page keeps it off.
    assert page.headers["permissions-policy"].startswith("camera=(self)")
    assert desk.headers["permissions-policy"].startswith("camera=()")
    presented = clerk.post(f"{app_path}/present", data={"csrf_token": ctoken, "token": payload}, headers=HTML,
                           follow_redirects=False)
    assert presented.status_code == 303
    page = clerk.get(app_path, headers=HTML)
    assert "授权允许调取的证照" in page.text and "调取" in page.text
    for lid in (site.id_card_id, site.marriage_id):
        got = clerk.post(f"{app_path}/retrieve", data={"csrf_token": ctoken, "license_id": str(lid)}, headers=HTML,
                         follow_redirects=False)
        assert got.status_code == 303
    page = clerk.get(app_path, headers=HTML)
    saved = re.search(r'id="materials-saved">(.*?)</ul>', page.text, re.S).group(1)
    assert "申请人居民身份证" in saved and "结婚证" in saved
    assert "王五" in page.text  # the released spouse name, read from the consent copy
    history = holder.get("/e-license/history", headers=HTML)
    assert history.status_code == 200 and "夫妻投靠落户" in history.text and "窗口 W01" in history.text
    assert "等待入账" in history.text
    while helpers.committed(lambda s: ledger.integrate(s)):
        pass
    history = holder.get("/e-license/history", headers=HTML)
    leaf = re.search(r'href="/ledger/receipts/([0-9a-f]{64})\.txt"', history.text).group(1)
    assert client.get(f"/ledger/receipts/{leaf}.txt").text.startswith("c2sp.org/tlog-proof@v1")


def test_a_refusal_is_shown_to_the_clerk_and_logged_for_the_holder(app, client, site):
    holder, token = _signed_in(app, site.holder_email)
    grant_id = _authorise(holder, token, site)
    payload = helpers.committed(lambda s: consent.present_qr(
        s, grant_id, holders=[consent.Holder.person(site.holder_id)]).qr_payload)
    clerk, ctoken = _signed_in(app, site.clerk_email)
    started = clerk.post("/e-license/desk/applications", data={"csrf_token": ctoken, "matter": "M001"}, headers=HTML,
                         follow_redirects=False)
    app_path = started.headers["location"]
    clerk.post(f"{app_path}/present", data={"csrf_token": ctoken, "token": payload}, headers=HTML)
    refused = clerk.post(f"{app_path}/retrieve", data={"csrf_token": ctoken, "license_id": str(site.id_card_id)},
                         headers=HTML)
    assert refused.status_code == 403 and 'id="refusal"' in refused.text
    history = holder.get("/e-license/history", headers=HTML)
    assert "拒绝" in history.text


def test_a_wrong_qr_code_is_refused_on_the_page(app, site):
    clerk, ctoken = _signed_in(app, site.clerk_email)
    started = clerk.post("/e-license/desk/applications", data={"csrf_token": ctoken, "matter": "M007"}, headers=HTML,
                         follow_redirects=False)
    page = clerk.post(f"{started.headers['location']}/present", data={"csrf_token": ctoken, "token": "ozc1:nothing"},
                      headers=HTML)
    assert page.status_code == 403 and "govuk-error-message" in page.text


def test_another_window_cannot_open_the_application(app, site):
    clerk, ctoken = _signed_in(app, site.clerk_email)
    started = clerk.post("/e-license/desk/applications", data={"csrf_token": ctoken, "matter": "M007"}, headers=HTML,
                         follow_redirects=False)
    other, _ = _signed_in(app, site.other_clerk_email)
    assert other.get(started.headers["location"], headers=HTML).status_code == 403


def test_the_online_hall_retrieves_at_once(app, site):
    def online(session):
        return service.create_window(session, hall_org_id=site.hall_id, hall_code=site.hall_code, code="WEB",
                                     name="网上办事大厅", online=True).id
    window_id = helpers.committed(online)
    holder, token = _signed_in(app, site.holder_email)
    form = holder.get(f"/e-license/online?matter=M007&hall={window_id}", headers=HTML)
    assert form.status_code == 200 and "居民身份证" in form.text
    data = {"csrf_token": token, "holder": f"person:{site.holder_id}", "matter": "M007", "place": str(window_id),
            "items": _items(site)}
    assert holder.post("/e-license/online", data=data, headers=HTML).status_code == 200
    done = holder.post("/e-license/online/confirm", data=data, headers=HTML, follow_redirects=False)
    assert done.status_code == 303
    result = holder.get(done.headers["location"], headers=HTML)
    assert result.status_code == 200 and "申请已提交" in result.text and "结婚证" in result.text
    history = holder.get("/e-license/history", headers=HTML)
    assert "网上办理系统" in history.text


def test_a_revoked_license_shows_the_issuers_reason(app, site):
    helpers.committed(lambda s: service.change_status(s, issuer_org_id=site.agency_id, license_id=site.id_card_id,
                                                      action="revoke", reason="证件已作废"))
    holder, _ = _signed_in(app, site.holder_email)
    mine = holder.get("/e-license/my", headers=HTML)
    assert "已撤销" in mine.text and "证件已作废" in mine.text
    detail = holder.get(f"/e-license/my/{site.id_card_id}", headers=HTML)
    assert "签名有效" in detail.text and "已撤销" in detail.text
    vc = holder.get(f"/e-license/my/{site.id_card_id}/vc.json")
    assert vc.status_code == 200 and vc.json()["proof"]["cryptosuite"] == "eddsa-jcs-2022"


def test_the_preview_refuses_an_empty_choice(app, site):
    holder, token = _signed_in(app, site.holder_email)
    data = {"csrf_token": token, "matter": "M007", "place": str(site.hall_id)}
    page = holder.post("/e-license/authorise", data=data, headers=HTML)
    assert page.status_code == 422 and "请至少选择一项证照和字段" in page.text


def test_pages_refuse_the_wrong_people(app, client, site):
    assert client.get("/e-license/my", headers=HTML, follow_redirects=False).status_code in (303, 401)
    holder, _ = _signed_in(app, site.holder_email)
    assert holder.get("/e-license/desk", headers=HTML).status_code == 403
    assert holder.get("/e-license/statistics", headers=HTML).status_code == 403
    other, _ = helpers.make_user(None)
    stranger, _ = _signed_in(app, other.email)
    assert stranger.get(f"/e-license/my/{site.id_card_id}", headers=HTML).status_code == 404


def test_statistics_for_administrators(app):
    admin, _ = helpers.make_user("org_admin", platform_admin=True)
    c, _ = _signed_in(app, admin.email)
    page = c.get("/e-license/statistics", headers=HTML)
    assert page.status_code == 200 and "按服务大厅" in page.text and "<meter" in page.text
    assert c.get("/e-license/desk", headers=HTML).status_code == 200
    assert c.get("/e-license", headers=HTML).status_code == 200
