"""Trade vault use cases: file documents (blob store, parsing, ledger, search), dossiers, retention and withdrawal."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core import ledger, search
from openzone.kit.errors import NotFound, Problem, ValidationFailed, problem
from openzone.kit.time import today_cst, utcnow
from openzone.services.trade_vault import domain
from openzone.services.trade_vault.models import Blob, Document, Dossier, DossierKey

INDEX = "tradevault"
FILED = "trade_vault.document.filed"
WITHDRAWN = "trade_vault.document.withdrawn"
RECLASSIFIED = "trade_vault.document.reclassified"
SOURCES = frozenset({"web", "api", "demo", "bench"})
MAX_TAGS = 20

DocumentExists = problem("trade-vault-document-exists", 409, "该文件已存档", "This file is already on file")
RetentionActive = problem("trade-vault-retention-active", 409, "保存期限内的单证不能撤回",
                          "A document inside its retention period cannot be withdrawn")
AlreadyWithdrawn = problem("trade-vault-withdrawn", 409, "该单证已撤回", "The document has already been withdrawn")

# pypdf reports recoverable damage through logging; the vault refuses what it cannot read instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)

# ------------------------------------------------------------------------------------------------ blob store


def blob_root() -> Path:
    """Return the folder of the content-addressed blob store (under the configured var_dir)."""
    return get_settings().var_dir / "trade_vault" / "blobs"


def blob_path(sha256: str) -> Path:
    """Return where the blob with this SHA-256 lives: two levels of fan-out keep folders small."""
    return blob_root() / sha256[:2] / sha256[2:4] / sha256


def store_blob(data: bytes) -> str:
    """Write bytes under their SHA-256 (temporary file, fsync, rename) and return the hex digest; idempotent."""
    sha = hashlib.sha256(data).hexdigest()
    path = blob_path(sha)
    if path.exists():
        return sha
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{sha}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    # rename is atomic within one file system: readers see the whole blob or none.
    os.replace(tmp, path)
    return sha


BlobMissing = problem("trade-vault-blob-missing", 500, "存储的文件缺失或已损坏", "The stored file is missing or damaged")


def read_blob(sha256: str) -> bytes:
    """Read a blob and check it still hashes to its name."""
    try:
        data = blob_path(sha256).read_bytes()
    except FileNotFoundError as exc:
        raise BlobMissing() from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise BlobMissing()
    return data


# ------------------------------------------------------------------------------------------------ PDF text


def pdf_text(data: bytes, limits: domain.Limits = domain.LIMITS) -> str:
    """Extract a PDF's text with pypdf within page and character limits; refuse a corrupt or oversized PDF."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return ""
        pages = reader.pages
        if len(pages) > limits.max_pdf_pages:
            raise domain.PdfRefused(f"PDF 超过 {limits.max_pdf_pages} 页上限", f"The PDF has more than {limits.max_pdf_pages} pages",
                                    errors=[{"field": "file", "code": "pdf_pages"}])
        chunks, size = [], 0
        for page in pages:
            text = page.extract_text() or ""
            chunks.append(text)
            size += len(text)
            if size >= limits.max_text_chars:
                break
        return "\n".join(chunks)[: limits.max_text_chars]
    except domain.PdfRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OSError) as exc:
        raise domain.PdfRefused("PDF 文件已损坏，无法读取", "The PDF is corrupt and cannot be read",
                                errors=[{"field": "file", "code": "pdf_corrupt"}]) from exc


# ------------------------------------------------------------------------------------------------ search index


def _doc_for(session: Session, doc: Document) -> search.Document:
    f = doc.fields or {}
    refs = " ".join(f.get("references", {}).values()) if f else ""
    label = domain.CATEGORY_LABELS[domain.Category(doc.category)]
    parties = " ".join(p.get("name", "") for p in f.get("parties", [])) if f else ""
    filters: dict[str, str | list[str]] = {
        "org": str(doc.org_id), "category": doc.category, "status": "withdrawn" if doc.withdrawn_at else "filed",
        "dossier": str(doc.dossier_id) if doc.dossier_id else "none",
    }
    if doc.counterparty:
        filters["counterparty"] = doc.counterparty
    if doc.issued_on:
        filters["year"] = str(doc.issued_on.year)
        filters["month"] = doc.issued_on.strftime("%Y-%m")
    return search.Document(key=str(doc.id), fields={
        "code": " ".join(x for x in (doc.number, refs, " ".join(f.get("hs_codes", []))) if x),
        "title": f"{doc.filename} {label[0]} {label[1]} {doc.counterparty}",
        "keywords": " ".join([*(doc.tags or []), parties]),
        "body": doc.text or ""}, filters=filters)


