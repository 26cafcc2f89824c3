"""Standards use cases: upsert and index standards, import files, search, history, statistics and export."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openzone.core import jobs, search
from openzone.kit.errors import Conflict, NotFound, Problem, problem
from openzone.kit.time import today_cst, utcnow
from openzone.services.standards import domain
from openzone.services.standards.domain import StandardInput, StandardNumber, Status
from openzone.services.standards.models import Amendment, Change, Replacement, Standard, StandardNumberRow

INDEX = "standards"
ImportInvalid = problem("standards-import", 422, "导入文件有误，未导入任何记录", "The import file has errors; nothing was imported")
PdfUnreadable = problem("standards-pdf", 422, "无法读取 PDF 文件", "The PDF file cannot be read")
Progress = Callable[[int, int], None]


# ------------------------------------------------------------------------------------------ the index


def _load_all(session: Session) -> Iterator[search.Document]:
    for standard in session.scalars(select(Standard).order_by(Standard.id)):
        yield document_for(session, standard)


def _load_one(session: Session, key: str) -> search.Document | None:
    try:
        standard = session.get(Standard, uuid.UUID(key))
    except ValueError:
        return None
    return document_for(session, standard) if standard is not None else None


SPEC = search.register_index(search.IndexSpec(
    name=INDEX,
    fields=(search.Field("code", search.Weight.CODE), search.Field("titles", search.Weight.TITLE, pinyin=True),
            search.Field("keywords", search.Weight.KEYWORDS), search.Field("scope", search.Weight.SCOPE),
            search.Field("body", search.Weight.BODY)),
    filters=("region", "status", "ics", "ccs", "year", "joint"),
    facets=("region", "status", "ics", "year"),
    load_all=_load_all, load_one=_load_one,
))


def numbers_of(session: Session, standard_id: uuid.UUID) -> list[StandardNumberRow]:
    """List a standard's numbers, Beijing first."""
    return list(session.scalars(select(StandardNumberRow).where(StandardNumberRow.standard_id == standard_id)
                                .order_by(StandardNumberRow.issuer)))


def document_for(session: Session, standard: Standard) -> search.Document:
    """Build the search document of a standard: numbers, titles, keywords, scope, body and filter values."""
    numbers = numbers_of(session, standard.id)
    return search.Document(
        key=str(standard.id),
        fields={"code": " ".join(n.text for n in numbers), "titles": f"{standard.title_zh} {standard.title_en}".strip(),
                "keywords": " ".join(standard.keywords or []), "scope": standard.scope, "body": standard.body},
        filters={"region": sorted({n.region for n in numbers}), "status": standard.status,
                 "ics": standard.ics.split(".")[0] if standard.ics else [],
                 "ccs": standard.ccs[:1] if standard.ccs else [],
                 "year": sorted({str(n.year) for n in numbers}), "joint": "yes" if standard.joint else "no"},
    )


# ---------------------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Upserted:
    """Say what an upsert did: created, updated (with the fields that changed) or unchanged."""

    standard: Standard
    outcome: str
    fields: tuple[str, ...] = ()


_SCALARS = ("title_zh", "title_en", "issued_on", "effective_on", "withdrawn_on", "ics", "ccs", "department", "scope",
            "body", "body_source", "note", "sample")


def find_by_number(session: Session, number: str | StandardNumber) -> Standard | None:
    """Return the standard carrying a number (any accepted spelling), or None."""
    text = number.text if isinstance(number, StandardNumber) else domain.normalise_number(number)
    return session.scalar(select(Standard).join(StandardNumberRow, StandardNumberRow.standard_id == Standard.id)
                          .where(StandardNumberRow.text == text))


