"""The batch filing path: the same rows, dossiers, ledger entries and search hits as filing one by one."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import uuid
import zipfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pytest
from sqlalchemy import select

from openzone.core import ledger
from openzone.services.trade_vault import domain, service
from openzone.services.trade_vault.models import Document, Dossier, DossierKey
from tests.services.trade_vault.builders import SAMPLES, SHIPMENTS, VECTORS

ERR = VECTORS / "ubl_examples/invoice/ERR-11_BII04_minimal_invoice_example_01.xml"
WAYBILL = VECTORS / "ubl_examples/waybill/UBL-Waybill-2.0-Example-International.xml"
INVOICE_20 = VECTORS / "ubl_examples/invoice/UBL-Invoice-2.0-Example.xml"
# Every shipment of the demo, a refused file and a repeated one; the waybill and the 2.0 invoice open two dossiers
# that SH2's declaration then folds into one, and the export declarations make rebate sets.
FILES = [WAYBILL, INVOICE_20, *SHIPMENTS["SH1"], ERR, *(p for p in SHIPMENTS["SH2"] if p not in (INVOICE_20, WAYBILL)),
         *SHIPMENTS["SH3"], SHIPMENTS["SH1"][0]]
COLUMNS = ("sha256", "size", "file_kind", "doc_type", "number", "category", "category_manual", "tags", "fields", "text",
           "issued_on", "currency", "total", "counterparty", "country", "retention_start_on", "retain_until",
           "retention_rule", "rebate_set", "sample", "source", "withdrawn_at")
QUERIES = ("TOSL108", "发票", "提单", "报关单", "笔记本电脑", "IYT CORPORATION", "CN")


def _uploads() -> list[service.Upload]:
    return [service.Upload(p.name, p.read_bytes(), "contract" if p.name == "SH1-contract.pdf" else None,
                           ("数据标签",) if p.suffix == ".json" else ()) for p in FILES]


def _one_by_one(session, org: uuid.UUID) -> list[tuple[str, str]]:
    refused = []
    for upload in _uploads():
        try:
            service.file_document(session, org_id=org, filename=upload.filename, data=upload.data, source="api",
                                  category=upload.category, tags=upload.tags)
        except service.Problem as problem:
            refused.append((upload.filename, problem.type))
    return refused


def _state(session, org: uuid.UUID) -> dict:
    """Describe everything filing left for a firm, by file name (ids and times differ between two runs)."""
    docs = {d.filename: d for d in session.scalars(select(Document).where(Document.org_id == org))}
    by_id = {d.id: name for name, d in docs.items()}
    rows = {name: tuple(getattr(d, c) for c in COLUMNS) for name, d in docs.items()}
    dossiers = {}
    for dossier in session.scalars(select(Dossier).where(Dossier.org_id == org)):
        members = frozenset(name for name, d in docs.items() if d.dossier_id == dossier.id)
        keys = frozenset((k.key_type, k.value) for k in session.scalars(
            select(DossierKey).where(DossierKey.dossier_id == dossier.id)))
        dossiers[members] = (dossier.title, keys)
    entries = []
    for entry in session.scalars(select(ledger.Entry).where(ledger.Entry.actor_org_id == org).order_by(ledger.Entry.seq)):
        body = json.loads(entry.body)
        body["data"]["document"] = by_id[uuid.UUID(body["data"]["document"])]
        entries.append((body["type"], body["digests"], body["data"]))
    leaves = {name: d.leaf_hash for name, d in docs.items()}
    assert all(session.scalar(select(ledger.Entry.event_type).where(ledger.Entry.leaf_hash == bytes.fromhex(h)))
               == service.FILED for h in leaves.values())
    hits = {}
    for query in QUERIES:
        results, found = service.search_documents(session, org, query=query, per_page=50)
        hits[query] = (results.total, results.mode, sorted(found[h.key].filename for h in results.hits),
                       sorted((name, tuple(values)) for name, values in results.facets.items()))
    return {"rows": rows, "dossiers": dossiers, "entries": entries, "hits": hits}


def test_batch_files_as_one_by_one_does(session):
    single, batch = uuid.uuid4(), uuid.uuid4()
    refused_single = _one_by_one(session, single)
    report = service.file_documents(session, org_id=batch, uploads=_uploads(), source="api")
    assert [(name, p.type) for name, p in report.refused] == refused_single == [
        (ERR.name, "trade-vault-document-invalid"), (SHIPMENTS["SH1"][0].name, "trade-vault-document-exists")]
    assert [f.document.filename for f in report.filed] == [p.name for p in FILES if p not in (ERR,)][:-1]
    expected, got = _state(session, single), _state(session, batch)
    assert got["rows"] == expected["rows"]
    assert got["dossiers"] == expected["dossiers"]
    assert got["entries"] == expected["entries"]
    assert got["hits"] == expected["hits"]
    # A bulk writer's batch, which reads nothing back, leaves the same rows, dossiers, entries and search hits.
    bulk = uuid.uuid4()
    quiet = service.file_documents(session, org_id=bulk, uploads=_uploads(), source="api", load=False)
    assert quiet.filed == [] and quiet.count == len(report.filed) and len(quiet.refused) == 2
    assert _state(session, bulk) == got
    # The cases the comparison is meant to cover did occur: a fold of two dossiers, a rebate set, a manual category.
    assert any({WAYBILL.name, INVOICE_20.name} <= members for members in got["dossiers"])
    assert any(row[COLUMNS.index("rebate_set")] and row[COLUMNS.index("category")] == "contract"
               for row in got["rows"].values())
    assert got["rows"]["SH1-contract.pdf"][COLUMNS.index("category_manual")]


def test_batch_joins_and_folds_dossiers_filed_before(session):
    single, batch = uuid.uuid4(), uuid.uuid4()
    for org in (single, batch):
        service.file_document(session, org_id=org, filename=WAYBILL.name, data=WAYBILL.read_bytes())
        service.file_document(session, org_id=org, filename=INVOICE_20.name, data=INVOICE_20.read_bytes())
    rest = [p for p in SHIPMENTS["SH2"] if p not in (INVOICE_20, WAYBILL)]
    for p in rest:
        service.file_document(session, org_id=single, filename=p.name, data=p.read_bytes())
    report = service.file_documents(session, org_id=batch, uploads=[service.Upload(p.name, p.read_bytes()) for p in rest])
    assert not report.refused
    expected, got = _state(session, single), _state(session, batch)
    assert got == expected
    assert len(got["dossiers"]) == 1
    # The returned dossier is the one the documents ended in, with its title as stored.
    dossier = report.filed[-1].dossier
    assert dossier is not None and dossier.title == session.get(Dossier, dossier.id).title
    assert {f.document.dossier_id for f in report.filed} == {dossier.id}


def _indexed(session, org: uuid.UUID) -> dict[str, tuple]:
    """Describe each document's search entry by file name: fields, folded text, filters (the dossier as its members)."""
    from openzone.core.search.models import SearchDocument, SearchFilterValue

    docs = {str(d.id): d for d in session.scalars(select(Document).where(Document.org_id == org))}
    members: dict[str, frozenset[str]] = {}
    for d in docs.values():
        members[str(d.dossier_id)] = members.get(str(d.dossier_id), frozenset()) | {d.filename}
    out = {}
    for entry in session.scalars(select(SearchDocument).where(SearchDocument.index_name == service.INDEX,
                                                              SearchDocument.doc_key.in_(list(docs)))):
        doc = docs[entry.doc_key]
        filters = set()
        for name, value in session.execute(select(SearchFilterValue.field, SearchFilterValue.value)
                                           .where(SearchFilterValue.document_id == entry.id)):
            if name == "org":
                assert value == str(org)
            elif name == "dossier":
                # The filter follows the document, moved or not.
                assert value == (str(doc.dossier_id) if doc.dossier_id else "none")
                filters.add((name, members.get(value, frozenset())))
            else:
                filters.add((name, value))
        out[doc.filename] = (entry.fields, entry.folded, frozenset(filters))
    return out


