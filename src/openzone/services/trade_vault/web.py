"""Trade vault pages: documents with search, upload, a document, dossiers, sharing with banks, bank staff, profile, AEO."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from openzone.core import consent, documents
from openzone.core.identity import Principal, signed_in
from openzone.db import request_session
from openzone.kit import i18n
from openzone.kit.errors import Problem, ValidationFailed
from openzone.kit.routing import Router
from openzone.services.trade_vault import domain, profile, service, sharing
from openzone.web import add_template_dir, form_errors, render

add_template_dir(Path(__file__).parent / "templates")
documents.add_template_dir(Path(__file__).parent / "documents")
# The profile PDF shares its body with the page.
documents.add_template_dir(Path(__file__).parent / "templates")
router = Router(include_in_schema=False)
PER_PAGE = 20
MEMBER = signed_in()


def _labels() -> dict[str, object]:
    return {"categories": {c.value: v for c, v in domain.CATEGORY_LABELS.items()},
            "rules": {r.code: r for r in domain.RULES}, "required_set": [c.value for c in domain.REQUIRED_SET]}


def _firm(session: Session, principal: Principal) -> uuid.UUID:
    return sharing.org_of(session, principal, "enterprise")


def _date(value: str, field: str) -> dt.date | None:
    if not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValidationFailed("日期应为 YYYY-MM-DD", "Dates are YYYY-MM-DD",
                               errors=[{"field": field, "code": "date", "message": i18n.gettext("日期应为 YYYY-MM-DD")}]) from exc


def _uuid(value: str, field: str) -> uuid.UUID | None:
    if not value.strip():
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError as exc:
        raise ValidationFailed("编号格式不正确", "The id is not valid", errors=[{"field": field, "code": "format"}]) from exc


@router.get("/trade-vault")
def documents_page(request: Request, q: str = Query("", max_length=256), category: str = Query("", max_length=24),
                   counterparty: str = Query("", max_length=200), date_from: str = Query("", max_length=10),
                   date_to: str = Query("", max_length=10), dossier: str = Query("", max_length=36),
                   page: int = Query(1, ge=1, le=500), principal: Principal = Depends(MEMBER),
                   session: Session = Depends(request_session, scope="function")):
    """List the firm's documents; search fields and text; filter by category, counterparty, date and dossier."""
    org = _firm(session, principal)
    form = {"q": q, "category": category, "counterparty": counterparty, "date_from": date_from, "date_to": date_to,
            "dossier": dossier}
    errors: list[dict[str, str]] = []
    rows: list = []
    total = 0
    highlights: dict[str, dict[str, str]] = {}
    try:
        start, end, dossier_id = _date(date_from, "date_from"), _date(date_to, "date_to"), _uuid(dossier, "dossier")
        if category and category not in {c.value for c in domain.Category}:
            raise ValidationFailed("未知的单证类别", "Unknown document category", errors=[{"field": "category", "code": "enum"}])
        if q.strip():
            results, found = service.search_documents(session, org, query=q, category=category, counterparty=counterparty,
                                                      dossier_id=dossier_id, date_from=start, date_to=end, page=page,
                                                      per_page=PER_PAGE)
            rows = [found[h.key] for h in results.hits if h.key in found]
            highlights = {h.key: dict(h.highlights) for h in results.hits}
            total = results.total
        else:
            total, rows = service.list_documents(session, org, category=category, counterparty=counterparty,
                                                 dossier_id=dossier_id, date_from=start, date_to=end, limit=PER_PAGE,
                                                 offset=(page - 1) * PER_PAGE)
    except Problem as problem:
        errors = form_errors(problem, "q")
    pages = None
    if total > PER_PAGE:
        last = (total + PER_PAGE - 1) // PER_PAGE
        base = {k: v for k, v in form.items() if v}
        pages = {"page": page, "last": last,
                 "prev": "/trade-vault?" + urlencode({**base, "page": page - 1}) if page > 1 else None,
                 "next": "/trade-vault?" + urlencode({**base, "page": page + 1}) if page < last else None}
    return render(request, "trade_vault/documents.html", {
        "form": form, "rows": rows, "total": total, "highlights": highlights, "errors": errors, "pages": pages,
        "counterparties": service.counterparties(session, org), "dossiers": service.dossiers(session, org),
        "stats": service.stats(session, org), **_labels()}, status_code=400 if errors else 200)


