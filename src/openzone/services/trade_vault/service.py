"""Trade vault use cases: file documents (blob store, parsing, ledger, search), dossiers, retention and withdrawal."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import logging
import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Uuid, bindparam, delete, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core import ledger, search
from openzone.db import get_engine, insert_many, refresh_statistics, transaction
from openzone.kit.errors import NotFound, Problem, ValidationFailed, problem
from openzone.kit.files import fsync_path
from openzone.kit.ids import new_id
from openzone.kit.time import today_cst, utcnow
from openzone.services.trade_vault import domain
from openzone.services.trade_vault.models import Blob, Document, Dossier, DossierKey

INDEX = "tradevault"
FILED = "trade_vault.document.filed"
WITHDRAWN = "trade_vault.document.withdrawn"
RECLASSIFIED = "trade_vault.document.reclassified"
SOURCES = frozenset({"web", "api", "demo", "import", "bench"})
MAX_TAGS = 20
# Rows or values per statement in bulk reads and writes (well under SQLite's and PostgreSQL's parameter limits).
CHUNK = 500
REBATE_SET_CATEGORIES = ("contract", "transport")
DECLARATION_TYPE = "cn:customs-declaration"

DocumentExists = problem("trade-vault-document-exists", 409, "该文件已存档", "This file is already on file")
RetentionActive = problem("trade-vault-retention-active", 409, "保存期限内的单证不能撤回",
                          "A document inside its retention period cannot be withdrawn")
AlreadyWithdrawn = problem("trade-vault-withdrawn", 409, "该单证已撤回", "The document has already been withdrawn")

# pypdf reports recoverable damage through logging; the vault refuses what it cannot read instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)
log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------------------ blob store


def blob_root() -> Path:
    """Return the folder of the content-addressed blob store (under the configured var_dir)."""
    return get_settings().var_dir / "trade_vault" / "blobs"


def blob_path(sha256: str, root: Path | None = None) -> Path:
    """Return where the blob with this SHA-256 lives: two levels of fan-out keep folders small."""
    return (root or blob_root()) / sha256[:2] / sha256[2:4] / sha256


FSYNC_THREADS = 16


def store_blobs(blobs: Mapping[str, bytes], root: Path | None = None, *, sync_existing: bool = False) -> None:
    """Write blobs under their SHA-256 names: temporary files, fsynced together, renamed, each folder fsynced once.

    A blob already in place is left as it is; with sync_existing its folders are fsynced too, for a blob that another
    process may have renamed into place without making its folder entry durable yet (it failed or died in between).
    """
    todo: list[tuple[Path, Path]] = []
    folders: set[Path] = set()
    root = root or blob_root()
    try:
        for sha, data in blobs.items():
            path = blob_path(sha, root)
            if path.exists():
                if sync_existing:
                    folders.update((path.parent, path.parent.parent, root))
                continue
            if not path.parent.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                # A new folder's name lives in its parent folders: make those durable too.
                folders.update((path.parent.parent, root))
            tmp = path.with_name(f".{sha}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
            todo.append((tmp, path))
            tmp.write_bytes(data)
            folders.add(path.parent)
        if not todo and not folders:
            return
        # fsync waits for the disk; fsyncs issued together share journal commits (on this machine's ext4, 300 files
        # take 0.06 s from 16 threads against 0.74 s one after another).
        with ThreadPoolExecutor(max_workers=min(FSYNC_THREADS, len(todo) + len(folders))) as threads:
            list(threads.map(fsync_path, [tmp for tmp, _ in todo]))
            for tmp, path in todo:
                # rename is atomic within one file system: readers see the whole blob or none.
                os.replace(tmp, path)
            todo = []
            list(threads.map(fsync_path, sorted(folders)))
    finally:
        for tmp, _ in todo:
            tmp.unlink(missing_ok=True)


def store_blob(data: bytes) -> str:
    """Write bytes under their SHA-256 (temporary file, fsync, rename, folder fsync) and return the digest; idempotent."""
    sha = hashlib.sha256(data).hexdigest()
    store_blobs({sha: data})
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


def _search_fields(*, number: str, fields: Mapping[str, Any] | None, category: str, filename: str, counterparty: str,
                   tags: Sequence[str] | None, text: str | None) -> dict[str, str]:
    f = fields or {}
    refs = " ".join(f.get("references", {}).values())
    label = domain.CATEGORY_LABELS[domain.Category(category)]
    parties = " ".join(p.get("name", "") for p in f.get("parties", []))
    return {"code": " ".join(x for x in (number, refs, " ".join(f.get("hs_codes", []))) if x),
            "title": f"{filename} {label[0]} {label[1]} {counterparty}",
            "keywords": " ".join([*(tags or []), parties]),
            "body": text or ""}


def _doc_for(session: Session, doc: Document, analysis: search.FieldAnalysis | None = None) -> search.Document:
    filters: dict[str, str | list[str]] = {
        "org": str(doc.org_id), "category": doc.category, "status": "withdrawn" if doc.withdrawn_at else "filed",
        "dossier": str(doc.dossier_id) if doc.dossier_id else "none",
    }
    if doc.counterparty:
        filters["counterparty"] = doc.counterparty
    if doc.issued_on:
        filters["year"] = str(doc.issued_on.year)
        filters["month"] = doc.issued_on.strftime("%Y-%m")
    fields = _search_fields(number=doc.number, fields=doc.fields, category=doc.category, filename=doc.filename,
                            counterparty=doc.counterparty, tags=doc.tags, text=doc.text)
    return search.Document(key=str(doc.id), fields=fields, filters=filters, analysis=analysis)


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
    count: int = 0  # how many were filed (when the caller asked for no Filed objects, `filed` stays empty)


@dataclass(frozen=True)
class Upload:
    """Name one file to file, with the category and tags its uploader chose, if any."""

    filename: str
    data: bytes
    category: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """Hold what the checks and parsers made of one file: everything its rows need but the database's answers."""

    filename: str
    sha256: str
    size: int
    kind: domain.FileKind
    doc_type: str
    number: str
    issued_on: dt.date | None
    currency: str
    total: str
    sample: bool
    text: str
    category: domain.Category
    category_manual: bool
    tags: list[str]
    fields: dict[str, Any]
    references: dict[str, str]
    counterparty: str
    country: str
    start_on: dt.date
    retain_until: dt.date
    retention_rule: str
    rebate_set: bool
    # The search index's analysis of the document's texts, done here so that a worker process does it in bulk filing.
    analysis: search.FieldAnalysis
    # Whether a worker process has stored the blob durably already (file and folders fsynced).
    blob_stored: bool = field(default=False, compare=False)


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


