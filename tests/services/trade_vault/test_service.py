"""Trade vault use cases on a real database: filing, blobs, ledger receipts, dossiers, retention, search."""

from __future__ import annotations

import datetime as dt
import io
import uuid
import zipfile

import pytest
from sqlalchemy import func, select

from openzone.core import ledger
from openzone.core.ledger import receipt, receipt_service
from openzone.kit.errors import Problem
from openzone.services.trade_vault import domain, service
from openzone.services.trade_vault.models import Document, DossierKey
from tests.services.trade_vault.builders import SAMPLES, VECTORS, file_shipment

INVOICE = VECTORS / "ubl_examples/invoice/UBL-Invoice-2.1-Example.xml"


def test_filing_stores_blob_records_ledger_and_indexes(session):
    org = uuid.uuid4()
    data = INVOICE.read_bytes()
    filed = service.file_document(session, org_id=org, filename="invoice.xml", data=data)
    doc = filed.document
    assert doc.category == "invoice" and doc.number == "TOSL108" and doc.total == "729" and doc.currency == "EUR"
    assert service.read_blob(doc.sha256) == data
    assert service.blob_path(doc.sha256).name == doc.sha256
    entry = session.scalar(select(ledger.Entry).where(ledger.Entry.event_type == service.FILED).order_by(ledger.Entry.seq.desc()))
    assert entry is not None and doc.sha256 in entry.body.decode()
    # Tax records: 10 years from the invoice date (税收征收管理法实施细则 art. 29), the longest rule that applies.
    assert doc.retain_until == dt.date(2019, 12, 15) and doc.retention_rule == "tax_records"
    results, found = service.search_documents(session, org, query="TOSL108")
    assert results.total >= 1
    assert str(doc.id) in found
    _results, found = service.search_documents(session, org, query="发票")
    assert str(doc.id) in found
    # Another firm sees nothing of it.
    assert not service.search_documents(session, uuid.uuid4(), query="TOSL108")[1]


def test_duplicate_file_is_refused(session):
    org = uuid.uuid4()
    data = INVOICE.read_bytes()
    service.file_document(session, org_id=org, filename="a.xml", data=data)
    with pytest.raises(service.DocumentExists):
        service.file_document(session, org_id=org, filename="b.xml", data=data)


def _count(session, org):
    return session.scalar(select(func.count()).select_from(Document).where(Document.org_id == org))


def test_corrupt_pdf_leaves_nothing(session):
    org = uuid.uuid4()
    data = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> garbage without xref"
    with pytest.raises(domain.PdfRefused):
        service.file_document(session, org_id=org, filename="bad.pdf", data=data)
    assert _count(session, org) == 0
    assert not service.blob_path(__import__("hashlib").sha256(data).hexdigest()).exists()


def test_business_rule_breach_is_refused_and_nothing_stored(session):
    org = uuid.uuid4()
    data = (VECTORS / "ubl_examples/invoice/ERR-11_BII04_minimal_invoice_example_01.xml").read_bytes()
    with pytest.raises(domain.DocumentInvalid) as caught:
        service.file_document(session, org_id=org, filename="err.xml", data=data)
    assert caught.value.extensions["rule"] == "line_total"
    assert _count(session, org) == 0


def test_pdf_text_is_extracted_and_linked(session):
    org = uuid.uuid4()
    filed = service.file_document(session, org_id=org, filename="SH1-packing-list.pdf",
                                  data=(SAMPLES / "SH1-packing-list.pdf").read_bytes())
    assert "TOSL108" in filed.document.text and filed.document.category == "packing_list"
    assert filed.document.fields["references"]["invoice"] == "TOSL108"


def test_shipment_dossier_groups_and_is_complete(session):
    org = uuid.uuid4()
    docs = file_shipment(session, org, "SH1")
    dossier_ids = {d.dossier_id for d in docs}
    assert len(dossier_ids) == 1 and None not in dossier_ids
    check = service.completeness(session, dossier_ids.pop())
    assert check.complete and check.share == 100
    # The export declaration makes the dossier a rebate set: its contract and B/L are kept 10 years.
    contract = next(d for d in docs if d.category == "contract")
    assert contract.rebate_set and contract.retention_rule == "export_rebate"


def test_incomplete_dossier_lists_missing(session):
    org = uuid.uuid4()
    docs = file_shipment(session, org, "SH2")
    dossier = {d.dossier_id for d in docs}
    assert len(dossier) == 1
    check = service.completeness(session, dossier.pop())
    assert [c.value for c in check.missing] == ["contract"]


def test_two_dossiers_merge_when_a_document_joins_them(session):
    org = uuid.uuid4()
    waybill = VECTORS / "ubl_examples/waybill/UBL-Waybill-2.0-Example-International.xml"
    a = service.file_document(session, org_id=org, filename="waybill.xml", data=waybill.read_bytes())
    b = service.file_document(session, org_id=org, filename="inv.xml",
                              data=(VECTORS / "ubl_examples/invoice/UBL-Invoice-2.0-Example.xml").read_bytes())
    assert a.dossier.id != b.dossier.id
    c = service.file_document(session, org_id=org, filename="decl.json", data=(SAMPLES / "SH2-declaration.json").read_bytes())
    session.refresh(a.document)
    session.refresh(b.document)
    assert a.document.dossier_id == b.document.dossier_id == c.document.dossier_id
    keys = session.scalars(select(DossierKey.key_type).where(DossierKey.dossier_id == c.dossier.id))
    assert {"bl", "invoice", "declaration", "order"} <= set(keys)


