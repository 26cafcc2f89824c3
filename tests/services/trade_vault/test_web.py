"""Trade vault pages: upload (single and batch), documents, dossiers, withdrawal, sharing, bank staff, profile, AEO."""

from __future__ import annotations

import io
import json
import re
import zipfile

from pypdf import PdfReader

from openzone.core import ledger
from openzone.core.ledger import receipt
from openzone.db import transaction
from openzone.services.trade_vault import profile, sharing
from openzone.services.trade_vault.models import Document
from tests import helpers
from tests.services.trade_vault.builders import SAMPLES, SHIPMENTS, VECTORS

HTML = {"accept": "text/html"}


def _firm_client(client):
    person, org = helpers.make_user("staff")
    helpers.login(client, person.email)
    return person, org


def _upload(client, path, name=None, **data):
    token = helpers.csrf(client, "/trade-vault/upload")
    return client.post("/trade-vault/upload", headers=HTML, follow_redirects=False,
                       data={"csrf_token": token, **data}, files={"file": (name or path.name, path.read_bytes())})


def test_upload_one_file_then_see_it_with_fields_receipt_and_retention(client):
    _firm_client(client)
    made = _upload(client, VECTORS / "ubl_examples/invoice/UBL-Invoice-2.1-Example.xml", tags="欧盟,重点客户")
    assert made.status_code == 303
    page = client.get(made.headers["location"], headers=HTML)
    assert page.status_code == 200
    assert "TOSL108" in page.text and "Buyercompany ltd" in page.text and "2019-12-15" in page.text
    assert "/ledger/receipts/" in page.text and "重点客户" in page.text
    listed = client.get("/trade-vault", params={"q": "TOSL108"}, headers=HTML)
    assert "UBL-Invoice-2.1-Example.xml" in listed.text
    filtered = client.get("/trade-vault", params={"category": "transport"}, headers=HTML)
    assert "UBL-Invoice-2.1-Example.xml" not in filtered.text
    assert client.get("/trade-vault", params={"date_from": "2026-13-01"}, headers=HTML).status_code == 400


def test_upload_errors_are_clear_and_keep_nothing(client):
    _, org = _firm_client(client)
    bad = _upload(client, VECTORS / "ubl_examples/invoice/ERR-11_BII04_minimal_invoice_example_01.xml")
    assert bad.status_code == 422 and "govuk-error-summary" in bad.text and "1430.50" in bad.text
    corrupt = _upload(client, SAMPLES / "SH1-contract.pdf", name="broken.pdf")
    assert corrupt.status_code == 303  # the real PDF is fine
    token = helpers.csrf(client, "/trade-vault/upload")
    broken = client.post("/trade-vault/upload", headers=HTML, data={"csrf_token": token},
                         files={"file": ("x.pdf", b"%PDF-1.4\n%broken beyond repair")})
    assert broken.status_code == 422 and "PDF" in broken.text
    with transaction() as session:
        assert session.query(Document).filter(Document.org_id == org.id).count() == 1


def test_batch_upload_lists_each_refused_file(client):
    _firm_client(client)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in SHIPMENTS["SH1"]:
            archive.writestr(path.name, path.read_bytes())
        archive.writestr("ERR-13.xml", (VECTORS / "ubl_examples/invoice/ERR-13_BII04_minimal_invoice_example_01.xml").read_bytes())
    token = helpers.csrf(client, "/trade-vault/upload")
    response = client.post("/trade-vault/upload", headers=HTML, data={"csrf_token": token},
                           files={"file": ("batch.zip", buf.getvalue())})
    assert response.status_code == 422
    assert "ERR-13.xml" in response.text and "1440.50" in response.text and "SH1-declaration.json" in response.text
    dossiers = client.get("/trade-vault/dossiers", headers=HTML)
    assert "报关单 010120260000000011" in dossiers.text
    link = re.search(r'href="(/trade-vault/dossiers/[0-9a-f-]+)"', dossiers.text).group(1)
    dossier = client.get(link, headers=HTML)
    assert "完整" in dossier.text and "SH1-bill-of-lading.json" in dossier.text


def test_withdrawal_is_refused_inside_retention(client):
    _firm_client(client)
    made = _upload(client, SAMPLES / "SH3-declaration.json")
    doc_path = made.headers["location"]
    page = client.get(doc_path, headers=HTML)
    assert "保存期限届满前不能撤回" in page.text
    token = helpers.csrf(client, doc_path)
    refused = client.post(f"{doc_path}/withdraw", headers=HTML, data={"csrf_token": token, "reason": "试试"})
    assert refused.status_code == 409 and "2029-05-20" in refused.text


def test_old_document_can_be_withdrawn_and_keeps_its_record(client):
    _firm_client(client)
    made = _upload(client, VECTORS / "ubl_examples/order/UBL-Order-2.0-Example.xml")
    doc_path = made.headers["location"]
    token = helpers.csrf(client, doc_path)
    done = client.post(f"{doc_path}/withdraw", headers=HTML, data={"csrf_token": token, "reason": "保存期满"},
                       follow_redirects=False)
    assert done.status_code == 303
    page = client.get(doc_path, headers=HTML)
    assert "已撤回" in page.text and "保存期满" in page.text and "撤回回执" in page.text
    assert client.get(f"{doc_path}/file").status_code == 200


