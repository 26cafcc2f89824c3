"""Trade vault API: ERP and forwarder uploads with the firm's tokens, reads, and bank pulls under consent."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from fastapi import Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from openzone.core import consent, idempotency
from openzone.core.identity import Principal, signed_in
from openzone.db import request_session
from openzone.kit.routing import Router
from openzone.services.trade_vault import domain, profile, schemas, service, sharing
from openzone.services.trade_vault.models import Document

router = Router(prefix="/api/v1/trade-vault", tags=["trade-vault"])
PROBLEMS = {401: {"description": "Unauthenticated (problem+json)"}, 403: {"description": "Forbidden (problem+json)"},
            404: {"description": "Not found (problem+json)"}, 422: {"description": "Invalid input (problem+json)"}}
UPLOAD_PROBLEMS = {**PROBLEMS, 409: {"description": "Already on file (problem+json)"},
                   413: {"description": "Too large (problem+json)"}, 415: {"description": "Unsupported type (problem+json)"}}
PULL_PROBLEMS = {**PROBLEMS, 429: {"description": "Periodic grant used up for now (problem+json)"}}
# Any member of a firm (or the firm's token) files and reads; any member of a bank (or its token) pulls. The
# organisation's kind and the caller's membership are checked in each route: a bank cannot file, a firm cannot pull.
WRITE = signed_in(scopes=("write",))
READ = signed_in(scopes=("read",))


def document_out(doc: Document, *, with_fields: bool = False) -> schemas.DocumentOut:
    """Shape a document for the API."""
    return schemas.DocumentOut(
        id=doc.id, filename=doc.filename, sha256=doc.sha256, size=doc.size, file_kind=doc.file_kind, doc_type=doc.doc_type,
        number=doc.number, category=doc.category, tags=list(doc.tags or []), issued_on=doc.issued_on,
        currency=doc.currency, total=doc.total, counterparty=doc.counterparty, dossier_id=doc.dossier_id,
        retain_until=doc.retain_until, retention_rule=doc.retention_rule, sample=doc.sample,
        withdrawn=doc.withdrawn_at is not None, leaf_hash=doc.leaf_hash, receipt=f"/ledger/receipts/{doc.leaf_hash}.txt",
        fields=doc.fields if with_fields else None)


def _firm(session: Session, principal: Principal) -> uuid.UUID:
    return sharing.org_of(session, principal, "enterprise")


def _bank(session: Session, principal: Principal) -> uuid.UUID:
    return sharing.org_of(session, principal, "bank")


def _upload(session: Session, principal: Principal, file: UploadFile, category: str, tags: str, data: bytes) -> schemas.DocumentOut:
    org = _firm(session, principal)
    filed = service.file_document(session, org_id=org, filename=file.filename or "", data=data, source="api",
                                  uploaded_by=principal.person_id, category=category or None,
                                  tags=[t for t in tags.split(",") if t.strip()],
                                  own_name=sharing.organisation_name(session, org))
    return document_out(filed.document, with_fields=True)


@router.post("/documents", response_model=schemas.DocumentOut, status_code=201, responses=UPLOAD_PROBLEMS)
async def upload_document(file: UploadFile = File(...), category: str = Form(""), tags: str = Form(""),
                          principal: Principal = Depends(WRITE), session: Session = Depends(request_session, scope="function"),
                          key: str | None = idempotency.KEY):
    """File one document (PDF, image, UBL XML, DCSA JSON or 报关单 JSON); a retry with its Idempotency-Key replays."""
    data = await file.read()
    # The multipart body is fingerprinted by the file's digest and the form fields, not its bytes.
    request = {"filename": file.filename or "", "sha256": hashlib.sha256(data).hexdigest(), "category": category,
               "tags": tags}
    return idempotency.respond(session, principal, key, scope="trade_vault.document", request=request, status_code=201,
                               produce=lambda: _upload(session, principal, file, category, tags, data))


@router.post("/batches", response_model=schemas.BatchOut, status_code=201, responses=UPLOAD_PROBLEMS)
async def upload_batch(file: UploadFile = File(...), principal: Principal = Depends(WRITE),
                       session: Session = Depends(request_session, scope="function"), key: str | None = idempotency.KEY):
    """File a ZIP batch; each file is filed or refused on its own, with its reason; a retry with its key replays."""
    data = await file.read()
    request = {"filename": file.filename or "", "sha256": hashlib.sha256(data).hexdigest()}
    return idempotency.respond(session, principal, key, scope="trade_vault.batch", request=request, status_code=201,
                               produce=lambda: _batch(session, principal, file, data))


def _batch(session: Session, principal: Principal, file: UploadFile, data: bytes) -> schemas.BatchOut:
    org = _firm(session, principal)
    report = service.file_batch(session, org_id=org, filename=file.filename or "", data=data, source="api",
                                uploaded_by=principal.person_id, own_name=sharing.organisation_name(session, org))
    return schemas.BatchOut(filed=[document_out(f.document) for f in report.filed],
                            refused=[schemas.RefusedFile(name=n, type=p.type, status=p.status, detail_zh=p.detail or p.title,
                                                         detail_en=p.detail_en or p.title_en) for n, p in report.refused])


@router.get("/documents", response_model=schemas.DocumentPage, responses=PROBLEMS)
def list_documents(q: str = Query("", max_length=256), category: str = Query("", max_length=24),
                   counterparty: str = Query("", max_length=200), limit: int = Query(50, ge=1, le=200),
                   offset: int = Query(0, ge=0, le=100_000), principal: Principal = Depends(READ),
                   session: Session = Depends(request_session, scope="function")):
    """List or search the firm's documents."""
    org = _firm(session, principal)
    if q.strip():
        results, found = service.search_documents(session, org, query=q, category=category, counterparty=counterparty,
                                                  page=offset // limit + 1, per_page=limit)
        rows = [found[h.key] for h in results.hits if h.key in found]
        return schemas.DocumentPage(total=results.total, items=[document_out(d) for d in rows])
    total, rows = service.list_documents(session, org, category=category, counterparty=counterparty, limit=limit,
                                         offset=offset)
    return schemas.DocumentPage(total=total, items=[document_out(d) for d in rows])


@router.get("/documents/{document_id}", response_model=schemas.DocumentOut, responses=PROBLEMS)
def get_document(document_id: uuid.UUID, principal: Principal = Depends(READ), session: Session = Depends(request_session, scope="function")):
    """Describe one of the firm's documents with its parsed fields."""
    return document_out(service.get_document(session, _firm(session, principal), document_id), with_fields=True)


@router.get("/documents/{document_id}/file", responses={**PROBLEMS, 200: {"content": {"application/octet-stream": {}}}})
def get_document_file(document_id: uuid.UUID, principal: Principal = Depends(READ),
                      session: Session = Depends(request_session, scope="function")):
    """Download one of the firm's stored files."""
    doc, data = service.document_bytes(session, _firm(session, principal), document_id)
    return Response(data, media_type=domain.MEDIA_TYPES[domain.FileKind(doc.file_kind)])


def _dossier_out(session: Session, dossier) -> schemas.DossierOut:
    keys: dict[str, list[str]] = {}
    for k in service.dossier_keys_of(session, dossier.id):
        keys.setdefault(k.key_type, []).append(k.value)
    check = service.completeness(session, dossier.id)
    return schemas.DossierOut(id=dossier.id, title=dossier.title, keys=keys, complete=check.complete,
                              missing=[c.value for c in check.missing],
                              documents=[document_out(d) for d in service.dossier_documents(session, dossier.id)])


@router.get("/dossiers", response_model=list[schemas.DossierOut], responses=PROBLEMS)
def list_dossiers(principal: Principal = Depends(READ), session: Session = Depends(request_session, scope="function")):
    """List the firm's shipment dossiers with completeness."""
    org = _firm(session, principal)
    return [_dossier_out(session, d) for d in service.dossiers(session, org)[:200]]


@router.get("/dossiers/{dossier_id}", response_model=schemas.DossierOut, responses=PROBLEMS)
def get_dossier(dossier_id: uuid.UUID, principal: Principal = Depends(READ), session: Session = Depends(request_session, scope="function")):
    """Describe one of the firm's dossiers."""
    return _dossier_out(session, service.get_dossier(session, _firm(session, principal), dossier_id))


# ---------------------------------------------------------------------------------------- bank pulls


@router.get("/shared/dossiers/{dossier_id}", responses=PULL_PROBLEMS)
def pull_dossier(dossier_id: uuid.UUID, purpose: str = Query(..., max_length=64),
                 fields: list[str] = Query(["documents"], max_length=5), principal: Principal = Depends(READ),
                 session: Session = Depends(consent.request_session, scope="function")) -> dict[str, Any]:
    """Pull a firm's dossier under its grant to the caller's bank; the pull is on the ledger and shown to the firm."""
    bank = _bank(session, principal)
    return sharing.pull_dossier(session, bank_org_id=bank, token_id=principal.token_id, dossier_id=dossier_id,
                                fields=fields, purpose=purpose).payload


@router.get("/shared/documents/{document_id}", responses=PULL_PROBLEMS)
def pull_document(document_id: uuid.UUID, purpose: str = Query(..., max_length=64),
                  fields: list[str] = Query(["fields"], max_length=2), principal: Principal = Depends(READ),
                  session: Session = Depends(consent.request_session, scope="function")) -> dict[str, Any]:
    """Pull one of a firm's documents (its fields) under its grant to the caller's bank."""
    bank = _bank(session, principal)
    pulled, _ = sharing.pull_document(session, bank_org_id=bank, token_id=principal.token_id, document_id=document_id,
                                      fields=[f for f in fields if f != "file"] or ["fields"], purpose=purpose)
    return pulled.payload


@router.get("/shared/documents/{document_id}/file", responses={**PULL_PROBLEMS, 200: {"content": {"application/octet-stream": {}}}})
def pull_document_file(document_id: uuid.UUID, purpose: str = Query(..., max_length=64),
                       principal: Principal = Depends(READ), session: Session = Depends(consent.request_session, scope="function")):
    """Pull one of a firm's files under a grant that names the file field; the receipt is in X-Ledger-Leaf."""
    bank = _bank(session, principal)
    pulled, data = sharing.pull_document(session, bank_org_id=bank, token_id=principal.token_id, document_id=document_id,
                                         fields=["file"], purpose=purpose)
    doc = session.get(Document, document_id)
    return Response(data or b"", media_type=domain.MEDIA_TYPES[domain.FileKind(doc.file_kind)],
                    headers={"x-ledger-leaf": pulled.pull.leaf_hash})


@router.get("/shared/profiles/{org_id}", responses=PULL_PROBLEMS)
def pull_profile(org_id: uuid.UUID, purpose: str = Query(..., max_length=64),
                 fields: list[str] = Query(["figures"], max_length=2), principal: Principal = Depends(READ),
                 session: Session = Depends(consent.request_session, scope="function")) -> dict[str, Any]:
    """Pull a firm's trusted profile under its grant to the caller's bank."""
    bank = _bank(session, principal)
    return sharing.pull_profile(session, bank_org_id=bank, token_id=principal.token_id, org_id=org_id, fields=fields,
                                purpose=purpose, figures=lambda: profile.compute(session, org_id)).payload
