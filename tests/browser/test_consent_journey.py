"""A citizen at a service window: grant after a preview, show the QR code and a short code, the clerk redeems it,
the citizen sees the access in the history and revokes the grant."""

from __future__ import annotations

import re

import httpx
import pytest

from openzone.core import consent
from openzone.core.identity.models import Person
from openzone.core.identity.service import create_token
from tests import builders, helpers
from tests.browser.conftest import check_accessibility, check_fits, serve

pytestmark = pytest.mark.browser

KIND = "journey_licence"
FIELDS = {"name": ("姓名", "Name"), "number": ("证照编号", "Licence number")}


def create_app():
    """Build the app with a resource kind registered, as a service would register its own."""
    from openzone.app import create_app as build

    consent.register_kind(KIND, label=("电子营业执照", "E-business licence"), fields=FIELDS,
                          preview=lambda session, holder, rid, fields: [(FIELDS[f][0], "示例") for f in fields])
    return build()


@pytest.fixture(scope="module")
def live_server(database):
    """Run this module's app (with its resource kind) with Uvicorn on a free port."""
    yield from serve("tests.browser.test_consent_journey:create_app")


def _clerk_token() -> tuple[str, str]:
    clerk, hall = helpers.make_user("clerk", kind="service_hall")

    def build(session):
        return create_token(session, person=session.get(Person, clerk.id), org_id=hall.id, name="窗口扫码枪",
                            scopes=["write"])[1]

    return helpers.committed(build), hall.name


def test_grant_show_code_clerk_redeems_see_history_revoke(page, live_server):
    citizen, _ = helpers.make_user()
    secret, hall_name = _clerk_token()

    page.goto("/login?next=/consent")
    page.get_by_label("电子邮箱").fill(citizen.email)
    page.get_by_label("密码").fill(builders.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/consent")
    assert page.get_by_role("heading", name="我的授权").is_visible()
    check_accessibility(page)
    check_fits(page)

    page.get_by_role("button", name="新建授权").click()
    page.get_by_label("被授权的机构").select_option(label=hall_name)
    page.get_by_label("电子营业执照：姓名").check()
    page.get_by_label("用途", exact=True).select_option(label="在政务服务窗口办理业务")
    check_accessibility(page)
    check_fits(page)
    page.get_by_role("button", name="预览将要提供的内容").click()
    assert page.get_by_role("heading", name="将要提供的内容").is_visible()
    assert "示例" in page.content()
    check_accessibility(page)
    check_fits(page)
    page.get_by_role("button", name="确认授权").click()
    assert page.get_by_text("授权已生效").first.is_visible()
    check_accessibility(page)
    check_fits(page)
    grant_url = page.url.split("?")[0]

    page.get_by_role("button", name="出示二维码").click()
    assert page.get_by_role("img", name="授权二维码").is_visible()
    countdown = page.locator("#countdown")
    assert re.fullmatch(r"\d+:\d\d", countdown.inner_text())
    check_accessibility(page)
    check_fits(page)

    page.goto(grant_url)
    page.get_by_label("窗口编号").fill("A05")
    page.get_by_role("button", name="生成验证码").click()
    code = page.locator("#consent-code").inner_text().replace(" ", "")
    assert len(code) >= 8 and code.isdigit()
    check_accessibility(page)
    check_fits(page)

    redeemed = httpx.post(f"{live_server}/api/v1/consent/redeem", json={"code": code, "window": "A05"},
                          headers={"authorization": f"Bearer {secret}"})
    assert redeemed.status_code == 200, redeemed.text

    page.goto("/consent/history")
    row = page.locator("#history tbody tr").first
    assert hall_name in row.inner_text() and "窗口 A05" in row.inner_text() and "允许" in row.inner_text()
    check_accessibility(page)
    check_fits(page)

    page.goto("/consent")
    page.get_by_role("button", name=re.compile("^撤销")).first.click()
    assert page.get_by_text("授权已撤销，立即生效。").is_visible()
    assert page.get_by_role("heading", name="已结束的授权").is_visible()
    check_accessibility(page)
    check_fits(page)
    replay = httpx.post(f"{live_server}/api/v1/consent/redeem", json={"code": code, "window": "A05"},
                        headers={"authorization": f"Bearer {secret}"})
    assert replay.status_code in (403, 409) and replay.headers["content-type"].startswith("application/problem+json")