def prepare(upload: Upload, *, own_name: str = "", limits: domain.Limits = domain.LIMITS) -> Prepared:
    """Check, parse and classify one (non-ZIP) file without touching the database or the blob store."""
    data = upload.data
    filename = (Path(upload.filename.replace("\\", "/")).name or "document")[:255]
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
    if upload.category:
        try:
            chosen = domain.Category(upload.category)
        except ValueError as exc:
            raise ValidationFailed("未知的单证类别", "Unknown document category",
                                   errors=[{"field": "category", "code": "enum"}]) from exc
    tags_clean = _clean_tags(upload.tags)
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
    number = (parsed.number if parsed else "")[:100]
    analysis = search.analyse_fields(INDEX, _search_fields(
        number=number, fields=fields, category=chosen.value, filename=filename, counterparty=counterparty,
        tags=tags_clean, text=text))
    return Prepared(
        filename=filename, sha256=hashlib.sha256(data).hexdigest(), size=len(data), kind=kind,
        doc_type=parsed.doc_type if parsed else "", number=number,
        issued_on=parsed.issued_on if parsed else None, currency=(parsed.currency if parsed else "")[:3],
        total=str(parsed.total) if parsed and parsed.total is not None else "", sample=bool(parsed and parsed.sample),
        text=text, category=chosen,
        category_manual=bool(upload.category), tags=tags_clean, fields=fields, references=references,
        counterparty=counterparty, country=country, start_on=start, retain_until=kept.until,
        retention_rule=kept.rule.code, rebate_set=rebate, analysis=analysis)


