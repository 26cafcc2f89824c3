"""The trade vault journey: a firm files an invoice and a B/L, sees the dossier, makes its profile PDF, grants a bank."""

from __future__ import annotations

import re

import httpx
import pytest

from openzone.core.identity.models import Person
from openzone.core.identity.service import create_token
from openzone.db import transaction
from tests import builders, helpers
from tests.browser.conftest import check_accessibility, check_fits
from tests.services.trade_vault.builders import SAMPLES, VECTORS

pytestmark = pytest.mark.browser


def _sign_in(page, live_server, email):
    page.goto("/login")
    page.get_by_label("电子邮箱").fill(email)
    page.get_by_label("密码").fill(builders.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/")


def _upload(page, path):
    page.goto("/trade-vault/upload")
    page.get_by_label("选择文件").set_input_files(str(path))
    page.get_by_role("button", name="上传并存证").click()
    page.wait_for_url(re.compile(r"/trade-vault/documents/[0-9a-f-]+$"))


def test_file_group_profile_grant_pull(page, live_server):
    person, _firm = helpers.make_user("staff")
    bank_person, bank = helpers.make_user("org_admin", kind="bank", totp=False)
    with transaction() as session:
        _, secret = create_token(session, person=session.get(Person, bank_person.id), org_id=bank.id, name="bank",
                                 scopes=["read"])

    _sign_in(page, live_server, person.email)
    page.goto("/trade-vault")
    check_accessibility(page)
    check_fits(page)
    # A UBL invoice and a bill of lading (the 示例 DCSA eBL) share contract Contract321: one dossier.
    _upload(page, VECTORS / "ubl_examples/invoice/UBL-Invoice-2.1-Example.xml")
    assert page.get_by_text("TOSL108").first.is_visible()
    check_accessibility(page)
    check_fits(page)
    _upload(page, SAMPLES / "SH1-bill-of-lading.json")
    check_accessibility(page)
    page.get_by_role("link", name="合同 CONTRACT321").first.click()
    page.wait_for_url(re.compile(r"/trade-vault/dossiers/[0-9a-f-]+$"))
    dossier_id = page.url.rsplit("/", 1)[1]
    assert page.get_by_text("UBL-Invoice-2.1-Example.xml").is_visible()
    assert page.get_by_text("SH1-bill-of-lading.json").is_visible()
    assert page.get_by_text("档案不完整").is_visible()
    check_accessibility(page)
    check_fits(page)

    # The trusted profile, then its PDF with the verification QR code.
    page.goto("/trade-vault/profile")
    check_accessibility(page)
    with page.expect_download() as download:
        page.locator("#make-report").click()
    assert download.value.suggested_filename.startswith("trusted-profile-")

    # The firm grants the bank this dossier's invoices for a 汇总征税保函.
    page.goto("/trade-vault/sharing")
    check_accessibility(page)
    page.get_by_label("银行").select_option(str(bank.id))
    page.get_by_label("共享的资料").select_option("trade_dossier")
    page.locator("#resource").fill(dossier_id)
    page.locator("#f-invoices").check()
    page.get_by_label("用途").select_option("summary-tax-guarantee")
    page.get_by_role("button", name="授权", exact=True).click()
    page.wait_for_url(f"{live_server}/trade-vault/sharing")
    assert page.locator("table").first.get_by_text("汇总征税保函").is_visible()

    # The bank's system pulls with its token; the firm sees the pull with its receipt.
    pulled = httpx.get(f"{live_server}/api/v1/trade-vault/shared/dossiers/{dossier_id}",
                       params={"purpose": "summary-tax-guarantee", "fields": "invoices"},
                       headers={"authorization": f"Bearer {secret}"})
    assert pulled.status_code == 200, pulled.text
    assert [d["number"] for d in pulled.json()["documents"]] == ["TOSL108"]
    page.goto("/trade-vault/sharing")
    pulls = page.locator("#pulls + div table")
    assert pulls.get_by_role("link", name="回执").first.is_visible()
    check_accessibility(page)
    check_fits(page)