def _load_all(session: Session) -> Iterator[search.Document]:
    for doc in session.scalars(select(Document).order_by(Document.id)):
        yield _doc_for(session, doc)


def _load_one(session: Session, key: str) -> search.Document | None:
    try:
        doc = session.get(Document, uuid.UUID(key))
    except ValueError:
        return None
    return _doc_for(session, doc) if doc is not None else None


SPEC = search.register_index(search.IndexSpec(
    name=INDEX,
    fields=(search.Field("code", search.Weight.CODE), search.Field("title", search.Weight.TITLE),
            search.Field("keywords", search.Weight.KEYWORDS), search.Field("body", search.Weight.BODY)),
    filters=("org", "category", "status", "dossier", "counterparty", "year", "month"),
    facets=("category", "year"),
    load_all=_load_all, load_one=_load_one,
))

# ------------------------------------------------------------------------------------------------ filing


@dataclass
class Filed:
    """Say what filing one file produced: the document and whether it joined or opened a dossier."""

    document: Document
    dossier: Dossier | None


@dataclass
class BatchReport:
    """List the files of a batch that were filed and those refused, each with its problem."""

    filed: list[Filed] = field(default_factory=list)
    refused: list[tuple[str, Problem]] = field(default_factory=list)


def _counterparty(parsed: domain.Parsed | None, own_name: str) -> tuple[str, str]:
    if parsed is None:
        return "", ""
    others = [p for p in parsed.parties if p.name and p.name != own_name]
    for role in ("buyer", "overseas", "consignee", "seller", "consignor", "shipper", "carrier"):
        for p in others:
            if p.role == role:
                return p.name[:200], p.country[:8]
    return (others[0].name[:200], others[0].country[:8]) if others else ("", "")


def _clean_tags(tags: Iterable[str]) -> list[str]:
    out: list[str] = []
    for tag in tags:
        tag = tag.strip()[:40]
        if tag and tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise ValidationFailed(f"标签最多 {MAX_TAGS} 个", f"At most {MAX_TAGS} tags", errors=[{"field": "tags", "code": "too_many"}])
    return out


def _start_on(parsed: domain.Parsed | None) -> dt.date:
    # Customs audit runs from release (海关稽查条例 art. 2); other records from their date; undated ones from filing.
    if parsed is not None:
        released = parsed.extra.get("released_on")
        if released:
            return dt.date.fromisoformat(released)
        if parsed.issued_on:
            return parsed.issued_on
    return today_cst()


