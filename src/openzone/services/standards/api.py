"""Standards open-data API: search, a standard, changes since an instant, bulk export; joint drafts."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from openzone.core.identity import Principal, public, signed_in
from openzone.db import request_session
from openzone.kit.errors import ValidationFailed
from openzone.kit.routing import Router
from openzone.services.standards import domain, schemas, service, workflow
from openzone.services.standards.models import Standard

router = Router(prefix="/api/v1/standards", tags=["standards"])
PROBLEMS = {400: {"description": "Bad query (problem+json)"}, 404: {"description": "Not found (problem+json)"},
            422: {"description": "Invalid input (problem+json)"}}
WRITE_PROBLEMS = {**PROBLEMS, 401: {"description": "Unauthenticated (problem+json)"},
                  403: {"description": "Forbidden (problem+json)"}, 409: {"description": "Conflict (problem+json)"}}


def _item(standard: Standard, numbers: list[str], *, score: float | None = None,
          highlights: dict[str, str] | None = None) -> schemas.StandardItem:
    return schemas.StandardItem(id=standard.id, numbers=numbers, title_zh=standard.title_zh,
                                title_en=standard.title_en, status=standard.status,
                                status_zh=domain.status_label(standard.status)[0], effective_on=standard.effective_on,
                                joint=standard.joint, sample=standard.sample, score=score, highlights=highlights or {})


@router.get("", response_model=schemas.SearchPage, responses=PROBLEMS, dependencies=[Depends(public())])
def search_standards(q: str = Query("", max_length=256, description="Query: words, \"phrases\", -exclusions"),
                     region: list[str] = Query([], max_length=10), status: list[str] = Query([], max_length=10),
                     ics: list[str] = Query([], max_length=10), ccs: list[str] = Query([], max_length=10),
                     year: list[str] = Query([], max_length=10), page: int = Query(1, ge=1, le=1000),
                     per_page: int = Query(20, ge=1, le=100), session: Session = Depends(request_session, scope="function")):
    """Search the standards as the public pages do: same query language, filters, ranking and facets."""
    filters = {k: v for k, v in {"region": region, "status": status, "ics": ics, "ccs": ccs, "year": year}.items() if v}
    results, found = service.search_standards(session, query=q, filters=filters, page=page, per_page=per_page)
    numbers = service.numbers_for(session, [s.id for s in found.values()])
    items = [_item(found[h.key], numbers.get(found[h.key].id, []), score=h.score, highlights=dict(h.highlights))
             for h in results.hits if h.key in found]
    return schemas.SearchPage(query=q, total=results.total, page=results.page, per_page=results.per_page,
                              mode=results.mode, items=items,
                              facets={k: [schemas.FacetValue(value=v, count=n) for v, n in vals]
                                      for k, vals in results.facets.items()})


@router.get("/changes", response_model=schemas.ChangePage, responses=PROBLEMS, dependencies=[Depends(public())])
def changes(since: dt.datetime = Query(..., description="RFC 3339 instant, e.g. 2026-01-01T00:00:00Z"),
            limit: int = Query(100, ge=1, le=500), session: Session = Depends(request_session, scope="function")):
    """List standards added or changed after an instant, oldest first."""
    if since.tzinfo is None:
        raise ValidationFailed("since 须带时区，例如 2026-01-01T00:00:00Z", "since needs a time zone, e.g. 2026-01-01T00:00:00Z",
                               errors=[{"field": "since", "code": "timezone"}])
    rows = service.changes_since(session, since, limit=limit)
    numbers = service.numbers_for(session, {s.id for _, s in rows})
    items = [schemas.ChangeItem(at=c.created_at, kind=c.kind, fields=c.fields, standard=_item(s, numbers.get(s.id, [])))
             for c, s in rows]
    return schemas.ChangePage(items=items, next_since=rows[-1][0].created_at if len(rows) == limit else None)


def _export(session: Session, render, media_type: str, filename: str) -> StreamingResponse:
    # Records are read in the request's own transaction (bibliographic data only, a few MB for the whole library):
    # a second transaction opened while streaming would wait on the first one's SQLite write lock.
    records = list(service.export_records(session))
    return StreamingResponse(render(records), media_type=media_type,
                             headers={"content-disposition": f'attachment; filename="{filename}"'})


def _json_lines(records):
    yield "["
    for i, record in enumerate(records):
        yield ("," if i else "") + json.dumps(record, ensure_ascii=False)
    yield "]"


@router.get("/export.json", responses={200: {"content": {"application/json": {}}}}, dependencies=[Depends(public())])
def export_json(session: Session = Depends(request_session, scope="function")):
    """Export every standard's bibliographic record as one JSON array (no full text)."""
    return _export(session, _json_lines, "application/json", "standards.json")