def _prepare_quietly(upload: Upload, own_name: str, limits: domain.Limits) -> Prepared | None:
    """Prepare one file in a worker process, or return None if it is refused."""
    try:
        return prepare(upload, own_name=own_name, limits=limits)
    except Exception:  # noqa: BLE001
        # Problem classes are made at run time and do not pickle: the caller prepares a refused file again in its
        # own process, where the same checks raise the same problem (or any other error) with its real type.
        return None


def _prepare_in_worker(uploads: Sequence[Upload], own_name: str, limits: domain.Limits, root: Path) -> list[Prepared | None]:
    """Prepare a share of a batch in a worker process and store the accepted files' blobs under the caller's root."""
    done = [_prepare_quietly(u, own_name, limits) for u in uploads]
    # Early, while the caller writes the previous batch: a blob is harmless before its rows exist (the same bytes are
    # the same blob). If storing fails, the files are left to the caller's store_blobs, which writes what is missing,
    # makes the folders of what is in place durable, or reports why it cannot.
    try:
        store_blobs({p.sha256: u.data for u, p in zip(uploads, done, strict=True) if p is not None}, root=root)
    except OSError:
        return done
    return [dataclasses.replace(p, blob_stored=True) if p is not None else None for p in done]


def parsing_pool(processes: int) -> ProcessPoolExecutor:
    """Start worker processes that check and parse files for file_documents (bulk writers only; close it after use)."""
    # spawn: the workers start clean, whatever threads or connections the caller holds.
    return ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"))


WORKER_SHARES = 8  # a pooled batch is cut into this many shares (at most SHARE_MAX files each) for the workers
SHARE_MAX = 64