def file_document(session: Session, *, org_id: uuid.UUID, filename: str, data: bytes, source: str = "web",
                  uploaded_by: uuid.UUID | None = None, category: str | None = None, tags: Sequence[str] = (),
                  own_name: str = "", limits: domain.Limits = domain.LIMITS) -> Filed:
    """File one (non-ZIP) document: check and parse it, store its blob, record it on the ledger, index and group it."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    filename = (Path(filename.replace("\\", "/")).name or "document")[:255]
    kind = domain.sniff(data, filename, limits)
    if kind is domain.FileKind.ZIP:
        raise domain.FileRefused("压缩包请用批量上传", "Upload ZIP batches through the batch upload",
                                 errors=[{"field": "file", "code": "zip_single"}])
    extracted = domain.read_structured(kind, data, filename)
    parsed = extracted.parsed
    text = parsed.text() if parsed else ""
    if kind is domain.FileKind.PDF:
        text = pdf_text(data, limits)
    chosen = extracted.category if parsed else domain.classify(filename=filename, text=text)
    if category:
        try:
            chosen = domain.Category(category)
        except ValueError as exc:
            raise ValidationFailed("未知的单证类别", "Unknown document category",
                                   errors=[{"field": "category", "code": "enum"}]) from exc
    tags_clean = _clean_tags(tags)
    sha = hashlib.sha256(data).hexdigest()
    existing = session.scalar(select(Document).where(Document.org_id == org_id, Document.sha256 == sha))
    if existing is not None:
        raise DocumentExists(f"相同内容的文件已存档：{existing.filename}", f"A file with the same content is on file: {existing.filename}",
                             document_id=str(existing.id), errors=[{"field": "file", "code": "duplicate"}])
    references = dict(parsed.references) if parsed else domain.references_in_text(text)
    fields = parsed.to_json() if parsed else {"references": references, "parties": [], "lines": [], "hs_codes": []}
    if parsed is None and kind is domain.FileKind.PDF:
        qty = domain.packages_in_text(text)
        if qty is not None:
            fields["quantity"] = str(qty)
    counterparty, country = _counterparty(parsed, own_name)
    start = _start_on(parsed)
    supervision = parsed.extra.get("supervision_until") if parsed else None
    rebate = chosen is domain.Category.EXPORT_REBATE or "出口退税" in tags_clean
    kept = domain.retention(chosen, start_on=start, rebate_set=rebate,
                            supervision_until=dt.date.fromisoformat(supervision) if supervision else None)
    # The blob is written only after every check passed; a later database failure leaves at most an unreferenced
    # blob, which is harmless in a content-addressed store (the next upload of those bytes reuses it).
    store_blob(data)
    if session.get(Blob, sha) is None:
        session.add(Blob(sha256=sha, size=len(data), media_type=domain.MEDIA_TYPES[kind]))
    doc = Document(id=uuid.uuid4(), org_id=org_id, sha256=sha, filename=filename, size=len(data), file_kind=kind.value,
                   doc_type=parsed.doc_type if parsed else "", number=(parsed.number if parsed else "")[:100],
                   category=chosen.value, category_manual=bool(category), tags=tags_clean, fields=fields,
                   text=text, issued_on=parsed.issued_on if parsed else None,
                   currency=(parsed.currency if parsed else "")[:3],
                   total=str(parsed.total) if parsed and parsed.total is not None else "",
                   counterparty=counterparty, country=country, retention_start_on=start, retain_until=kept.until,
                   retention_rule=kept.rule.code, rebate_set=rebate, sample=bool(parsed and parsed.sample),
                   source=source, uploaded_by=uploaded_by, leaf_hash="")
    session.add(doc)
    session.flush()
    recorded = ledger.record(session, FILED, actor_org_id=org_id, digests={"document": f"sha256:{sha}"}, data={
        "document": str(doc.id), "category": doc.category, "doc_type": doc.doc_type, "size": doc.size,
        "retain_until": doc.retain_until.isoformat(), "sample": doc.sample})
    doc.leaf_hash = recorded.leaf_hash.hex()
    dossier = _group(session, doc, references)
    if parsed is not None and parsed.extra.get("direction") == "export" and dossier is not None:
        _mark_rebate_set(session, dossier)
    search.index_document(session, index=INDEX, doc=_doc_for(session, doc))
    session.flush()
    return Filed(doc, dossier)


def file_batch(session: Session, *, org_id: uuid.UUID, filename: str, data: bytes, source: str = "web",
               uploaded_by: uuid.UUID | None = None, own_name: str = "", limits: domain.Limits = domain.LIMITS) -> BatchReport:
    """File every file of a ZIP batch, each in its own savepoint: a refused file leaves nothing behind."""
    if domain.sniff(data, filename, limits) is not domain.FileKind.ZIP:
        raise domain.FileRefused("批量上传须为 ZIP 压缩包", "A batch upload must be a ZIP file",
                                 errors=[{"field": "file", "code": "not_zip"}])
    report = BatchReport()
    for member in domain.unpack_zip(data, limits):
        try:
            with session.begin_nested():
                report.filed.append(file_document(session, org_id=org_id, filename=member.name, data=member.data,
                                                  source=source, uploaded_by=uploaded_by, own_name=own_name,
                                                  limits=limits))
        except Problem as refused:
            report.refused.append((member.name, refused))
    return report


# ------------------------------------------------------------------------------------------------ dossiers


TITLE_ORDER = ("declaration", "contract", "invoice", "bl", "order")
TITLE_LABELS = {"contract": "合同", "order": "订单", "invoice": "发票", "bl": "提单", "declaration": "报关单"}


def _title(keys: dict[str, str]) -> str:
    for key in TITLE_ORDER:
        if key in keys:
            return f"{TITLE_LABELS[key]} {keys[key]}"[:200]
    return "业务档案"


def _rank_of_title(title: str) -> int:
    for rank, key in enumerate(TITLE_ORDER):
        if title.startswith(TITLE_LABELS[key] + " "):
            return rank
    return len(TITLE_ORDER)


def _group(session: Session, doc: Document, references: dict[str, str]) -> Dossier | None:
    """Put a document in the dossier its reference numbers point to; open one, or merge dossiers the document joins."""
    keys = {k: v[:64] for k, v in domain.dossier_keys(references).items()}
    if not keys:
        return None
    rows = list(session.scalars(select(DossierKey).where(DossierKey.org_id == doc.org_id, or_(
        *[(DossierKey.key_type == k) & (DossierKey.value == v) for k, v in keys.items()]))))
    ids = sorted({r.dossier_id for r in rows})
    if not ids:
        dossier = Dossier(id=uuid.uuid4(), org_id=doc.org_id, title=_title(keys))
        session.add(dossier)
        session.flush()
    else:
        dossier = session.get(Dossier, ids[0])
        # A document naming keys of two dossiers shows they are one shipment: fold the later ones into the first.
        for other in ids[1:]:
            moved = list(session.scalars(select(Document).where(Document.dossier_id == other)))
            session.execute(update(Document).where(Document.dossier_id == other).values(dossier_id=dossier.id))
            session.execute(update(DossierKey).where(DossierKey.dossier_id == other).values(dossier_id=dossier.id))
            session.execute(delete(Dossier).where(Dossier.id == other))
            # Only the moved documents' dossier filter changed.
            for doc_moved in moved:
                doc_moved.dossier_id = dossier.id
                search.index_document(session, index=INDEX, doc=_doc_for(session, doc_moved))
    have = {(r.key_type, r.value) for r in rows}
    for k, v in keys.items():
        if (k, v) not in have:
            session.add(DossierKey(org_id=doc.org_id, dossier_id=dossier.id, key_type=k, value=v))
    doc.dossier_id = dossier.id
    dossier.updated_at = utcnow()
    session.flush()
    # The title follows the strongest key the dossier has (a declaration number names a shipment best). Only this
    # document's keys can be stronger than the current title's, so no query over the dossier's keys is needed.
    if _rank_of_title(dossier.title) > min(TITLE_ORDER.index(k) for k in keys if k in TITLE_ORDER):
        dossier.title = _title(keys)
    return dossier


def _mark_rebate_set(session: Session, dossier: Dossier) -> None:
    """Extend the retention of a dossier's contracts and transport documents once an export declaration joins it."""
    for doc in session.scalars(select(Document).where(Document.dossier_id == dossier.id,
                                                      Document.category.in_(["contract", "transport"]))):
        kept = domain.retention(domain.Category(doc.category), start_on=doc.retention_start_on, rebate_set=True)
        doc.rebate_set = True
        if kept.until > doc.retain_until:
            doc.retain_until, doc.retention_rule = kept.until, kept.rule.code