def test_manual_relink(session):
    org = uuid.uuid4()
    doc = service.file_document(session, org_id=org, filename="inv.xml", data=INVOICE.read_bytes()).document
    moved = service.relink(session, org_id=org, document_id=doc.id, dossier_id=None, new_title="手工档案")
    assert moved.dossier_id != doc.fields and moved.dossier_id is not None
    assert service.get_dossier(session, org, moved.dossier_id).title == "手工档案"
    with pytest.raises(Problem):
        service.relink(session, org_id=uuid.uuid4(), document_id=doc.id, dossier_id=None)


def test_zip_batch_files_good_and_reports_bad(session):
    org = uuid.uuid4()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("good/invoice.xml", INVOICE.read_bytes())
        archive.writestr("bad/err.xml", (VECTORS / "ubl_examples/invoice/ERR-13_BII04_minimal_invoice_example_01.xml").read_bytes())
        archive.writestr("unknown.bin", b"MZ not a document")
    report = service.file_batch(session, org_id=org, filename="batch.zip", data=buf.getvalue())
    assert [f.document.filename for f in report.filed] == ["invoice.xml"]
    assert {name: p.type for name, p in report.refused} == {"bad/err.xml": "trade-vault-document-invalid",
                                                            "unknown.bin": "trade-vault-file-type"}
    assert _count(session, org) == 1


def test_withdrawal_refused_inside_retention_and_keeps_record(session):
    org = uuid.uuid4()
    doc = service.file_document(session, org_id=org, filename="decl.json",
                                data=(SAMPLES / "SH1-declaration.json").read_bytes()).document
    with pytest.raises(service.RetentionActive):
        service.withdraw(session, org_id=org, document_id=doc.id, reason="错误上传", today=doc.retain_until)
    after = doc.retain_until + dt.timedelta(days=1)
    with pytest.raises(Problem):
        service.withdraw(session, org_id=org, document_id=doc.id, reason=" ", today=after)
    service.withdraw(session, org_id=org, document_id=doc.id, reason="保存期满", today=after)
    kept = session.get(Document, doc.id)
    assert kept.withdrawn_at is not None and kept.withdrawn_leaf and kept.leaf_hash
    assert service.read_blob(kept.sha256)
    with pytest.raises(service.AlreadyWithdrawn):
        service.withdraw(session, org_id=org, document_id=doc.id, reason="again", today=after)


def test_reclassification_never_shortens_retention(session):
    org = uuid.uuid4()
    doc = service.file_document(session, org_id=org, filename="inv.xml", data=INVOICE.read_bytes()).document
    before = doc.retain_until
    service.set_category(session, org_id=org, document_id=doc.id, category="other", tags=["数据标签", "欧盟"])
    assert doc.category == "other" and doc.retain_until == before and doc.tags == ["数据标签", "欧盟"]


def test_receipt_of_filing_verifies_offline(session):
    org = uuid.uuid4()
    doc = service.file_document(session, org_id=org, filename="inv.xml", data=INVOICE.read_bytes()).document
    session.flush()
    ledger.integrate(session)
    issued = receipt_service.issue(session, bytes.fromhex(doc.leaf_hash))
    verdict = receipt.verify_receipt(issued.data, log_keys=[ledger.log_signer().verifier()], quorum=0)
    assert verdict.fields.digests["document"] == f"sha256:{doc.sha256}" and verdict.fields.type == service.FILED


def _file(session, org, path, **kw):
    return service.file_document(session, org_id=org, filename=path.name, data=path.read_bytes(), **kw).document


def test_documents_filed_after_the_export_declaration_join_its_rebate_set(session):
    # The export declaration comes first; the contract and B/L filed afterwards belong to the same rebate set and are
    # kept 10 years (domain-rules.md §7), just as when they come before it.
    org = uuid.uuid4()
    declaration = _file(session, org, SAMPLES / "SH1-declaration.json")
    contract = _file(session, org, SAMPLES / "SH1-contract.pdf")
    bill = _file(session, org, SAMPLES / "SH1-bill-of-lading.json")
    assert contract.dossier_id == bill.dossier_id == declaration.dossier_id
    for doc in (contract, bill):
        assert doc.rebate_set and doc.retention_rule == "export_rebate"
        assert doc.retain_until == domain.add_years(doc.retention_start_on, 10)


def test_a_document_linked_or_relabelled_into_a_rebate_set_is_kept_ten_years(session):
    org = uuid.uuid4()
    contract = _file(session, org, SAMPLES / "SH1-contract.pdf")
    assert not contract.rebate_set and contract.retention_rule == "customs_audit"
    declaration = _file(session, org, SAMPLES / "SH3-declaration.json")
    assert declaration.dossier_id != contract.dossier_id
    # Moved by hand into the other shipment's dossier, it joins that rebate set.
    service.relink(session, org_id=org, document_id=contract.id, dossier_id=declaration.dossier_id)
    assert contract.rebate_set and contract.retain_until == domain.add_years(contract.retention_start_on, 10)
    # Moved out again, it keeps the retention already promised.
    service.relink(session, org_id=org, document_id=contract.id, dossier_id=None)
    assert contract.retain_until == domain.add_years(contract.retention_start_on, 10)
    # A packing list in a rebate set is not covered; relabelled as a transport document, it is.
    packing = _file(session, org, SAMPLES / "SH1-packing-list.pdf")
    service.relink(session, org_id=org, document_id=packing.id, dossier_id=declaration.dossier_id)
    assert not packing.rebate_set
    service.set_category(session, org_id=org, document_id=packing.id, category="transport")
    assert packing.rebate_set and packing.retention_rule == "export_rebate"
    with pytest.raises(service.RetentionActive):
        service.withdraw(session, org_id=org, document_id=packing.id, reason="x",
                         today=domain.add_years(packing.retention_start_on, 5))