def test_bulk_batches_that_read_nothing_back_index_as_one_by_one_does_across_a_fold(session):
    single, bulk = uuid.uuid4(), uuid.uuid4()
    files = [WAYBILL, INVOICE_20, *(p for p in SHIPMENTS["SH2"] if p not in (INVOICE_20, WAYBILL))]
    for p in files:
        service.file_document(session, org_id=single, filename=p.name, data=p.read_bytes())
    # The first batch opens two dossiers; the second folds them into one, moving the first batch's documents.
    for part in (files[:2], files[2:]):
        report = service.file_documents(session, org_id=bulk, uploads=[service.Upload(p.name, p.read_bytes()) for p in part],
                                        load=False)
        assert report.count == len(part) and not report.refused and report.filed == []
    expected, got = _indexed(session, single), _indexed(session, bulk)
    assert set(got) == {p.name for p in files}
    assert got == expected
    assert len({v for entry in got.values() for k, v in entry[2] if k == "dossier"}) == 1


def test_a_dead_worker_leaves_the_batch_to_this_process(session):
    broken = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    with pytest.raises(BrokenProcessPool):
        broken.submit(os._exit, 1).result()
    uploads = _uploads()
    fallback, local = service.prepare_files(uploads, pool=broken), service.prepare_files(uploads)
    broken.shutdown()
    assert [type(p) for p in fallback] == [type(p) for p in local]
    assert [p for p in fallback if isinstance(p, service.Prepared)] == [p for p in local if isinstance(p, service.Prepared)]


