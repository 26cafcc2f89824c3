"""Receipt downloads (text and PDF), the published keys, and the public /verify page."""

from __future__ import annotations

import io
import re
import uuid
from html import unescape

import pypdf
import pytest

from openzone.core import documents, ledger
from openzone.core.ledger import note, receipt, receipt_service, receipt_web
from tests import helpers

HTML = {"accept": "text/html"}
ERROR_RE = re.compile(r'class="govuk-error-message">.*?</span>(.*?)</p>', re.S)


@pytest.fixture
def recorded():
    """Commit an entry and integrate everything pending; return the entry's leaf hash (hex) and its actor id."""
    org_id = uuid.uuid4()

    def build(session):
        holder = ledger.commit(session, "uscc", "91110000MA01ABCD2X")
        entry = ledger.record(session, "e_license.retrieved", actor_org_id=org_id, commitments={"holder": holder},
                              digests={"licence": "sha256:" + "5e" * 32}, data={"purpose": "开立银行账户"})
        return entry.leaf_hash

    leaf = helpers.committed(build)
    while helpers.committed(lambda s: ledger.integrate(s)):
        pass
    return leaf.hex(), org_id


def _errors(response) -> list[str]:
    return [unescape(m).strip() for m in ERROR_RE.findall(response.text)]