@dataclass(frozen=True)
class Completeness:
    """Say which categories of the required set a dossier has and which it lacks."""

    present: tuple[str, ...]
    missing: tuple[domain.Category, ...]

    @property
    def complete(self) -> bool:
        """Say whether nothing is missing."""
        return not self.missing

    @property
    def share(self) -> int:
        """Return the percentage of the required set present."""
        total = len(domain.REQUIRED_SET)
        return round(100 * (total - len(self.missing)) / total)


def completeness(session: Session, dossier_id: uuid.UUID) -> Completeness:
    """Check a dossier against the document set a shipment needs (withdrawn documents do not count)."""
    present = sorted(set(session.scalars(select(Document.category).where(Document.dossier_id == dossier_id,
                                                                         Document.withdrawn_at.is_(None)))))
    return Completeness(tuple(present), tuple(domain.missing_categories(present)))


def dossiers(session: Session, org_id: uuid.UUID) -> list[Dossier]:
    """List a firm's dossiers, newest activity first."""
    return list(session.scalars(select(Dossier).where(Dossier.org_id == org_id).order_by(Dossier.updated_at.desc())))


def get_dossier(session: Session, org_id: uuid.UUID, dossier_id: uuid.UUID) -> Dossier:
    """Return a firm's dossier, or NotFound (also for another firm's)."""
    dossier = session.get(Dossier, dossier_id)
    if dossier is None or dossier.org_id != org_id:
        raise NotFound("未找到该业务档案", "No such dossier")
    return dossier


