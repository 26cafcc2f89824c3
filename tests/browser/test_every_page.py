"""Every page, signed in as an administrator, in both languages: axe finds nothing serious and nothing overflows."""

from __future__ import annotations

import pytest

from tests import builders, helpers
from tests.browser.conftest import check_accessibility, check_fits
from tests.test_pages import page_paths

pytestmark = pytest.mark.browser


def test_every_page_is_accessible_and_fits(page, live_server):
    admin, org = helpers.make_user("org_admin", platform_admin=True)
    page.goto("/login")
    page.get_by_label("电子邮箱").fill(admin.email)
    page.get_by_label("密码").fill(builders.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_label("身份验证器应用中的6位验证码").fill(helpers.totp_code(admin.email))
    page.get_by_role("button", name="继续").click()
    page.wait_for_url(f"{live_server}/")
    paths = page_paths(org.id)
    for lang in ("zh-CN", "en"):
        page.goto(f"/language/{lang}?next=/")
        for path in paths:
            page.goto(path)
            assert page.locator("html").get_attribute("lang") == lang
            check_accessibility(page)
            check_fits(page)