@router.get("/export.csv", responses={200: {"content": {"text/csv": {}}}}, dependencies=[Depends(public())])
def export_csv(session: Session = Depends(request_session, scope="function")):
    """Export every standard's bibliographic record as UTF-8 CSV with a header row (lists joined by semicolons)."""
    return _export(session, service.export_csv, "text/csv; charset=utf-8", "standards.csv")


def _draft_out(session: Session, draft) -> schemas.DraftOut:
    return schemas.DraftOut(
        id=draft.id, title_zh=draft.title_zh, title_en=draft.title_en, scope=draft.scope, proposer=draft.proposer_name,
        stage=draft.stage, stage_zh=domain.stage_label(draft.stage)[0], due_on=draft.due_on,
        due_provisional=draft.due_provisional, standard_id=draft.standard_id,
        numbers={n.region: n.number for n in workflow.draft_numbers(session, draft.id)},
        similar=[schemas.SimilarOut(id=s.id, numbers=nums, title_zh=s.title_zh)
                 for s, _, nums in workflow.duplicates(session, draft)])


@router.get("/drafts", response_model=list[schemas.DraftOut], responses=PROBLEMS, dependencies=[Depends(public())])
def list_drafts(session: Session = Depends(request_session, scope="function")):
    """List the joint drafts with their stages, deadlines and duplicate checks."""
    return [_draft_out(session, d) for d in workflow.list_drafts(session)[:100]]


@router.post("/drafts", response_model=schemas.DraftOut, status_code=201, responses=WRITE_PROBLEMS)
def propose(body: schemas.DraftIn, principal: Principal = Depends(signed_in(scopes=("write",))),
            session: Session = Depends(request_session, scope="function")):
    """Propose a joint standard for the caller's organisation (a regulator or a sector department)."""
    actor = workflow.actor_for(session, principal.person_id, org_id=principal.token_org_id)
    draft = workflow.propose(session, actor=actor, title_zh=body.title_zh, title_en=body.title_en, scope=body.scope)
    return _draft_out(session, draft)


@router.get("/drafts/{draft_id}", response_model=schemas.DraftOut, responses=PROBLEMS, dependencies=[Depends(public())])
def get_draft(draft_id: uuid.UUID, session: Session = Depends(request_session, scope="function")):
    """Describe one joint draft."""
    return _draft_out(session, workflow.get_draft(session, draft_id))


@router.post("/drafts/{draft_id}/decisions", response_model=schemas.DraftOut, responses=WRITE_PROBLEMS)
def decide(draft_id: uuid.UUID, body: schemas.DecisionIn, principal: Principal = Depends(signed_in(scopes=("write",))),
           session: Session = Depends(request_session, scope="function")):
    """Record the caller's regulator's approval or rejection at joint or final approval."""
    actor = workflow.actor_for(session, principal.person_id, org_id=principal.token_org_id)
    return _draft_out(session, workflow.decide(session, actor=actor, draft_id=draft_id, decision=body.decision,
                                               note=body.note))


@router.get("/{standard_id}", response_model=schemas.StandardDetail, responses=PROBLEMS, dependencies=[Depends(public())])
def get_standard(standard_id: uuid.UUID, session: Session = Depends(request_session, scope="function")):
    """Describe one standard in full: bibliographic data, scope, full text, replacements and amendments."""
    s = service.get_standard(session, standard_id)
    related = service.related_to(session, s, limit=0)
    base = _item(s, [n.text for n in service.numbers_of(session, s.id)])
    return schemas.StandardDetail(
        **base.model_dump(), issued_on=s.issued_on, withdrawn_on=s.withdrawn_on, ics=s.ics, ccs=s.ccs,
        department=s.department, drafters=list(s.drafters or []), keywords=list(s.keywords or []), scope=s.scope,
        body=s.body, body_source=s.body_source, note=s.note, replaces=[n for n, _ in related.replaces],
        replaced_by=[r.id for r in related.replaced_by],
        amendments=[schemas.Amendment(issued_on=a.issued_on, summary=a.summary) for a in service.amendments_of(session, s.id)],
        updated_at=s.updated_at)