def dossier_documents(session: Session, dossier_id: uuid.UUID) -> list[Document]:
    """List a dossier's documents by category and date."""
    return list(session.scalars(select(Document).where(Document.dossier_id == dossier_id)
                                .order_by(Document.category, Document.created_at)))


def dossier_keys_of(session: Session, dossier_id: uuid.UUID) -> list[DossierKey]:
    """List the reference numbers that define a dossier."""
    return list(session.scalars(select(DossierKey).where(DossierKey.dossier_id == dossier_id)
                                .order_by(DossierKey.key_type, DossierKey.value)))


def relink(session: Session, *, org_id: uuid.UUID, document_id: uuid.UUID, dossier_id: uuid.UUID | None,
           new_title: str = "") -> Document:
    """Move a document by hand into another dossier of the firm, a new one (new_title) or none."""
    doc = get_document(session, org_id, document_id)
    if new_title.strip():
        dossier = Dossier(id=uuid.uuid4(), org_id=org_id, title=new_title.strip()[:200])
        session.add(dossier)
        session.flush()
        doc.dossier_id = dossier.id
    elif dossier_id is not None:
        doc.dossier_id = get_dossier(session, org_id, dossier_id).id
    else:
        doc.dossier_id = None
    search.index_document(session, index=INDEX, doc=_doc_for(session, doc))
    session.flush()
    return doc


# ------------------------------------------------------------------------------------------------ documents


def get_document(session: Session, org_id: uuid.UUID, document_id: uuid.UUID) -> Document:
    """Return a firm's document, or NotFound (also for another firm's)."""
    doc = session.get(Document, document_id)
    if doc is None or doc.org_id != org_id:
        raise NotFound("未找到该单证", "No such document")
    return doc


def list_documents(session: Session, org_id: uuid.UUID, *, category: str = "", counterparty: str = "",
                   dossier_id: uuid.UUID | None = None, date_from: dt.date | None = None, date_to: dt.date | None = None,
                   limit: int = 50, offset: int = 0) -> tuple[int, list[Document]]:
    """List a firm's documents with filters, newest first; return the total and one page."""
    q = select(Document).where(Document.org_id == org_id)
    if category:
        q = q.where(Document.category == category)
    if counterparty:
        q = q.where(Document.counterparty == counterparty)
    if dossier_id:
        q = q.where(Document.dossier_id == dossier_id)
    if date_from:
        q = q.where(Document.issued_on >= date_from)
    if date_to:
        q = q.where(Document.issued_on <= date_to)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = list(session.scalars(q.order_by(Document.created_at.desc(), Document.id).limit(limit).offset(offset)))
    return total, rows


def _months(date_from: dt.date, date_to: dt.date) -> list[str]:
    if (date_to.year - date_from.year) * 12 + date_to.month - date_from.month > 240:
        raise ValidationFailed("日期范围最长 20 年", "The date range spans at most 20 years",
                               errors=[{"field": "date_from", "code": "range"}])
    months, y, m = [], date_from.year, date_from.month
    while (y, m) <= (date_to.year, date_to.month):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def search_documents(session: Session, org_id: uuid.UUID, *, query: str, category: str = "", counterparty: str = "",
                     dossier_id: uuid.UUID | None = None, date_from: dt.date | None = None,
                     date_to: dt.date | None = None, page: int = 1, per_page: int = 20) -> tuple[search.Results, dict[str, Document]]:
    """Search a firm's documents (fields and extracted text) with filters; return results and the hit documents."""
    filters: dict[str, list[str]] = {"org": [str(org_id)]}
    if category:
        filters["category"] = [category]
    if counterparty:
        filters["counterparty"] = [counterparty]
    if dossier_id:
        filters["dossier"] = [str(dossier_id)]
    if date_from or date_to:
        # Month filters: documents are dated to the day, but the index filters by month; pages trim the ends.
        filters["month"] = _months(date_from or dt.date(2000, 1, 1), date_to or today_cst())
    results = search.search(session, index=INDEX, query=query, filters=filters, page=page, per_page=per_page)
    ids = [uuid.UUID(h.key) for h in results.hits]
    found = {str(d.id): d for d in session.scalars(select(Document).where(Document.id.in_(ids), Document.org_id == org_id))}
    if date_from or date_to:
        found = {k: d for k, d in found.items() if d.issued_on and (not date_from or d.issued_on >= date_from)
                 and (not date_to or d.issued_on <= date_to)}
    return results, found