@router.get("/trade-vault/upload")
def upload_form(request: Request, principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """Show the upload form: one file (PDF, image, XML, JSON) or a ZIP batch."""
    _firm(session, principal)
    return render(request, "trade_vault/upload.html", {"form": {}, **_labels()})


@router.post("/trade-vault/upload")
async def upload(request: Request, file: UploadFile | None = File(None), category: str = Form(""), tags: str = Form(""),
                 principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """File one document or a ZIP batch; a refused file is listed with its reason and nothing of it is kept."""
    org = _firm(session, principal)
    form = {"category": category, "tags": tags}
    data = await file.read() if file is not None else b""
    name = (file.filename or "") if file is not None else ""
    own = sharing.organisation_name(session, org)
    try:
        with session.begin_nested():
            if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
                report = service.file_batch(session, org_id=org, filename=name, data=data, uploaded_by=principal.person_id,
                                            own_name=own)
            else:
                filed = service.file_document(session, org_id=org, filename=name, data=data, uploaded_by=principal.person_id,
                                              category=category or None, tags=tags.split(",") if tags else (), own_name=own)
                return RedirectResponse(f"/trade-vault/documents/{filed.document.id}", status_code=303)
    except Problem as problem:
        return render(request, "trade_vault/upload.html", {"form": form, "errors": form_errors(problem, "file"), **_labels()},
                      status_code=problem.status)
    if report.refused:
        refused = [{"name": n, "message": i18n.pick(p.detail or p.title, p.detail_en or p.title_en)} for n, p in report.refused]
        errors = [{"field": "file", "message": f"{r['name']}: {r['message']}"} for r in refused]
        return render(request, "trade_vault/upload.html", {"form": form, "errors": errors, "report": report,
                                                           "refused": refused, **_labels()}, status_code=422)
    return RedirectResponse(f"/trade-vault?filed={len(report.filed)}", status_code=303)


def _document_context(session: Session, org: uuid.UUID, document_id: uuid.UUID) -> dict[str, object]:
    doc = service.get_document(session, org, document_id)
    dossier = service.get_dossier(session, org, doc.dossier_id) if doc.dossier_id else None
    return {"doc": doc, "dossier": dossier, "dossiers": service.dossiers(session, org),
            "rule": next(r for r in domain.RULES if r.code == doc.retention_rule),
            "applied": domain.retention(domain.Category(doc.category), start_on=doc.retention_start_on,
                                        rebate_set=doc.rebate_set).applied,
            "withdrawable": doc.withdrawn_at is None and i18n_today() > doc.retain_until, **_labels()}


def i18n_today() -> dt.date:
    """Return today's civil date in China Standard Time."""
    from openzone.kit.time import today_cst

    return today_cst()


@router.get("/trade-vault/documents/{document_id}")
def document_page(request: Request, document_id: uuid.UUID, principal: Principal = Depends(MEMBER),
                  session: Session = Depends(request_session, scope="function")):
    """Show a document: its fields, category and tags, dossier, retention, ledger receipt and withdrawal."""
    org = _firm(session, principal)
    return render(request, "trade_vault/document.html", _document_context(session, org, document_id))


@router.get("/trade-vault/documents/{document_id}/file")
def document_file(document_id: uuid.UUID, principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """Download the stored file as filed (checked against its SHA-256)."""
    org = _firm(session, principal)
    doc, data = service.document_bytes(session, org, document_id)
    kind = domain.FileKind(doc.file_kind)
    return Response(data, media_type=domain.MEDIA_TYPES[kind],
                    headers={"content-disposition": f'attachment; filename="{doc.sha256[:16]}.{kind.value}"'})


def _act(request: Request, session: Session, org: uuid.UUID, document_id: uuid.UUID, action, field: str) -> Response:
    try:
        with session.begin_nested():
            action()
    except Problem as problem:
        ctx = _document_context(session, org, document_id)
        return render(request, "trade_vault/document.html", ctx | {"errors": form_errors(problem, field)},
                      status_code=problem.status)
    return RedirectResponse(f"/trade-vault/documents/{document_id}", status_code=303)


@router.post("/trade-vault/documents/{document_id}/category")
def document_category(request: Request, document_id: uuid.UUID, category: str = Form(""), tags: str = Form(""),
                      principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """Change a document's category and tags."""
    org = _firm(session, principal)
    return _act(request, session, org, document_id, lambda: service.set_category(
        session, org_id=org, document_id=document_id, category=category, tags=[t for t in tags.split(",")]), "category")


@router.post("/trade-vault/documents/{document_id}/dossier")
def document_dossier(request: Request, document_id: uuid.UUID, dossier: str = Form(""), new_title: str = Form(""),
                     principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """Move a document into another dossier, a new one, or none."""
    org = _firm(session, principal)
    return _act(request, session, org, document_id, lambda: service.relink(
        session, org_id=org, document_id=document_id, dossier_id=_uuid(dossier, "dossier"), new_title=new_title), "dossier")


@router.post("/trade-vault/documents/{document_id}/withdraw")
def document_withdraw(request: Request, document_id: uuid.UUID, reason: str = Form(""),
                      principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """Withdraw a document past its retention period; its record and receipt stay."""
    org = _firm(session, principal)
    return _act(request, session, org, document_id, lambda: service.withdraw(
        session, org_id=org, document_id=document_id, reason=reason), "reason")


@router.get("/trade-vault/dossiers")
def dossiers_page(request: Request, principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """List the firm's shipment dossiers with their completeness."""
    org = _firm(session, principal)
    rows = [(d, service.completeness(session, d.id), len(service.dossier_documents(session, d.id)))
            for d in service.dossiers(session, org)]
    return render(request, "trade_vault/dossiers.html", {"rows": rows, **_labels()})


@router.get("/trade-vault/dossiers/{dossier_id}")
def dossier_page(request: Request, dossier_id: uuid.UUID, principal: Principal = Depends(MEMBER),
                 session: Session = Depends(request_session, scope="function")):
    """Show a dossier: its reference numbers, documents and what a complete shipment file still lacks."""
    org = _firm(session, principal)
    dossier = service.get_dossier(session, org, dossier_id)
    return render(request, "trade_vault/dossier.html", {
        "dossier": dossier, "docs": service.dossier_documents(session, dossier.id),
        "keys": service.dossier_keys_of(session, dossier.id), "check": service.completeness(session, dossier.id),
        **_labels()})


# ---------------------------------------------------------------------------------------- sharing with banks


def _sharing_context(session: Session, org: uuid.UUID) -> dict[str, object]:
    grants = sharing.grants(session, org)
    return {"grants": [(g, consent.status_of(g)) for g in grants], "pulls": sharing.pulls_of(session, org),
            "banks": sharing.banks(session), "dossiers": service.dossiers(session, org),
            "bank_names": {b.id: b.name for b in sharing.banks(session)},
            "purposes": {**{k: v for k, v in consent.purposes().items() if k in ("trade-finance", "credit-assessment")},
                         **sharing.PURPOSES},
            "dossier_fields": {k: v[0] for k, v in sharing.DOSSIER_FIELDS.items()},
            "document_fields": sharing.DOCUMENT_FIELDS, "profile_fields": sharing.PROFILE_FIELDS, "form": {}, **_labels()}


@router.get("/trade-vault/sharing")
def sharing_page(request: Request, principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """Show the firm's grants to banks, the form to grant, and every pull with its receipt."""
    org = _firm(session, principal)
    return render(request, "trade_vault/sharing.html", _sharing_context(session, org))


@router.post("/trade-vault/sharing")
async def sharing_grant(request: Request, principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """Grant a bank access to a dossier (or all), a document or the profile, for a purpose and a time."""
    org = _firm(session, principal)
    data = await request.form()
    form = {k: data.get(k, "") for k in ("bank", "kind", "resource", "purpose", "days", "mode")}
    fields = [str(f) for f in data.getlist("fields")]
    try:
        with session.begin_nested():
            kind = str(form["kind"])
            if kind not in sharing.KINDS:
                raise ValidationFailed("请选择共享的资料类型", "Choose what to share", errors=[{"field": "kind", "code": "enum"}])
            try:
                days = int(str(form["days"]) or "0")
            except ValueError as exc:
                raise ValidationFailed("有效天数应为整数", "Days must be a whole number",
                                       errors=[{"field": "days", "code": "number"}]) from exc
            bank = _uuid(str(form["bank"]), "bank")
            if bank is None:
                raise ValidationFailed("请选择一家银行", "Choose a bank", errors=[{"field": "bank", "code": "required"}])
            resource = str(form["resource"]).strip() or consent.ANY
            sharing.grant_to_bank(session, org_id=org, bank_org_id=bank, kind=kind, resource_id=resource, fields=fields,
                                  purpose=str(form["purpose"]), days=days, periodic=form["mode"] == "periodic",
                                  by_person=principal.person_id)
    except Problem as problem:
        ctx = _sharing_context(session, org) | {"form": form, "errors": form_errors(problem, "bank")}
        return render(request, "trade_vault/sharing.html", ctx, status_code=problem.status)
    return RedirectResponse("/trade-vault/sharing", status_code=303)


@router.post("/trade-vault/sharing/{grant_id}/revoke")
def sharing_revoke(request: Request, grant_id: uuid.UUID, principal: Principal = Depends(MEMBER),
                   session: Session = Depends(request_session, scope="function")):
    """Revoke a grant at once."""
    org = _firm(session, principal)
    try:
        with session.begin_nested():
            sharing.revoke(session, org_id=org, grant_id=grant_id)
    except Problem as problem:
        ctx = _sharing_context(session, org) | {"errors": form_errors(problem, "grant")}
        return render(request, "trade_vault/sharing.html", ctx, status_code=problem.status)
    return RedirectResponse("/trade-vault/sharing", status_code=303)


@router.get("/trade-vault/bank")
def bank_page(request: Request, principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """Show bank staff what firms have shared with their bank and the pulls made."""
    bank = sharing.org_of(session, principal, "bank")
    shares = sharing.grants_to_bank(session, bank)
    return render(request, "trade_vault/bank.html", {
        "shares": [(s, g, consent.status_of(g), sharing.organisation_name(session, s.org_id)) for s, g in shares],
        "pulls": sharing.pulls_by(session, bank), "purposes": {**consent.purposes(), **sharing.PURPOSES}, **_labels()})


# ---------------------------------------------------------------------------------------- profile and AEO


@router.get("/trade-vault/profile")
def profile_page(request: Request, principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """Show the trusted enterprise profile computed from the vault; every figure links to its documents."""
    org = _firm(session, principal)
    report = profile.compute(session, org)
    return render(request, "trade_vault/profile.html", {"report": report, "charts": profile.charts(report),
                                                        "check_labels": profile.CHECK_LABELS,
                                                        "reports": profile.reports(session, org), **_labels()})


@router.post("/trade-vault/profile/report")
def profile_report(request: Request, principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """Generate the profile PDF, put its digest on the ledger, and go to the report."""
    org = _firm(session, principal)
    saved = profile.issue_report(session, org_id=org, org_name=sharing.organisation_name(session, org),
                                 lang=i18n.current_language.get())
    return RedirectResponse(f"/trade-vault/profile/reports/{saved.id}.pdf", status_code=303)


@router.get("/trade-vault/profile/reports/{report_id}.pdf")
def profile_pdf(report_id: uuid.UUID, principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """Download a generated profile report PDF (rebuilt from its stored figures and checked against its digest)."""
    org = _firm(session, principal)
    data = profile.report_pdf(session, org_id=org, report_id=report_id)
    return Response(data, media_type="application/pdf",
                    headers={"content-disposition": f'attachment; filename="trusted-profile-{report_id}.pdf"'})


@router.get("/trade-vault/aeo")
def aeo_page(request: Request, principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """Score the AEO record-keeping checklist from the vault and list the gaps."""
    org = _firm(session, principal)
    return render(request, "trade_vault/aeo.html", {"score": profile.aeo_score(session, org), **_labels()})


@router.get("/trade-vault/aeo/audit.zip")
def aeo_audit(principal: Principal = Depends(MEMBER), session: Session = Depends(request_session, scope="function")):
    """Download the audit package: documents, manifest, receipts and 20 declarations traced through their dossiers."""
    org = _firm(session, principal)
    data = profile.audit_package(session, org)
    return Response(data, media_type="application/zip",
                    headers={"content-disposition": 'attachment; filename="aeo-audit-package.zip"'})