def prepare_files(uploads: Sequence[Upload], *, own_name: str = "", limits: domain.Limits = domain.LIMITS,
                  pool: Executor | None = None) -> list[Prepared | Problem]:
    """Check and parse files: each one's Prepared, or the Problem refusing it.

    With a pool, its worker processes do the work in shares and store the accepted files' blobs as they go (the
    caller's file_documents then finds them stored); a refused file is checked again here to raise its problem.
    """
    done: list[Prepared | None] = [None] * len(uploads)
    if pool is not None and len(uploads) > 1:
        size = max(1, min(SHARE_MAX, -(-len(uploads) // WORKER_SHARES)))
        shares = [uploads[i:i + size] for i in range(0, len(uploads), size)]
        root = blob_root()
        try:
            done = [p for share in pool.map(_prepare_in_worker, shares, [own_name] * len(shares),
                                            [limits] * len(shares), [root] * len(shares)) for p in share]
        except BrokenProcessPool:
            # A worker died (killed, out of memory): this process prepares the files itself.
            log.warning("trade vault: a parsing worker died; %d files are prepared in the filing process", len(uploads))
            done = [None] * len(uploads)
    out: list[Prepared | Problem] = []
    for upload, result in zip(uploads, done, strict=True):
        if result is None:
            try:
                result = prepare(upload, own_name=own_name, limits=limits)
            except Problem as refused:
                out.append(refused)
                continue
        out.append(result)
    return out


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# Look-ups of a batch's values (digests, reference numbers) in a firm's rows. Written as a join of the values to the
# table so that each value is one probe of the table's unique index on any database: as `column IN (…500 values…)`
# PostgreSQL scanned all of a firm's rows of a key type and compared each with every value when its statistics were
# young (4.5 of 12 s of statements in a 10,000-document import).
_SHAS_ON_FILE = ("SELECT d.sha256, d.filename, d.id FROM wanted JOIN trade_vault_document AS d "
                 "ON d.org_id = :org AND d.sha256 = wanted.value")
_KEY_OWNERS = ("SELECT k.value, k.dossier_id FROM wanted JOIN trade_vault_dossier_key AS k "
               "ON k.org_id = :org AND k.key_type = :key_type AND k.value = wanted.value")


def _probe(session: Session, query: str, values: Sequence[str], org_id: uuid.UUID, **params: Any) -> Iterator[Any]:
    for chunk in _chunks(values):
        names = [f"w{i}" for i in range(len(chunk))]
        stmt = text(f"WITH wanted(value) AS (VALUES {', '.join(f'(:{n})' for n in names)}) {query}").bindparams(
            bindparam("org", type_=Uuid())).columns(id=Uuid(), dossier_id=Uuid())
        yield from session.execute(stmt, {"org": org_id, **params, **dict(zip(names, chunk, strict=True))})


def file_documents(session: Session, *, org_id: uuid.UUID, uploads: Sequence[Upload], source: str = "web",
                   uploaded_by: uuid.UUID | None = None, own_name: str = "", limits: domain.Limits = domain.LIMITS,
                   pool: Executor | None = None, prepared: Sequence[Prepared | Problem] | None = None,
                   load: bool = True) -> BatchReport:
    """File (non-ZIP) files together, each filed or refused as if filed one by one, with a few statements in all.

    Every file is checked and parsed first (in `pool`'s worker processes if given, or beforehand by prepare_files
    with the same own_name and limits, passed as `prepared`, so that a bulk writer can parse its next batch while this
    one is written); a refused file is reported with its problem and nothing of it is stored. The accepted ones are
    then written together: their blobs fsynced as one round, one multi-row insert per table, one ledger entry each
    (the ledger batches their inserts), dossiers grouped in memory in file order, and one search-index call.
    With load=False the filed documents are not read back (report.count says how many; a bulk import needs no more).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    report = BatchReport()
    if prepared is None:
        prepared = prepare_files(uploads, own_name=own_name, limits=limits, pool=pool)
    elif len(prepared) != len(uploads):
        raise ValueError("prepared must hold one result per upload")
    shas = sorted({p.sha256 for p in prepared if isinstance(p, Prepared)})
    on_file: dict[str, tuple[str, uuid.UUID]] = {}
    for sha, name, doc_id in _probe(session, _SHAS_ON_FILE, shas, org_id):
        on_file[sha] = (name, doc_id)
    accepted: list[tuple[Upload, Prepared, uuid.UUID]] = []
    for upload, p in zip(uploads, prepared, strict=True):
        if isinstance(p, Problem):
            report.refused.append((upload.filename, p))
            continue
        if p.sha256 in on_file:
            # A file filed earlier, or earlier in this batch, with the same bytes.
            name, doc_id = on_file[p.sha256]
            report.refused.append((upload.filename, DocumentExists(
                f"相同内容的文件已存档：{name}", f"A file with the same content is on file: {name}",
                document_id=str(doc_id), errors=[{"field": "file", "code": "duplicate"}])))
            continue
        doc_id = uuid.uuid4()
        on_file[p.sha256] = (p.filename, doc_id)
        accepted.append((upload, p, doc_id))
    if accepted:
        report.filed = _write(session, org_id=org_id, accepted=accepted, source=source, uploaded_by=uploaded_by, load=load)
        report.count = len(accepted)
    return report


def _write(session: Session, *, org_id: uuid.UUID, accepted: list[tuple[Upload, Prepared, uuid.UUID]], source: str,
           uploaded_by: uuid.UUID | None, load: bool = True) -> list[Filed]:
    session.flush()
    # Blobs are written only after every check passed (here, or by a bulk writer's worker before); a later database
    # failure leaves at most unreferenced blobs, harmless in a content-addressed store (the same bytes reuse them).
    store_blobs({p.sha256: u.data for u, p, _ in accepted if not p.blob_stored}, sync_existing=True)
    shas = sorted({p.sha256 for _, p, _ in accepted})
    stored: set[str] = set()
    for chunk in _chunks(shas):
        stored.update(session.scalars(select(Blob.sha256).where(Blob.sha256.in_(chunk))))
    now = utcnow()
    blobs = {p.sha256: {"sha256": p.sha256, "size": p.size, "media_type": domain.MEDIA_TYPES[p.kind], "created_at": now}
             for _, p, _ in accepted if p.sha256 not in stored}
    if blobs:
        insert_many(session, Blob.__table__, list(blobs.values()))
    grouping = _Grouping(session, org_id, [p.references for _, p, _ in accepted])
    rows: list[dict[str, Any]] = []
    for _, p, doc_id in accepted:
        # The entry states the retention promised at filing; a later rebate set extends it with no new entry.
        recorded = ledger.record(session, FILED, actor_org_id=org_id, digests={"document": f"sha256:{p.sha256}"}, data={
            "document": str(doc_id), "category": p.category.value, "doc_type": p.doc_type, "size": p.size,
            "retain_until": p.retain_until.isoformat(), "sample": p.sample})
        row = {"id": doc_id, "org_id": org_id, "sha256": p.sha256, "filename": p.filename, "size": p.size,
               "file_kind": p.kind.value, "doc_type": p.doc_type, "number": p.number, "category": p.category.value,
               "category_manual": p.category_manual, "tags": p.tags, "fields": p.fields, "text": p.text,
               "issued_on": p.issued_on, "currency": p.currency, "total": p.total, "counterparty": p.counterparty,
               "country": p.country, "dossier_id": None, "retention_start_on": p.start_on,
               "retain_until": p.retain_until, "retention_rule": p.retention_rule, "rebate_set": p.rebate_set,
               "sample": p.sample, "source": source, "uploaded_by": uploaded_by, "leaf_hash": recorded.leaf_hash.hex(),
               "withdrawn_at": None, "withdrawn_reason": "", "withdrawn_leaf": None, "created_at": utcnow()}
        rows.append(row)
        grouping.add(row, p.references)
    moved = grouping.write_dossiers()
    insert_many(session, Document.__table__, rows)
    grouping.write_keys()
    settle_rebate_sets(session, {row["dossier_id"] for row in rows if row["dossier_id"] is not None})
    analyses = {doc_id: p.analysis for _, p, doc_id in accepted}
    if not load:
        # The rows hold every column the search document is made of (the dossier ids as grouping left them).
        search.index_documents(session, index=INDEX, docs=[
            *(_doc_for(session, SimpleNamespace(**row), analyses[row["id"]]) for row in rows),
            *(_doc_for(session, d) for d in moved)])
        return []
    ids = [row["id"] for row in rows]
    docs: dict[uuid.UUID, Document] = {}
    for chunk in _chunks(ids):
        docs.update((d.id, d) for d in session.scalars(select(Document).where(Document.id.in_(chunk))))
    dossier_ids = sorted({d.dossier_id for d in docs.values() if d.dossier_id is not None})
    dossiers_by_id: dict[uuid.UUID, Dossier] = {}
    for chunk in _chunks(dossier_ids):
        dossiers_by_id.update((d.id, d) for d in session.scalars(
            select(Dossier).where(Dossier.id.in_(chunk)).execution_options(populate_existing=True)))
    search.index_documents(session, index=INDEX, docs=[_doc_for(session, d, analyses.get(d.id))
                                                       for d in [*(docs[i] for i in ids), *moved]])
    session.flush()
    return [Filed(docs[i], dossiers_by_id.get(docs[i].dossier_id) if docs[i].dossier_id else None) for i in ids]


def file_document(session: Session, *, org_id: uuid.UUID, filename: str, data: bytes, source: str = "web",
                  uploaded_by: uuid.UUID | None = None, category: str | None = None, tags: Sequence[str] = (),
                  own_name: str = "", limits: domain.Limits = domain.LIMITS) -> Filed:
    """File one (non-ZIP) document: check and parse it, store its blob, record it on the ledger, index and group it."""
    report = file_documents(session, org_id=org_id, uploads=[Upload(filename, data, category or None, tuple(tags))],
                            source=source, uploaded_by=uploaded_by, own_name=own_name, limits=limits)
    if report.refused:
        raise report.refused[0][1]
    return report.filed[0]


def file_batch(session: Session, *, org_id: uuid.UUID, filename: str, data: bytes, source: str = "web",
               uploaded_by: uuid.UUID | None = None, own_name: str = "", limits: domain.Limits = domain.LIMITS,
               pool: Executor | None = None) -> BatchReport:
    """File every file of a ZIP batch as file_documents does: a refused file is listed and leaves nothing behind."""
    if domain.sniff(data, filename, limits) is not domain.FileKind.ZIP:
        raise domain.FileRefused("批量上传须为 ZIP 压缩包", "A batch upload must be a ZIP file",
                                 errors=[{"field": "file", "code": "not_zip"}])
    members = domain.unpack_zip(data, limits)
    return file_documents(session, org_id=org_id, uploads=[Upload(m.name, m.data) for m in members], source=source,
                          uploaded_by=uploaded_by, own_name=own_name, limits=limits, pool=pool)


BULK_BATCH = 500  # files per committed batch in bulk filing
BULK_BATCH_BYTES = 128 * 1024 * 1024  # and bytes: a batch of large files ends early (two are in memory at once)


def _batches(uploads: Iterable[Upload], size: int, max_bytes: int) -> Iterator[list[Upload]]:
    batch: list[Upload] = []
    held = 0
    for upload in uploads:
        if batch and held + len(upload.data) > max_bytes:
            yield batch
            batch, held = [], 0
        batch.append(upload)
        held += len(upload.data)
        if len(batch) >= size:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


@dataclass
class BulkReport:
    """Count the files a bulk filing filed and list those it refused, each with its problem."""

    filed: int = 0
    refused: list[tuple[str, Problem]] = field(default_factory=list)


def file_bulk(*, org_id: uuid.UUID, uploads: Iterable[Upload], batch: int = BULK_BATCH,
              batch_bytes: int = BULK_BATCH_BYTES, processes: int = 0,
              source: str = "import", own_name: str = "", limits: domain.Limits = domain.LIMITS,
              progress: Callable[[BulkReport], None] | None = None) -> BulkReport:
    """File many files in batches (of `batch` files, fewer if they hold over `batch_bytes`), each committed in a
    transaction of its own (a bulk import, a migration).

    Each batch is filed as file_documents files it. With `processes`, that many worker processes check and parse the
    files and store their blobs, the next batch while this one is written, so a machine's cores share the work (the
    database allows one writer at a time). A run that stops half-way can be started again with the same files: what
    was filed before is refused as already on file and nothing is filed twice. `progress` is called after each batch.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    report = BulkReport()
    batches = _batches(uploads, batch, batch_bytes)
    pool = parsing_pool(processes) if processes > 0 else None
    ahead = ThreadPoolExecutor(max_workers=1) if pool is not None else None
    try:
        current = next(batches, None)
        parsing = ahead.submit(prepare_files, current, own_name=own_name, limits=limits, pool=pool) \
            if ahead is not None and current else None
        while current:
            following = next(batches, None)
            prepared = None
            if parsing is not None:
                prepared = parsing.result()
                parsing = ahead.submit(prepare_files, following, own_name=own_name, limits=limits, pool=pool) \
                    if following else None
            with transaction() as session:
                done = file_documents(session, org_id=org_id, uploads=current, source=source, own_name=own_name,
                                      limits=limits, prepared=prepared, load=False)
            report.filed += done.count
            report.refused.extend(done.refused)
            if progress is not None:
                progress(report)
            current = following
        if report.filed:
            _refresh_statistics()
    finally:
        if ahead is not None:
            ahead.shutdown(cancel_futures=True)
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return report


def _refresh_statistics() -> None:
    # PostgreSQL only: autovacuum's ANALYZE follows a bulk load after a while, and until then searches ran on plans
    # made for the empty tables (up to 20 s each after 10,000 documents). Only an optimisation: the import is committed,
    # so a failure here is logged, not raised. SQLite keeps no statistics here; no write transaction is opened.
    if get_engine().dialect.name != "postgresql":
        return
    try:
        with transaction() as session:
            search.refresh_statistics(session)
            refresh_statistics(session, [Document.__table__, DossierKey.__table__, Dossier.__table__])
    except SQLAlchemyError:
        log.warning("trade_vault.refresh_statistics_failed", exc_info=True)


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


def _keys_of(references: Mapping[str, str]) -> dict[str, str]:
    return {k: v[:64] for k, v in domain.dossier_keys(references).items()}


class _Grouping:
    """Put a batch's documents into dossiers in file order, with the results of filing them one by one.

    A document joins the dossier its reference numbers point to, opens one, or shows that the dossiers it names are
    one shipment (they fold into the one with the smallest id).
    The stored keys are read with one query per key type; the batch's own dossiers live in memory until written.
    """

    def __init__(self, session: Session, org_id: uuid.UUID, references: Iterable[Mapping[str, str]]) -> None:
        self.session, self.org_id = session, org_id
        wanted: dict[str, set[str]] = {}
        for refs in references:
            for key_type, value in _keys_of(refs).items():
                wanted.setdefault(key_type, set()).add(value)
        # (key type, value) -> the dossier that holds it (maybe since folded into another: see find).
        self.owner: dict[tuple[str, str], uuid.UUID] = {}
        for key_type, values in wanted.items():
            for value, dossier_id in _probe(session, _KEY_OWNERS, sorted(values), org_id, key_type=key_type):
                self.owner[(key_type, value)] = dossier_id
        self.titles: dict[uuid.UUID, str] = {}
        for chunk in _chunks(sorted(set(self.owner.values()))):
            self.titles.update((i, t) for i, t in session.execute(select(Dossier.id, Dossier.title).where(Dossier.id.in_(chunk))))
        # Stored dossiers whose documents belong to each live dossier (itself, and those folded into it).
        self.stored: dict[uuid.UUID, set[uuid.UUID]] = {d: {d} for d in self.titles}
        self.opened: dict[uuid.UUID, dt.datetime] = {}
        self.updated: dict[uuid.UUID, dt.datetime] = {}
        self.parent: dict[uuid.UUID, uuid.UUID] = {}
        self.members: dict[uuid.UUID, list[dict[str, Any]]] = {}
        self.new_keys: list[tuple[str, str]] = []

    def find(self, dossier_id: uuid.UUID) -> uuid.UUID:
        """Return the live dossier a dossier was folded into (itself if it was not)."""
        while dossier_id in self.parent:
            dossier_id = self.parent[dossier_id]
        return dossier_id

    def add(self, row: dict[str, Any], references: Mapping[str, str]) -> None:
        """Give a document row its dossier, opening or folding dossiers as its reference numbers require."""
        keys = _keys_of(references)
        if not keys:
            return
        matched = sorted({self.find(self.owner[kv]) for kv in keys.items() if kv in self.owner})
        now = utcnow()
        if not matched:
            dossier_id = uuid.uuid4()
            self.opened[dossier_id] = now
            self.titles[dossier_id] = _title(keys)
        else:
            dossier_id = matched[0]
            # A document naming keys of two dossiers shows they are one shipment: fold the later ones into the first.
            for other in matched[1:]:
                self.parent[other] = dossier_id
                self.members.setdefault(dossier_id, []).extend(self.members.pop(other, []))
                self.stored.setdefault(dossier_id, set()).update(self.stored.pop(other, set()))
                self.updated.pop(other, None)
        for kv in keys.items():
            if kv not in self.owner:
                self.owner[kv] = dossier_id
                self.new_keys.append(kv)
        row["dossier_id"] = dossier_id
        self.members.setdefault(dossier_id, []).append(row)
        self.updated[dossier_id] = now
        # The title follows the strongest key the dossier has (a declaration number names a shipment best). Only this
        # document's keys can be stronger than the current title's.
        if _rank_of_title(self.titles[dossier_id]) > min(TITLE_ORDER.index(k) for k in keys if k in TITLE_ORDER):
            self.titles[dossier_id] = _title(keys)

    def write_dossiers(self) -> list[Document]:
        """Insert the batch's dossiers, update the stored ones it touched, fold merged ones; return moved documents."""
        session = self.session
        for live, rows in self.members.items():
            for row in rows:
                row["dossier_id"] = live
        opened = [{"id": d, "org_id": self.org_id, "title": self.titles[d], "updated_at": self.updated[d],
                   "created_at": when} for d, when in self.opened.items() if d not in self.parent]
        if opened:
            insert_many(session, Dossier.__table__, opened)
        touched = [{"b_id": d, "b_title": self.titles[d], "b_updated_at": when} for d, when in self.updated.items()
                   if d not in self.opened and d not in self.parent]
        if touched:
            table = Dossier.__table__
            session.execute(update(table).where(table.c.id == bindparam("b_id"))
                            .values(title=bindparam("b_title"), updated_at=bindparam("b_updated_at")), touched)
        folded = sorted(d for d in self.parent if d not in self.opened)
        moved: list[Document] = []
        for chunk in _chunks(folded):
            moved.extend(session.scalars(select(Document).where(Document.dossier_id.in_(chunk))))
        for doc in moved:
            # Only the moved documents' dossier (and so their search filter) changes.
            doc.dossier_id = self.find(doc.dossier_id)
        for other in folded:
            session.execute(update(DossierKey).where(DossierKey.dossier_id == other).values(dossier_id=self.find(other)))
        session.flush()
        for chunk in _chunks(folded):
            session.execute(delete(Dossier).where(Dossier.id.in_(chunk)))
        return moved

    def write_keys(self) -> None:
        """Insert the reference numbers the batch brought, each with its live dossier."""
        rows = [{"id": new_id(), "org_id": self.org_id, "dossier_id": self.find(self.owner[kv]), "key_type": kv[0],
                 "value": kv[1]} for kv in self.new_keys]
        if rows:
            insert_many(self.session, DossierKey.__table__, rows)


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


def settle_rebate_sets(session: Session, dossier_ids: Iterable[uuid.UUID]) -> None:
    """Make the contracts and transport documents of every dossier holding an export declaration a rebate set.

    An export declaration makes its shipment an export-rebate filing set, whose contracts and transport documents are
    kept 10 years (domain-rules.md §7), whenever they were filed, linked or relabelled: before the declaration, in
    the same batch or after it. A withdrawn declaration still counts (its record stays), and retention never shortens.
    """
    wanted = sorted(set(dossier_ids))
    rebate: set[uuid.UUID] = set()
    for chunk in _chunks(wanted):
        for dossier_id, fields in session.execute(select(Document.dossier_id, Document.fields).where(
                Document.dossier_id.in_(chunk), Document.doc_type == DECLARATION_TYPE)):
            if ((fields or {}).get("extra") or {}).get("direction") == "export":
                rebate.add(dossier_id)
    for chunk in _chunks(sorted(rebate)):
        for doc in session.scalars(select(Document).where(Document.dossier_id.in_(chunk),
                                                          Document.category.in_(REBATE_SET_CATEGORIES),
                                                          Document.rebate_set.is_(False))):
            kept = domain.retention(domain.Category(doc.category), start_on=doc.retention_start_on, rebate_set=True)
            doc.rebate_set = True
            if kept.until > doc.retain_until:
                doc.retain_until, doc.retention_rule = kept.until, kept.rule.code
    session.flush()


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
    if doc.dossier_id is not None:
        session.flush()
        settle_rebate_sets(session, [doc.dossier_id])
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
        if doc.dossier_id is not None:
            session.flush()
            settle_rebate_sets(session, [doc.dossier_id])
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