def counterparties(session: Session, org_id: uuid.UUID) -> list[str]:
    """List a firm's counterparties for the filter."""
    return sorted(n for n in session.scalars(select(Document.counterparty).where(Document.org_id == org_id,
                                                                                 Document.counterparty != "").distinct()))


def set_category(session: Session, *, org_id: uuid.UUID, document_id: uuid.UUID, category: str,
                 tags: Sequence[str] | None = None) -> Document:
    """Change a document's category (and tags); retention never shortens, and the change goes on the ledger."""
    doc = get_document(session, org_id, document_id)
    try:
        chosen = domain.Category(category)
    except ValueError as exc:
        raise ValidationFailed("未知的单证类别", "Unknown document category", errors=[{"field": "category", "code": "enum"}]) from exc
    if tags is not None:
        doc.tags = _clean_tags(tags)
    if chosen.value != doc.category:
        kept = domain.retention(chosen, start_on=doc.retention_start_on, rebate_set=doc.rebate_set)
        previous = doc.category
        doc.category, doc.category_manual = chosen.value, True
        # Retention already promised is kept: a relabelled document may gain time but never lose it.
        if kept.until > doc.retain_until:
            doc.retain_until, doc.retention_rule = kept.until, kept.rule.code
        ledger.record(session, RECLASSIFIED, actor_org_id=org_id, digests={"document": f"sha256:{doc.sha256}"},
                      data={"document": str(doc.id), "from": previous, "to": doc.category,
                            "retain_until": doc.retain_until.isoformat()})
    search.index_document(session, index=INDEX, doc=_doc_for(session, doc))
    session.flush()
    return doc


def withdraw(session: Session, *, org_id: uuid.UUID, document_id: uuid.UUID, reason: str,
             today: dt.date | None = None) -> Document:
    """Withdraw a document past its retention period; its record, blob and receipt stay, and the ledger says so."""
    doc = get_document(session, org_id, document_id)
    if doc.withdrawn_at is not None:
        raise AlreadyWithdrawn()
    today = today or today_cst()
    if today <= doc.retain_until:
        raise RetentionActive(f"该单证须保存至 {doc.retain_until.isoformat()}（{doc.retention_rule}），期内不能撤回",
                              f"The document must be kept until {doc.retain_until.isoformat()} ({doc.retention_rule})",
                              retain_until=doc.retain_until.isoformat(), errors=[{"field": "reason", "code": "retention"}])
    if not reason.strip():
        raise ValidationFailed("请填写撤回原因", "Give a reason for the withdrawal", errors=[{"field": "reason", "code": "required"}])
    doc.withdrawn_at = utcnow()
    doc.withdrawn_reason = reason.strip()[:2000]
    recorded = ledger.record(session, WITHDRAWN, actor_org_id=org_id, digests={"document": f"sha256:{doc.sha256}"},
                             data={"document": str(doc.id), "filed_entry": doc.leaf_hash})
    doc.withdrawn_leaf = recorded.leaf_hash.hex()
    search.index_document(session, index=INDEX, doc=_doc_for(session, doc))
    session.flush()
    return doc


def document_bytes(session: Session, org_id: uuid.UUID, document_id: uuid.UUID) -> tuple[Document, bytes]:
    """Return a firm's document with its stored bytes."""
    doc = get_document(session, org_id, document_id)
    return doc, read_blob(doc.sha256)


def stats(session: Session, org_id: uuid.UUID) -> dict[str, int]:
    """Count a firm's documents by category."""
    rows = session.execute(select(Document.category, func.count()).where(Document.org_id == org_id)
                           .group_by(Document.category))
    return {c: n for c, n in rows}


def decimal_or_none(text: str) -> Decimal | None:
    """Turn stored decimal text back into a Decimal (empty text is None)."""
    return Decimal(text) if text else None
