"""The standards journey: the public finds and reads a standard with a Chinese query; three regulators co-draft one."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from openzone.db import transaction
from tests import builders
from tests.browser.conftest import check_accessibility, check_fits
from tests.services.standards.builders import create_standard, ensure_regulators, free_sequence, unique_number

pytestmark = pytest.mark.browser


def _sign_in(page, live_server, email):
    page.goto("/login")
    page.get_by_label("电子邮箱").fill(email)
    page.get_by_label("密码").fill(builders.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/")


def _sign_out(page, live_server):
    page.locator("#logout").click()
    page.wait_for_url(f"{live_server}/")


def test_search_read_and_co_draft_to_numbering(page, live_server):
    with transaction() as session:
        made = create_standard(
            session, numbers=(unique_number("DB11", 2019), unique_number("DB12", 2019)),
            title_zh="停车场电子不停车收费系统应用技术要求（示例）", keywords=("不停车收费",), sample=True,
            scope="本文件规定了停车场电子不停车收费系统的系统构成和技术要求。",
            body="1 范围\n本文件规定了停车场电子不停车收费系统的系统构成和技术要求。\n2 系统构成\n系统由路侧单元和车载单元组成。").standard
        standard_id = made.id
    regulators = ensure_regulators()

    # The public searches in Traditional Chinese, as a Hong Kong or Taiwan visitor would type it.
    page.goto("/standards")
    check_accessibility(page)
    page.get_by_label("标准名称、编号、关键词或正文").fill("停車場 不停車收費")
    page.get_by_role("button", name="检索").click()
    link = page.locator(f'a[href="/standards/{standard_id}"]').first
    assert link.locator("mark").count() >= 1
    check_accessibility(page)
    check_fits(page)
    link.click()
    page.wait_for_url(re.compile(f"/standards/{standard_id}$"))
    assert page.get_by_text("这是演示用的示例记录").is_visible()
    check_accessibility(page)
    check_fits(page)
    page.locator("#read-text").click()
    assert page.locator("#full-text").get_by_text("系统由路侧单元和车载单元组成。").is_visible()
    check_accessibility(page)

    # Beijing's regulator proposes a joint standard; the duplicate check lists the existing one.
    _sign_in(page, live_server, regulators["11"][0].email)
    page.goto("/standards/drafts/new")
    check_accessibility(page)
    page.get_by_label("标准名称", exact=True).fill("停车设施无感支付收费系统技术规范（示例草案）")
    page.get_by_label("范围").fill("规定停车场利用电子不停车收费方式实现无感支付的系统组成和功能要求。")
    page.locator("#submit-draft").click()
    page.wait_for_url(re.compile(r"/standards/drafts/[0-9a-f-]{36}$"))
    draft_url = page.url
    assert page.locator("#duplicates + ol").get_by_role("link").count() >= 1
    check_accessibility(page)
    check_fits(page)

    def decide_as_all_three():
        for region in ("11", "12", "13"):
            if page.locator("#logout").count():
                _sign_out(page, live_server)
            _sign_in(page, live_server, regulators[region][0].email)
            page.goto(draft_url)
            page.get_by_label("同意", exact=True).check()
            page.locator("#submit-decision").click()
            page.wait_for_url(draft_url)

    decide_as_all_three()
    assert "起草" in page.locator("#stage").inner_text()
    # The comment period ran earlier this year; it is recorded with its real dates.
    start = dt.date(2026, 1, 5)
    page.get_by_label("征求意见稿正文").fill("1 范围\n2 系统组成\n3 功能要求")
    page.get_by_label("开始日期").fill(start.isoformat())
    page.get_by_label("截止日期").fill((start + dt.timedelta(days=30)).isoformat())
    page.locator("#open-comment").click()
    page.wait_for_url(draft_url)
    page.locator("#close-comment").click()
    page.wait_for_url(draft_url)
    page.get_by_label("通过", exact=True).check()
    page.locator("#submit-review").click()
    page.wait_for_url(draft_url)
    check_accessibility(page)
    decide_as_all_three()
    assert "统一编号" in page.locator("#stage").inner_text()
    with transaction() as session:
        seq = free_sequence(session)
    page.get_by_label("顺序号（3001—3999）").fill(str(seq))
    page.locator("#propose-sequence").click()
    page.wait_for_url(draft_url)
    for region in ("13", "12", "11"):
        _sign_out(page, live_server)
        _sign_in(page, live_server, regulators[region][0].email)
        page.goto(draft_url)
        page.locator("#confirm-number").click()
        page.wait_for_url(draft_url)
    assert "发布" in page.locator("#stage").inner_text()
    numbers = page.locator("#numbers").inner_text()
    assert all(f"DB{r}/T {seq}—2026" in numbers for r in (11, 12, 13))
    assert page.locator("#decisions tbody tr").count() >= 14
    check_accessibility(page)
    check_fits(page)
