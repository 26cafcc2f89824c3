"""A citizen authorises a window for a matter after a preview and shows the QR code; the clerk reads that very QR
code, retrieves the licenses and sees the paper saved; the citizen sees each access and verifies its receipt offline."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from openzone.core import ledger
from openzone.core.identity.models import Person
from openzone.core.ledger import note, receipt
from openzone.services.e_license import service
from tests import builders, helpers
from tests.browser.camera import write_y4m
from tests.browser.conftest import CHROMIUM_ARGS, DESKTOP, check_accessibility, check_fits

pytestmark = pytest.mark.browser


def _site():
    clerk, hall = helpers.make_user("clerk", kind="service_hall")
    citizen, _ = helpers.make_user(None)

    def build(session):
        agency = builders.create_org(session, kind="government_agency", uscc=None)
        service.create_issuer(session, org_id=agency.id, license_types=["resident_id", "marriage_certificate"])
        window = service.create_window(session, hall_org_id=hall.id, hall_code=builders.unique("H"), code="A01",
                                       name="综合受理窗口1")
        service.accredit_clerk(session, person_id=clerk.id, window_id=window.id, by_person=None)
        person = session.get(Person, citizen.id)
        number = builders.random_id_number()
        service.issue(session, issuer_org_id=agency.id, item=service.LicenseInput(
            "resident_id", "person", citizen.id,
            {"name": person.name, "sex": "女", "ethnicity": "汉", "birth_date": "1990-03-07",
             "address": "北京市朝阳区示例路1号", "id_number": number}, dt.date(2020, 5, 1), dt.date(2040, 4, 30)))
        service.issue(session, issuer_org_id=agency.id, item=service.LicenseInput(
            "marriage_certificate", "person", citizen.id,
            {"number": f"J{uuid.uuid4().hex[:10]}", "name": person.name, "id_number": number, "spouse_name": "王五",
             "registered_on": "2018-10-01"}, dt.date(2018, 10, 1), None))
        return hall.name

    return clerk, citizen, helpers.committed(build)


def _login(pg, email, *, totp: bool) -> None:
    pg.goto("/login")
    pg.get_by_label("电子邮箱").fill(email)
    pg.get_by_label("密码").fill(builders.PASSWORD)
    pg.get_by_role("button", name="登录").click()
    if totp:
        pg.get_by_label("身份验证器应用中的6位验证码").fill(helpers.totp_code(email))
        pg.get_by_role("button", name="继续").click()
    pg.wait_for_url("**/")


def _check(pg) -> None:
    check_accessibility(pg)
    check_fits(pg)


def test_authorise_scan_retrieve_and_verify_the_receipt(page, browser, live_server, tmp_path):
    clerk, citizen, hall_name = _site()

    # The citizen, on the phone (and on a desktop), chooses the matter, the hall and the fields, then previews.
    _login(page, citizen.email, totp=False)
    page.goto("/e-license/my")
    assert page.get_by_role("heading", name="居民身份证").is_visible()
    _check(page)
    page.goto("/e-license/authorise")
    page.get_by_label("办理事项").select_option(value="M007")
    page.get_by_label("政务服务大厅").select_option(label=hall_name)
    page.get_by_role("button", name="列出可用证照").click()
    _check(page)
    page.get_by_label("住址").uncheck()  # release less than the license holds
    page.get_by_role("button", name="预览将提供的内容").click()
    assert page.get_by_role("heading", name="将要提供的内容").is_visible()
    assert "公民身份号码" in page.content() and "北京市朝阳区示例路1号" not in page.content()
    _check(page)
    page.get_by_role("button", name="确认授权").click()
    assert page.get_by_text("授权已生效").first.is_visible()
    _check(page)
    page.get_by_role("button", name="出示二维码").click()
    qr = page.get_by_role("img", name="授权二维码")
    assert qr.is_visible()
    _check(page)
    png = qr.screenshot()

    # The clerk's browser, whose camera sees the phone's screen: Chromium's fake camera plays the screenshot.
    camera = tmp_path / "phone.y4m"
    write_y4m(png, camera)
    scanner = browser.browser_type.launch(executable_path="/usr/bin/chromium", args=[
        *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}"])
    context = scanner.new_context(viewport=DESKTOP, base_url=live_server, locale="zh-CN")
    try:
        desk = context.new_page()
        errors: list[str] = []
        desk.on("pageerror", lambda exc: errors.append(str(exc)))
        _login(desk, clerk.email, totp=True)
        desk.goto("/e-license/desk")
        assert "A01" in desk.locator("#desk-place").inner_text()
        _check(desk)
        desk.get_by_label("办理事项").select_option(value="M007")
        desk.get_by_role("button", name="开始办件").click()
        _check(desk)
        desk.get_by_role("button", name="打开摄像头扫码").click()  # the scanner submits what it reads
        desk.get_by_role("heading", name="授权允许调取的证照").wait_for(timeout=20_000)
        _check(desk)
        for _ in range(2):
            desk.get_by_role("button", name="调取").first.click()
            desk.wait_for_load_state()
        saved = desk.locator("#materials-saved").inner_text()
        assert "申请人居民身份证" in saved and "结婚证" in saved
        assert "王五" in desk.content()
        _check(desk)
        assert errors == []
    finally:
        context.close()
        scanner.close()

    # The citizen sees both retrievals, with hall, window and matter, and verifies a receipt offline.
    while helpers.committed(lambda s: ledger.integrate(s)):
        pass
    page.goto("/e-license/history")
    rows = page.locator("#el-history tbody tr")
    text = rows.all_inner_texts()
    assert sum("允许" in t and "窗口 A01" in t and "夫妻投靠落户" in t for t in text) == 2
    _check(page)
    link = page.get_by_role("link", name="下载收据").first
    data = page.request.get(link.get_attribute("href")).body()
    verdict = receipt.verify_receipt(data, log_keys=[note.parse_vkey(ledger.log_vkey())], quorum=0,
                                     origin=ledger.log_origin())
    assert verdict.fields.actor is not None
    page.get_by_role("link", name="核验").first.click()
    _check(page)