def test_a_worker_that_cannot_store_blobs_leaves_them_to_the_writer(tmp_path, monkeypatch):
    uploads = [service.Upload(p.name, p.read_bytes()) for p in SHIPMENTS["SH1"]]
    blocked = tmp_path / "not-a-folder"
    blocked.write_bytes(b"")
    done = service._prepare_in_worker(uploads, "", domain.LIMITS, blocked)
    assert all(p is not None and not p.blob_stored for p in done)
    root = tmp_path / "blobs"
    stored = service._prepare_in_worker(uploads, "", domain.LIMITS, root)
    assert all(p.blob_stored for p in stored) and stored == done  # blob_stored is not part of equality
    # A blob in place whose folders may not be durable yet: the writer's store syncs its folders again.
    synced = []
    real = service.fsync_path
    monkeypatch.setattr(service, "fsync_path", lambda path: (synced.append(path), real(path))[1])
    sha = stored[0].sha256
    service.store_blobs({sha: uploads[0].data}, root=root)
    assert synced == []
    service.store_blobs({sha: uploads[0].data}, root=root, sync_existing=True)
    assert set(synced) == {root / sha[:2] / sha[2:4], root / sha[:2], root}


def test_a_refused_file_leaves_nothing_and_the_rest_is_filed(session):
    org = uuid.uuid4()
    corrupt = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage"
    invoice = (VECTORS / "ubl_examples/invoice/UBL-Invoice-2.1-Example.xml").read_bytes()
    report = service.file_documents(session, org_id=org, uploads=[
        service.Upload("bad.pdf", corrupt), service.Upload("inv.xml", invoice), service.Upload("again.xml", invoice),
        service.Upload("batch.zip", _zip({"a.xml": invoice}))])
    assert [f.document.filename for f in report.filed] == ["inv.xml"]
    refused = {name: p for name, p in report.refused}
    assert refused["bad.pdf"].type == "trade-vault-pdf-refused"
    assert refused["batch.zip"].type == "trade-vault-file-refused"
    # A file repeated within the batch is refused as it would be after the first was filed, naming the first.
    assert refused["again.xml"].type == "trade-vault-document-exists"
    assert refused["again.xml"].extensions["document_id"] == str(report.filed[0].document.id)
    assert not service.blob_path(hashlib.sha256(corrupt).hexdigest()).exists()
    assert session.scalar(select(Document.id).where(Document.org_id == org, Document.filename == "bad.pdf")) is None


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buf.getvalue()


def test_worker_processes_give_the_same_results(session):
    uploads = _uploads()
    with service.parsing_pool(1) as pool:
        pooled = service.prepare_files(uploads, pool=pool)
    # The workers stored the accepted files' blobs in the blob store, and nothing of the refused one.
    accepted = [p for p in pooled if isinstance(p, service.Prepared)]
    assert accepted and all(p.blob_stored and service.blob_path(p.sha256).is_file() for p in accepted)
    assert not service.blob_path(hashlib.sha256(ERR.read_bytes()).hexdigest()).exists()
    local = service.prepare_files(uploads)
    # A refused file comes back with its problem raised in this process, with its own type.
    assert [type(p) for p in pooled] == [type(p) for p in local]
    assert [p for p in pooled if isinstance(p, service.Prepared)] == [p for p in local if isinstance(p, service.Prepared)]
    assert isinstance(pooled[FILES.index(ERR)], domain.DocumentInvalid)
    org = uuid.uuid4()
    report = service.file_documents(session, org_id=org, uploads=uploads, prepared=pooled)
    assert len(report.filed) == len(FILES) - 2
    assert {service.read_blob(f.document.sha256) for f in report.filed} == {u.data for u in uploads if u.data != ERR.read_bytes()}
    with pytest.raises(ValueError):
        service.file_documents(session, org_id=org, uploads=uploads, prepared=pooled[:1])


def test_blobs_are_stored_once_and_read_back(session):
    datas = [(SAMPLES / "SH1-declaration.json").read_bytes(), (SAMPLES / "SH2-declaration.json").read_bytes()]
    blobs = {hashlib.sha256(d).hexdigest(): d for d in datas}
    service.store_blobs(blobs)
    service.store_blobs(blobs)
    for sha, data in blobs.items():
        assert service.read_blob(sha) == data
        assert not list(service.blob_path(sha).parent.glob(".*.tmp"))