def upsert_standard(session: Session, *, record: StandardInput, today: dt.date | None = None) -> Upserted:
    """Create a standard or update the one that carries any of its numbers, index it, and record the change."""
    today = today or today_cst()
    domain.check_numbers(record.numbers)
    domain.check_dates(issued_on=record.issued_on, effective_on=record.effective_on, withdrawn_on=record.withdrawn_on)
    owners = {row.standard_id for row in session.scalars(select(StandardNumberRow).where(
        StandardNumberRow.text.in_([n.text for n in record.numbers])))}
    if len(owners) > 1:
        raise Conflict("这些编号分属不同的标准", "These numbers belong to different standards",
                       errors=[{"field": "numbers", "code": "split"}])
    standard = session.get(Standard, owners.pop()) if owners else None
    values = {name: getattr(record, name) for name in _SCALARS}
    values["keywords"] = list(record.keywords)
    values["drafters"] = list(record.drafters)
    values["joint"] = record.is_joint
    changed: list[str] = []
    if standard is None:
        standard = Standard(status=Status.CURRENT.value, **values)
        session.add(standard)
        session.flush()
        outcome = "created"
    else:
        for name, value in values.items():
            if getattr(standard, name) != value:
                setattr(standard, name, value)
                changed.append(name)
        outcome = "updated"
    if _sync_numbers(session, standard, record.numbers):
        changed.append("numbers")
    if _sync_replacements(session, standard, record.replaces):
        changed.append("replaces")
    if _sync_amendments(session, standard, record.amendments):
        changed.append("amendments")
    _link_successors(session, standard)
    if _refresh_status(session, standard, today):
        changed.append("status")
    _refresh_predecessors(session, standard, today)
    if outcome == "updated" and not changed:
        return Upserted(standard, "unchanged")
    standard.updated_at = utcnow()
    session.add(Change(standard_id=standard.id, kind=outcome, fields=changed))
    session.flush()
    search.index_document(session, index=INDEX, doc=document_for(session, standard))
    return Upserted(standard, outcome, tuple(changed))


def _sync_numbers(session: Session, standard: Standard, numbers: Iterable[StandardNumber]) -> bool:
    current = {row.text: row for row in numbers_of(session, standard.id)}
    wanted = {n.text: n for n in numbers}
    if set(current) == set(wanted):
        return False
    for text, row in current.items():
        if text not in wanted:
            session.delete(row)
    for text, n in wanted.items():
        if text not in current:
            session.add(StandardNumberRow(standard_id=standard.id, text=text, issuer=n.issuer, region=n.region,
                                          sequence=n.sequence, year=n.year, recommended=n.recommended,
                                          engineering=n.engineering))
    session.flush()
    return True


def _sync_replacements(session: Session, standard: Standard, replaces: Iterable[StandardNumber]) -> bool:
    current = {r.replaces_number: r for r in session.scalars(select(Replacement).where(
        Replacement.standard_id == standard.id))}
    wanted = {n.text for n in replaces}
    if set(current) == wanted:
        return False
    for text, row in current.items():
        if text not in wanted:
            session.delete(row)
    for text in wanted - set(current):
        earlier = find_by_number(session, text)
        session.add(Replacement(standard_id=standard.id, replaces_number=text,
                                replaces_id=earlier.id if earlier is not None else None))
    session.flush()
    return True


def _sync_amendments(session: Session, standard: Standard, amendments: Iterable[tuple[dt.date, str]]) -> bool:
    current = {(a.issued_on, a.summary): a for a in session.scalars(select(Amendment).where(
        Amendment.standard_id == standard.id))}
    wanted = set(amendments)
    if set(current) == wanted:
        return False
    for key, row in current.items():
        if key not in wanted:
            session.delete(row)
    for day, summary in wanted - set(current):
        session.add(Amendment(standard_id=standard.id, issued_on=day, summary=summary))
    session.flush()
    return True


def _link_successors(session: Session, standard: Standard) -> None:
    # A successor imported before this standard named it by number only; link it now and mark this one replaced.
    texts = [n.text for n in numbers_of(session, standard.id)]
    for row in session.scalars(select(Replacement).where(Replacement.replaces_number.in_(texts),
                                                         Replacement.replaces_id.is_(None))):
        row.replaces_id = standard.id
    session.flush()


