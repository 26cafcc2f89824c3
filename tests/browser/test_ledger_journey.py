"""A citizen checks a ledger receipt: download it, paste it into /verify, see it valid; alter one byte, see it refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from openzone.core import ledger
from tests import helpers
from tests.browser.conftest import check_accessibility, check_fits

pytestmark = pytest.mark.browser


def _record_and_integrate() -> str:
    def build(session):
        holder = ledger.commit(session, "id_number", "11010519491231002X")
        entry = ledger.record(session, "e_license.retrieved", actor_org_id=None, commitments={"holder": holder},
                              digests={"licence": "sha256:" + "5e" * 32}, data={"purpose": "开立银行账户"})
        return entry.leaf_hash.hex()

    leaf = helpers.committed(build)
    while helpers.committed(lambda s: ledger.integrate(s)):
        pass
    return leaf


def test_download_a_receipt_and_check_it_then_see_a_tampered_copy_refused(page, live_server, tmp_path):
    leaf = _record_and_integrate()

    page.goto(f"/verify?leaf={leaf}")
    assert page.get_by_role("heading", name="账本中的条目").is_visible()
    check_accessibility(page)
    check_fits(page)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载收据文件（tlog-proof 文本）").click()
    download = download_info.value
    assert download.suggested_filename == f"openzone-{leaf[:16]}.tlog-proof"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("c2sp.org/tlog-proof@v1\n")

    page.goto("/verify")
    page.get_by_label("粘贴收据内容").fill(text)
    page.get_by_role("button", name="核验").click()
    panel = page.locator("#verdict")
    assert panel.is_visible() and "有效" in panel.inner_text()
    assert page.locator("#verdict-index").inner_text().isdigit()
    check_accessibility(page)
    check_fits(page)

    # One byte of the entry altered: base64 character 40 of the extra line carries bits of entry byte 30 alone.
    extra = text.split("\n")[1]
    position = len("extra ") + 40
    tampered_line = extra[:position] + ("B" if extra[position] == "A" else "A") + extra[position + 1:]
    page.get_by_label("粘贴收据内容").fill(text.replace(extra, tampered_line))
    page.get_by_role("button", name="核验").click()
    summary = page.locator(".govuk-error-summary")
    assert summary.is_visible() and "收据无效" in summary.inner_text()
    assert page.locator("#verdict").count() == 0
    check_accessibility(page)
    check_fits(page)

    # The original file, uploaded rather than pasted, passes again.
    page.get_by_label("粘贴收据内容").fill("")
    page.get_by_label("或上传收据文件").set_input_files(str(Path(saved)))
    page.get_by_role("button", name="核验").click()
    assert "有效" in page.locator("#verdict").inner_text()
