"""A person's first visit: sign in, switch to English, create an API token, use it, sign out."""

from __future__ import annotations

import re

import httpx
import pytest

from tests import builders, helpers
from tests.browser.conftest import check_accessibility, check_fits

pytestmark = pytest.mark.browser


def test_sign_in_switch_language_create_token_sign_out(page, live_server):
    person, org = helpers.make_user("org_admin")

    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "建设中" in page.content()
    check_accessibility(page)
    check_fits(page)

    page.goto("/login")
    page.get_by_label("电子邮箱").fill(person.email)
    page.get_by_label("密码").fill("wrong-password-1")
    page.get_by_role("button", name="登录").click()
    assert page.locator(".govuk-error-summary").is_visible()
    assert page.get_by_label("电子邮箱").input_value() == person.email
    check_accessibility(page)

    page.get_by_label("密码").fill(builders.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/")

    page.goto("/account")
    page.locator("#lang-switch").click()
    page.wait_for_url(f"{live_server}/account")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="My account").is_visible()
    check_accessibility(page)
    check_fits(page)

    page.get_by_label("Token name").fill("ERP link")
    page.get_by_label(re.compile("^read")).check()
    page.get_by_role("button", name="Create token").click()
    assert page.get_by_role("heading", name="Token created").is_visible()
    secret = page.locator("#token-secret").inner_text().strip()
    check_accessibility(page)
    check_fits(page)

    me = httpx.get(f"{live_server}/api/v1/me", headers={"authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["memberships"][0]["org_id"] == str(org.id)

    page.goto("/account")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server}/")
    assert page.get_by_role("link", name="Sign in").first.is_visible()
    page.goto("/account")
    assert "/login" in page.url


def test_api_docs_load_from_our_own_files(page):
    page.goto("/api/docs")
    page.get_by_text("OpenZone API").first.wait_for()
    assert page.locator(".opblock").count() >= 5