def _refresh_predecessors(session: Session, standard: Standard, today: dt.date) -> None:
    for earlier in session.scalars(select(Standard).join(Replacement, Replacement.replaces_id == Standard.id)
                                   .where(Replacement.standard_id == standard.id)):
        if _refresh_status(session, earlier, today):
            earlier.updated_at = utcnow()
            session.add(Change(standard_id=earlier.id, kind="updated", fields=["status"]))
            session.flush()
            search.index_document(session, index=INDEX, doc=document_for(session, earlier))


def is_replaced(session: Session, standard_id: uuid.UUID) -> bool:
    """Say whether a later standard in the library replaces this one."""
    return session.scalar(select(Replacement.id).where(Replacement.replaces_id == standard_id).limit(1)) is not None


def _refresh_status(session: Session, standard: Standard, today: dt.date) -> bool:
    successors = [s.effective_on or s.issued_on for s in session.scalars(
        select(Standard).join(Replacement, Replacement.standard_id == Standard.id)
        .where(Replacement.replaces_id == standard.id))]
    # A standard without its own withdrawal date is replaced when its successor takes effect.
    dates = [d for d in successors if d is not None]
    withdrawn = standard.withdrawn_on or (min(dates) if dates else None)
    status = domain.status_on(today, effective_on=standard.effective_on, withdrawn_on=withdrawn,
                              replaced=bool(successors)).value
    if standard.status == status:
        return False
    standard.status = status
    return True


@jobs.handler("standards.refresh_status", every=dt.timedelta(hours=6))
def _refresh_job(session: Session, payload: dict) -> None:
    refresh_statuses(session)


def refresh_statuses(session: Session, *, today: dt.date | None = None) -> int:
    """Recompute every status from its dates (即将实施 becomes 现行 on its day), reindexing those that changed."""
    today = today or today_cst()
    count = 0
    for standard in session.scalars(select(Standard).where(Standard.status != Status.ABOLISHED.value)):
        if _refresh_status(session, standard, today):
            standard.updated_at = utcnow()
            session.add(Change(standard_id=standard.id, kind="updated", fields=["status"]))
            session.flush()
            search.index_document(session, index=INDEX, doc=document_for(session, standard))
            count += 1
    return count


def attach_pdf(session: Session, *, number: str, data: bytes, source: str = "") -> Upserted:
    """Extract a standard's full text from its PDF with pypdf and store it as the body."""
    standard = find_by_number(session, number)
    if standard is None:
        raise NotFound(f"没有编号为“{number}”的标准", f"No standard numbered {number!r}")
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        reader = PdfReader(io.BytesIO(data))
        text = "\n".join((page.extract_text() or "").strip() for page in reader.pages).strip()
    except (PdfReadError, ValueError, OSError) as exc:
        raise PdfUnreadable("文件不是可读的 PDF", "The file is not a readable PDF") from exc
    if not text:
        raise PdfUnreadable("PDF 中没有可提取的文字（可能是扫描件）", "The PDF holds no extractable text (a scan?)")
    record = record_of(session, standard)
    digest = hashlib.sha256(data).hexdigest()
    result = upsert_standard(session, record=_replace(record, body=text, body_source=source or "PDF"))
    if standard.pdf_sha256 != digest:
        standard.pdf_sha256 = digest
        session.flush()
    return result


def _replace(record: StandardInput, **changes) -> StandardInput:
    return dataclasses.replace(record, **changes)


def record_of(session: Session, standard: Standard) -> StandardInput:
    """Return a standard's current bibliographic record, as an import would give it."""
    numbers = tuple(domain.parse_number(n.text) for n in numbers_of(session, standard.id))
    replaces = tuple(domain.parse_number(r.replaces_number) for r in session.scalars(
        select(Replacement).where(Replacement.standard_id == standard.id)))
    amendments = tuple((a.issued_on, a.summary) for a in amendments_of(session, standard.id))
    return StandardInput(numbers=numbers, title_zh=standard.title_zh, title_en=standard.title_en,
                         issued_on=standard.issued_on, effective_on=standard.effective_on,
                         withdrawn_on=standard.withdrawn_on, ics=standard.ics, ccs=standard.ccs,
                         department=standard.department, drafters=tuple(standard.drafters or ()),
                         keywords=tuple(standard.keywords or ()), scope=standard.scope, body=standard.body,
                         body_source=standard.body_source, replaces=replaces, amendments=amendments,
                         joint=standard.joint, sample=standard.sample, note=standard.note)


