"""The travel-licensing journey: a firm applies page by page, signs and gets a licence; a clerk decides a queued case."""

from __future__ import annotations

import re

import pytest

from openzone.db import transaction
from openzone.services.travel_licensing import service
from tests import builders, helpers
from tests.browser.conftest import check_accessibility, check_fits
from tests.services.travel_licensing.builders import create_application

pytestmark = pytest.mark.browser


def _sign_in(page, live_server, email):
    page.goto("/login")
    page.get_by_label("电子邮箱").fill(email)
    page.get_by_label("密码").fill(builders.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/")


def _check(page):
    check_accessibility(page)
    check_fits(page)


def test_a_firm_gets_a_licence_by_commitment_and_a_clerk_decides_an_ordinary_case(page, live_server):
    firm, org = helpers.make_user("org_admin")
    clerk, _ = helpers.make_user("official", kind="government_agency")
    with transaction() as session:
        other_org, other_person = builders.create_org(session), None
        other_person = builders.create_person(session, org=other_org, role="org_admin")
        queued = create_application(session, other_org, other_person)
        service.choose_route(session, application=queued, route="ordinary")
        service.submit(session, application=queued)
        queued_id = queued.id

    # The firm applies: one question per page, pre-filled name, check answers, choose the route, sign.
    _sign_in(page, live_server, firm.email)
    page.goto("/travel-licensing")
    _check(page)
    page.locator("#start").click()
    page.wait_for_url(re.compile("/travel-licensing/apply$"))
    page.locator("#new-application").click()
    page.wait_for_url(re.compile("/steps/enterprise$"))
    assert page.locator("#name").input_value() == org.name
    _check(page)
    page.locator("#uscc").fill(org.uscc)
    page.locator("#continue").click()
    page.wait_for_url(re.compile("/steps/legal_rep$"))
    page.locator("#legal_rep_name").fill("张测试")
    page.locator("#legal_rep_id").fill(builders.random_id_number())
    page.locator("#continue").click()
    page.wait_for_url(re.compile("/steps/premises$"))
    _check(page)
    page.locator("#premises_address").fill("北京市朝阳区示例路1号")
    page.get_by_label("租赁", exact=True).check()
    page.locator("#lease_months").fill("24")
    page.locator("#continue").click()
    page.wait_for_url(re.compile("/steps/facilities$"))
    page.locator("#phone_lines").fill("2")
    for box in ("#has_fax", "#has_copier", "#has_computer"):
        page.locator(box).check()
    page.locator("#continue").click()
    page.wait_for_url(re.compile("/steps/capital$"))
    page.locator("#capital_yuan").fill("300000")
    page.locator("#continue").click()
    page.wait_for_url(re.compile("/steps/staff$"))
    page.locator("#staff_count").fill("10")
    page.locator("#guide_count").fill("3")
    page.locator("#continue").click()
    page.wait_for_url(re.compile("/steps/managers$"))
    page.locator("#managers").fill("李经理,总经理,6\n王计调,计调,3")
    page.locator("#continue").click()
    page.wait_for_url(re.compile("/steps/branches$"))
    page.locator("#branches").fill("0")
    page.locator("#continue").click()
    page.wait_for_url(re.compile("/check$"))
    assert page.locator("#checks-passed").is_visible()
    _check(page)
    page.get_by_label("告知承诺", exact=True).check()
    page.locator("#choose-route").click()
    page.wait_for_url(re.compile("/sign$"))
    assert page.locator("#commitment").get_by_text(org.name).is_visible()
    _check(page)
    page.locator("#sign-submit").click()  # unsigned: the error summary keeps the page
    assert page.locator(".govuk-error-summary").is_visible()
    _check(page)
    page.locator("#read_notice").check()
    page.locator("#commit").check()
    page.locator("#sign-submit").click()
    page.wait_for_url(re.compile(r"/travel-licensing/applications/[0-9a-f-]{36}$"))
    number = page.locator("#licence-number").inner_text()
    assert number.startswith("L-BJ-")
    assert page.locator("#obligations").get_by_text("200,000").is_visible()
    _check(page)
    page.locator("#logout").click()
    page.wait_for_url(f"{live_server}/")

    # Anyone can check the licence number.
    page.goto(f"/travel-licensing/licences/{number}")
    assert page.locator("#licence-status").get_by_text("有效").is_visible()
    _check(page)

    # The clerk sees the queued ordinary case with the time left, and approves it.
    _sign_in(page, live_server, clerk.email)
    page.goto("/travel-licensing/clerk")
    row = page.locator(f'#queue a[href="/travel-licensing/clerk/{queued_id}"]')
    assert row.count() == 1
    assert page.locator("#queue").get_by_text(re.compile("工作日")).first.is_visible()
    _check(page)
    row.click()
    page.wait_for_url(re.compile(f"/travel-licensing/clerk/{queued_id}$"))
    assert page.locator("#checks-passed").is_visible()
    _check(page)
    page.locator("#approve").click()
    page.wait_for_url(re.compile(f"/travel-licensing/clerk/{queued_id}$"))
    assert page.locator("#licence-number").inner_text().startswith("L-BJ-")
    _check(page)