def test_category_and_dossier_can_be_changed(client):
    _firm_client(client)
    doc_path = _upload(client, SAMPLES / "SH3-declaration.json").headers["location"]
    token = helpers.csrf(client, doc_path)
    assert client.post(f"{doc_path}/category", headers=HTML, follow_redirects=False,
                       data={"csrf_token": token, "category": "licence", "tags": "原产地"}).status_code == 303
    assert client.post(f"{doc_path}/dossier", headers=HTML, follow_redirects=False,
                       data={"csrf_token": token, "dossier": "", "new_title": "手工归档"}).status_code == 303
    page = client.get(doc_path, headers=HTML)
    assert "手工归档" in page.text and "原产地" in page.text
    bad = client.post(f"{doc_path}/category", headers=HTML, data={"csrf_token": token, "category": "nonsense"})
    assert bad.status_code == 422


def test_profile_page_pdf_and_aeo(client):
    _, org = _firm_client(client)
    for name in ("SH1", "SH2"):
        for path in SHIPMENTS[name]:
            assert _upload(client, path).status_code == 303
    page = client.get("/trade-vault/profile", headers=HTML)
    assert page.status_code == 200 and "<svg" in page.text and "不一致" in page.text and "Buyercompany ltd" in page.text
    token = helpers.csrf(client, "/trade-vault/profile")
    made = client.post("/trade-vault/profile/report", headers=HTML, data={"csrf_token": token}, follow_redirects=False)
    assert made.status_code == 303
    pdf = client.get(made.headers["location"])
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "可信画像报告" in text and "verify?" in text and "一致性核查" in text
    aeo = client.get("/trade-vault/aeo", headers=HTML)
    assert aeo.status_code == 200 and "未经核实" in aeo.text and "可完整追溯的报关单不足 20 份" in aeo.text
    with transaction() as session:
        ledger.integrate(session)
    package = zipfile.ZipFile(io.BytesIO(client.get("/trade-vault/aeo/audit.zip").content))
    manifest = json.loads(package.read("manifest.json"))["documents"]
    assert len(manifest) == 11 and all(m["receipt"] for m in manifest)
    traced = json.loads(package.read("sample-declarations.json"))
    assert [t["complete"] for t in traced] == [True, False]
    for m in manifest:
        assert package.read(m["path"])
        verdict = receipt.verify_receipt(package.read(m["receipt"]), log_keys=[ledger.log_signer().verifier()], quorum=0)
        assert verdict.fields.digests["document"] == f"sha256:{m['sha256']}"
    with transaction() as session:
        score = profile.aeo_score(session, org.id)
        assert score["passed"] < score["total"]


def test_sharing_pages_grant_revoke_and_bank_view(client):
    person, org = _firm_client(client)
    bank_person, bank = helpers.make_user("staff", kind="bank")
    _upload(client, SAMPLES / "SH3-declaration.json")
    token = helpers.csrf(client, "/trade-vault/sharing")
    bad = client.post("/trade-vault/sharing", headers=HTML, data={"csrf_token": token, "bank": "", "kind": "trade_dossier"})
    assert bad.status_code == 422 and "govuk-error-summary" in bad.text
    made = client.post("/trade-vault/sharing", headers=HTML, follow_redirects=False, data={
        "csrf_token": token, "bank": str(bank.id), "kind": "trade_dossier", "resource": "", "fields": ["customs_declarations"],
        "purpose": "summary-tax-guarantee", "days": "30", "mode": "periodic"})
    assert made.status_code == 303, made.text
    page = client.get("/trade-vault/sharing", headers=HTML)
    assert "汇总征税保函" in page.text and "active" in page.text
    grant_id = re.search(r'/trade-vault/sharing/([0-9a-f-]+)/revoke', page.text).group(1)
    helpers.login(client, bank_person.email)
    bank_page = client.get("/trade-vault/bank", headers=HTML)
    assert bank_page.status_code == 200 and "/api/v1/trade-vault/shared/dossiers/*" in bank_page.text
    # Bank staff cannot open the firm's vault; firm staff cannot open the bank page.
    assert client.get("/trade-vault", headers={"accept": "application/json"}).status_code == 403
    helpers.login(client, person.email)
    assert client.get("/trade-vault/bank", headers={"accept": "application/json"}).status_code == 403
    token = helpers.csrf(client, "/trade-vault/sharing")
    assert client.post(f"/trade-vault/sharing/{grant_id}/revoke", headers=HTML, data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    with transaction() as session:
        assert [g.status for g in sharing.grants(session, org.id)] == ["revoked"]


def test_other_firms_documents_are_not_found(client):
    _firm_client(client)
    doc_path = _upload(client, SAMPLES / "SH3-declaration.json").headers["location"]
    _firm_client(client)
    assert client.get(doc_path, headers={"accept": "application/json"}).status_code == 404
    assert client.get(f"{doc_path}/file", headers={"accept": "application/json"}).status_code == 404