# ---------------------------------------------------------------------------------------- import


@dataclass
class ImportReport:
    """Count what an import did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rows: int = 0
    standards: list[uuid.UUID] = field(default_factory=list)


def read_rows(name: str, data: bytes) -> list[dict[str, object]]:
    """Read the rows of a CSV (UTF-8, header row) or JSON (an array of objects) import file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportInvalid("文件须为 UTF-8 编码", "The file must be UTF-8") from exc
    lower = name.lower()
    if lower.endswith(".json"):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportInvalid(f"JSON 格式有误（第 {exc.lineno} 行）", f"The JSON is malformed (line {exc.lineno})") from exc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ImportInvalid("JSON 文件应为对象数组", "A JSON import is an array of objects")
    elif lower.endswith(".csv"):
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "numbers" not in reader.fieldnames:
            raise ImportInvalid("CSV 文件首行应为列名，且包含 numbers 列", "The CSV header must name the columns, numbers among them")
        rows = [{k: v for k, v in row.items() if k is not None and v not in (None, "")} for row in reader]
    else:
        raise ImportInvalid("只接受 .csv 或 .json 文件", "Only .csv and .json files are accepted")
    if len(rows) > domain.MAX_IMPORT_ROWS:
        raise ImportInvalid(f"一次最多导入 {domain.MAX_IMPORT_ROWS} 条", f"At most {domain.MAX_IMPORT_ROWS} rows per file")
    return rows


def import_file(session: Session, *, name: str, data: bytes, progress: Progress | None = None,
                today: dt.date | None = None) -> ImportReport:
    """Import a CSV or JSON file of standards all or nothing: any bad row refuses the whole file, listing each error."""
    rows = read_rows(name, data)
    records: list[StandardInput] = []
    errors: list[domain.RowError] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(rows, start=1):
        record, row_errors = domain.parse_record(raw, i)
        errors.extend(row_errors)
        if record is None:
            continue
        for n in record.numbers:
            if n.text in seen:
                errors.append(domain.RowError(i, "numbers", f"编号 {n.text} 与第 {seen[n.text]} 行重复",
                                              f"number {n.text} repeats row {seen[n.text]}"))
            seen.setdefault(n.text, i)
        records.append(record)
    if errors:
        raise _invalid(errors)
    report = ImportReport(rows=len(records))
    savepoint = session.begin_nested()
    for i, record in enumerate(records, start=1):
        try:
            result = upsert_standard(session, record=record, today=today)
        except Problem as exc:
            errors.append(domain.RowError(i, "numbers", exc.detail or exc.title, exc.detail_en or exc.title_en))
            continue
        setattr(report, result.outcome, getattr(report, result.outcome) + 1)
        report.standards.append(result.standard.id)
        if progress:
            progress(i, len(records))
    if errors:
        savepoint.rollback()
        raise _invalid(errors)
    savepoint.commit()
    return report


def _invalid(errors: list[domain.RowError]) -> Problem:
    rows = sorted({e.row for e in errors})
    return ImportInvalid(f"{len(rows)} 行有误，未导入任何记录", f"{len(rows)} rows have errors; nothing was imported",
                         errors=[e.as_dict() for e in errors[:500]])


# --------------------------------------------------------------------------------------- reading


def get_standard(session: Session, standard_id: uuid.UUID) -> Standard:
    """Return a standard, or raise NotFound."""
    standard = session.get(Standard, standard_id)
    if standard is None:
        raise NotFound("没有这项标准", "No such standard")
    return standard


def amendments_of(session: Session, standard_id: uuid.UUID) -> list[Amendment]:
    """List a standard's amendments, oldest first."""
    return list(session.scalars(select(Amendment).where(Amendment.standard_id == standard_id)
                                .order_by(Amendment.issued_on, Amendment.id)))