def test_the_receipt_downloads_as_a_tlog_proof_anyone_can_check(client, recorded):
    leaf, org_id = recorded
    response = client.get(f"/ledger/receipts/{leaf}.txt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="openzone-{leaf[:16]}.tlog-proof"'
    verdict = receipt.verify_receipt(response.content, log_keys=[note.parse_vkey(ledger.log_vkey())], quorum=0,
                                     origin=ledger.log_origin())
    assert verdict.leaf_hash.hex() == leaf and verdict.fields.actor == str(org_id)
    assert client.get(f"/ledger/receipts/{leaf.upper()}.txt").content == response.content


@pytest.mark.parametrize("suffix", ["txt", "pdf"])
def test_a_receipt_for_no_entry_is_a_problem(client, suffix):
    missing = client.get(f"/ledger/receipts/{'0' * 64}.{suffix}")
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/ledger-entry-not-found"
    bad = client.get(f"/ledger/receipts/xyz.{suffix}")
    assert bad.status_code == 422 and bad.json()["errors"] == [{"field": "leaf_hash_hex", "code": "format"}]


def test_the_certificate_is_a_bilingual_pdf_with_a_qr_code_to_the_verify_page(client, recorded, settings):
    leaf, org_id = recorded
    response = client.get(f"/ledger/receipts/{leaf}.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="openzone-{leaf[:16]}.pdf"'
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = re.sub(r"\s+", "", text)
    assert reader.metadata.title == "透明账本收录证明"
    for zh, en in [("透明账本收录证明", "Transparency log receipt"), ("事件类型", "Event type"),
                   ("操作机构编号", "Acting organisation ID"), ("文件摘要", "Document digests"), ("承诺值", "Commitments"),
                   ("叶索引", "Leaf index"), ("检查点树大小", "Checkpoint tree size"), ("根哈希", "Root hash"),
                   ("检查点来源", "Checkpoint origin"), ("见证人联署", "Witness cosignatures")]:
        assert zh in text and en in text, en
        assert text.index(zh) < text.index(en), f"{zh} comes before {en}"
    verdict = helpers.committed(lambda s: receipt_service.issue(s, bytes.fromhex(leaf)).verdict)
    for value in ("e_license.retrieved", str(org_id), "5e" * 32, verdict.fields.commitments["holder"], leaf,
                  verdict.root.hex(), ledger.log_origin(), f"叶索引Leafindex{verdict.index}"):
        assert value.replace(" ", "") in flat, value
    assert f"{settings.base_url.rstrip('/')}/verify?leaf={leaf}" in flat
    html = helpers.committed(lambda s: documents.render_html(receipt_web.CERTIFICATE, receipt_web.certificate_context(
        receipt_service.issue(s, bytes.fromhex(leaf)))))
    assert documents.qr_data_uri(documents.verify_url(f"/verify?leaf={leaf}")) in unescape(html)


def test_the_keys_are_published_as_text_for_pinning(client):
    response = client.get("/ledger/keys")
    assert response.status_code == 200 and response.headers["content-type"] == "text/plain; charset=utf-8"
    keys = receipt.parse_keys(response.text)
    assert keys[0] == note.parse_vkey(ledger.log_vkey())
    assert response.text.startswith("# OpenZone")


def test_the_verify_page_shows_a_form_with_a_csrf_token(client):
    page = client.get("/verify", headers=HTML)
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text and 'name="csrf_token"' in page.text
    assert 'href="/ledger/keys"' in page.text


def test_a_pasted_receipt_is_checked_against_the_published_keys(client, recorded):
    leaf, _ = recorded
    data = client.get(f"/ledger/receipts/{leaf}.txt").text
    token = helpers.csrf(client, "/verify")
    # Browsers send a textarea's line breaks as CRLF and copying tends to lose the last newline.
    pasted = data.replace("\n", "\r\n").rstrip("\r\n")
    response = client.post("/verify", data={"receipt": pasted, "csrf_token": token}, headers=HTML)
    assert response.status_code == 200, _errors(response)
    assert "收据有效" in response.text and 'id="verdict"' in response.text
    assert "e_license.retrieved" in response.text and leaf in response.text
    assert 'id="verdict-index">' in response.text


def test_an_uploaded_receipt_is_checked_byte_for_byte(client, recorded):
    leaf, _ = recorded
    data = client.get(f"/ledger/receipts/{leaf}.txt").content
    token = helpers.csrf(client, "/verify")
    ok = client.post("/verify", data={"receipt": "", "csrf_token": token},
                     files={"receipt_file": ("r.tlog-proof", data, "text/plain")}, headers=HTML)
    assert ok.status_code == 200 and "收据有效" in ok.text
    crlf = client.post("/verify", data={"receipt": "", "csrf_token": token},
                       files={"receipt_file": ("r.tlog-proof", data.replace(b"\n", b"\r\n"), "text/plain")}, headers=HTML)
    assert crlf.status_code == 422 and "收据无效" in _errors(crlf)[0]


@pytest.mark.parametrize(("tamper", "reason"), [
    (lambda d: d.replace("index ", "index 1"), "格式错误"),
    (lambda d: re.sub(r"index \d+", "index 1" + "0" * 5000, d), "格式错误"),  # past int()'s 4,300-digit limit
    (lambda d: d.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"), "格式错误"),
    (lambda d: re.sub(r"(\n— \S+ )(.)", lambda m: m.group(1) + ("B" if m.group(2) == "A" else "A"), d), "签名"),
])
def test_a_tampered_receipt_is_refused_with_a_readable_reason(client, recorded, tamper, reason):
    leaf, _ = recorded
    data = client.get(f"/ledger/receipts/{leaf}.txt").text
    tampered = tamper(data)
    assert tampered != data
    token = helpers.csrf(client, "/verify")
    response = client.post("/verify", data={"receipt": tampered, "csrf_token": token}, headers=HTML)
    assert response.status_code == 422
    errors = _errors(response)
    assert len(errors) == 1 and errors[0].startswith("收据无效：") and reason in errors[0], errors
    assert 'class="govuk-error-summary"' in response.text and 'href="#receipt"' in response.text
    assert unescape(re.search(r'<textarea[^>]*>(.*?)</textarea>', response.text, re.S).group(1)) == tampered
    assert "收据有效" not in response.text


def test_a_receipt_signed_by_another_key_is_refused_on_the_page(client, recorded):
    leaf, _ = recorded
    parsed = receipt.parse_receipt(client.get(f"/ledger/receipts/{leaf}.txt").content)
    stranger, _ = note.generate_signer(ledger.log_origin())
    forged = receipt.build_receipt(entry=parsed.entry, index=parsed.index, proof=parsed.proof,
                                   signed_checkpoint=note.sign_note(parsed.checkpoint.body(), [stranger]))
    token = helpers.csrf(client, "/verify")
    response = client.post("/verify", data={"receipt": forged.decode(), "csrf_token": token}, headers=HTML)
    assert response.status_code == 422 and "所信任的账本密钥" in _errors(response)[0]


def test_the_form_needs_exactly_one_receipt(client, recorded):
    leaf, _ = recorded
    data = client.get(f"/ledger/receipts/{leaf}.txt").content
    token = helpers.csrf(client, "/verify")
    empty = client.post("/verify", data={"receipt": "  ", "csrf_token": token}, headers=HTML)
    assert empty.status_code == 422 and _errors(empty) == ["请粘贴收据内容或上传收据文件"]
    no_file = client.post("/verify", data={"receipt": "", "csrf_token": token},
                          files={"receipt_file": ("", b"", "application/octet-stream")}, headers=HTML)
    assert no_file.status_code == 422 and _errors(no_file) == ["请粘贴收据内容或上传收据文件"]
    both = client.post("/verify", data={"receipt": data.decode(), "csrf_token": token},
                       files={"receipt_file": ("r.tlog-proof", data, "text/plain")}, headers=HTML)
    assert both.status_code == 422 and _errors(both) == ["请只粘贴收据或只上传文件，不要两者都提供"]
    big = client.post("/verify", data={"receipt": "", "csrf_token": token},
                      files={"receipt_file": ("big.txt", b"x" * (receipt.MAX_RECEIPT_BYTES + 1), "text/plain")}, headers=HTML)
    assert big.status_code == 422 and _errors(big) == ["收据文件过大，不是本平台的收据"]


def test_the_verify_form_needs_its_csrf_token(client):
    response = client.post("/verify", data={"receipt": "x"}, headers={"accept": "application/json"})
    assert response.status_code == 403 and response.json()["type"] == "/problems/csrf"


def test_looking_up_a_leaf_shows_its_inclusion_and_the_downloads(client, recorded):
    leaf, org_id = recorded
    page = client.get(f"/verify?leaf={leaf}", headers=HTML)
    assert page.status_code == 200
    assert f'href="/ledger/receipts/{leaf}.txt"' in page.text and f'href="/ledger/receipts/{leaf}.pdf"' in page.text
    assert str(org_id) in page.text and "e_license.retrieved" in page.text and 'id="lookup-index"' in page.text
    missing = client.get(f"/verify?leaf={'0' * 64}", headers=HTML)
    assert missing.status_code == 404 and 'id="lookup-error"' in missing.text
    bad = client.get("/verify?leaf=nonsense", headers=HTML)
    assert bad.status_code == 422 and "64位十六进制数" in bad.text


def test_the_verdict_reads_in_english(client, recorded):
    leaf, _ = recorded
    client.cookies.set("oz_lang", "en")
    data = client.get(f"/ledger/receipts/{leaf}.txt").text
    token = helpers.csrf(client, "/verify")
    ok = client.post("/verify", data={"receipt": data, "csrf_token": token}, headers=HTML)
    assert "The receipt is valid" in ok.text and "Event type" in ok.text and '<html lang="en"' in ok.text
    bad = client.post("/verify", data={"receipt": data.replace("index ", "index 1"), "csrf_token": token}, headers=HTML)
    assert _errors(bad)[0].startswith("The receipt is not valid: The receipt is malformed")