def history_of(session: Session, standard_id: uuid.UUID) -> list[Change]:
    """List a standard's recorded changes, newest first."""
    return list(session.scalars(select(Change).where(Change.standard_id == standard_id)
                                .order_by(Change.created_at.desc(), Change.id.desc())))


@dataclass(frozen=True)
class Related:
    """Hold a standard's neighbours: what it replaces, what replaces it, and similar standards."""

    replaces: list[tuple[str, Standard | None]]
    replaced_by: list[Standard]
    similar: list[Standard]


def related_to(session: Session, standard: Standard, *, limit: int = 5) -> Related:
    """Find what a standard replaces, what replaced it, and the standards closest to its title and scope."""
    replaces = [(r.replaces_number, session.get(Standard, r.replaces_id) if r.replaces_id else None)
                for r in session.scalars(select(Replacement).where(Replacement.standard_id == standard.id))]
    replaced_by = list(session.scalars(select(Standard).join(Replacement, Replacement.standard_id == Standard.id)
                                       .where(Replacement.replaces_id == standard.id)))
    similar = [s for s, _ in similar_standards(session, title=standard.title_zh, scope=standard.scope, limit=limit + 1)
               if s.id != standard.id][:limit] if limit else []
    return Related(replaces, replaced_by, similar)


def similarity_query(title: str, scope: str, *, max_terms: int = 40, max_chars: int = 200) -> str:
    """Build a search query from a title and the most frequent words of a scope, within the query limits."""
    words: list[str] = []
    for token in search.analyse(title):
        if len(token) >= 2 and token not in domain.SCOPE_STOPWORDS and token not in words:
            words.append(token)
    counts = Counter(t for t in search.analyse(scope) if len(t) >= 2 and t not in domain.SCOPE_STOPWORDS
                     and not t.isdigit())
    for token, _ in counts.most_common():
        if token not in words:
            words.append(token)
    out: list[str] = []
    length = 0
    # The search core refuses queries over 256 characters or 64 terms; stay well inside both.
    for word in words[:max_terms]:
        if length + len(word) + 1 > max_chars:
            break
        out.append(word)
        length += len(word) + 1
    return " ".join(out)


def similar_standards(session: Session, *, title: str, scope: str, limit: int = 5) -> list[tuple[Standard, float]]:
    """List existing standards whose titles and scopes are closest to a draft's, best first (duplicate check)."""
    query = similarity_query(title, scope)
    if not query:
        return []
    results = search.search(session, index=INDEX, query=query, per_page=limit, facets=False)
    out = []
    for hit in results.hits:
        standard = session.get(Standard, uuid.UUID(hit.key))
        if standard is not None:
            out.append((standard, hit.score))
    return out


def search_standards(session: Session, *, query: str = "", filters: dict[str, list[str]] | None = None,
                     page: int = 1, per_page: int = 10) -> tuple[search.Results, dict[str, Standard]]:
    """Search the library; return the results and the standards of the hits by key."""
    results = search.search(session, index=INDEX, query=query, filters=filters or {}, page=page, per_page=per_page)
    keys = [uuid.UUID(h.key) for h in results.hits]
    found = {str(s.id): s for s in session.scalars(select(Standard).where(Standard.id.in_(keys)))} if keys else {}
    return results, found


def numbers_for(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Return the number texts of several standards at once."""
    out: dict[uuid.UUID, list[str]] = {}
    ids = list(ids)
    if not ids:
        return out
    for row in session.scalars(select(StandardNumberRow).where(StandardNumberRow.standard_id.in_(ids))
                               .order_by(StandardNumberRow.issuer)):
        out.setdefault(row.standard_id, []).append(row.text)
    return out


def changes_since(session: Session, since: dt.datetime, *, limit: int = 100) -> list[tuple[Change, Standard]]:
    """List changes after an instant, oldest first, with their standards."""
    rows = session.execute(select(Change, Standard).join(Standard, Standard.id == Change.standard_id)
                           .where(Change.created_at > since).order_by(Change.created_at, Change.id).limit(limit))
    return [(c, s) for c, s in rows]


def recent_changes(session: Session, *, limit: int = 50) -> list[tuple[Change, Standard]]:
    """List the newest changes, newest first, for the Atom feed."""
    rows = session.execute(select(Change, Standard).join(Standard, Standard.id == Change.standard_id)
                           .order_by(Change.created_at.desc(), Change.id.desc()).limit(limit))
    return [(c, s) for c, s in rows]


@dataclass(frozen=True)
class Statistics:
    """Count standards by region, status, ICS field and year."""

    total: int
    by_region: list[tuple[str, int]]
    by_status: list[tuple[str, int]]
    by_field: list[tuple[str, int]]
    joint: int


def statistics(session: Session) -> Statistics:
    """Count the library's standards by region (a joint standard counts in each), status and ICS field."""
    total = session.scalar(select(func.count()).select_from(Standard)) or 0
    by_region = session.execute(select(StandardNumberRow.region, func.count(func.distinct(StandardNumberRow.standard_id)))
                                .group_by(StandardNumberRow.region).order_by(StandardNumberRow.region)).all()
    by_status = session.execute(select(Standard.status, func.count()).group_by(Standard.status)).all()
    fields: Counter[str] = Counter()
    for ics in session.scalars(select(Standard.ics)):
        fields[ics.split(".")[0] if ics else ""] += 1
    joint = session.scalar(select(func.count()).select_from(Standard).where(Standard.joint.is_(True))) or 0
    order = [s.value for s in Status]
    return Statistics(total=total, by_region=[(r, n) for r, n in by_region],
                      by_status=sorted(((s, n) for s, n in by_status), key=lambda x: order.index(x[0]) if x[0] in order else 99),
                      by_field=sorted(fields.items(), key=lambda x: (-x[1], x[0])), joint=joint)


EXPORT_COLUMNS = ("id", "numbers", "title_zh", "title_en", "status", "issued_on", "effective_on", "withdrawn_on", "ics",
                  "ccs", "department", "drafters", "keywords", "scope", "replaces", "joint", "sample", "updated_at")


def export_records(session: Session) -> Iterator[dict[str, object]]:
    """Yield every standard's bibliographic record (no full text) for bulk export, in id order."""
    batch = 500
    last: uuid.UUID | None = None
    while True:
        stmt = select(Standard).order_by(Standard.id).limit(batch)
        if last is not None:
            stmt = stmt.where(Standard.id > last)
        standards = list(session.scalars(stmt))
        if not standards:
            return
        numbers = numbers_for(session, [s.id for s in standards])
        replaces: dict[uuid.UUID, list[str]] = {}
        for r in session.scalars(select(Replacement).where(Replacement.standard_id.in_([s.id for s in standards]))):
            replaces.setdefault(r.standard_id, []).append(r.replaces_number)
        for s in standards:
            yield {"id": str(s.id), "numbers": numbers.get(s.id, []), "title_zh": s.title_zh, "title_en": s.title_en,
                   "status": s.status, "issued_on": _iso(s.issued_on), "effective_on": _iso(s.effective_on),
                   "withdrawn_on": _iso(s.withdrawn_on), "ics": s.ics, "ccs": s.ccs, "department": s.department,
                   "drafters": list(s.drafters or []), "keywords": list(s.keywords or []), "scope": s.scope,
                   "replaces": sorted(replaces.get(s.id, [])), "joint": s.joint, "sample": s.sample,
                   "updated_at": s.updated_at.isoformat()}
        last = standards[-1].id


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def export_csv(records: Iterable[dict[str, object]]) -> Iterator[str]:
    """Yield CSV text (header first) for exported records, lists joined with semicolons."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    for record in records:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([";".join(v) if isinstance(v, list) else ("" if v is None else v)
                         for v in (record[c] for c in EXPORT_COLUMNS)])
        yield buffer.getvalue()
