"""Standards pages: public search, a standard and its text, statistics, feeds; joint drafts and shared notices."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core.identity import Principal, public, signed_in
from openzone.db import request_session
from openzone.kit import i18n
from openzone.kit.errors import Problem, ValidationFailed
from openzone.kit.routing import Router
from openzone.kit.time import rfc3339, today_cst, utcnow
from openzone.services.standards import domain, service, workflow
from openzone.web import add_template_dir, form_errors, render

add_template_dir(Path(__file__).parent / "templates")
router = Router(include_in_schema=False)
FILTERS = ("region", "status", "ics", "year")
PER_PAGE = 10


def _labels() -> dict[str, object]:
    return {"region_labels": {r.value: v for r, v in domain.REGION_LABELS.items()},
            "status_labels": {s.value: v for s, v in domain.STATUS_LABELS.items()},
            "stage_labels": {s.value: v for s, v in domain.STAGE_LABELS.items()},
            "notice_kinds": workflow.NOTICE_KINDS}


def _url(base: str, params: dict[str, list[str]]) -> str:
    pairs = [(k, v) for k, values in params.items() for v in values if v]
    return base + ("?" + urlencode(pairs) if pairs else "")


@router.get("/standards", dependencies=[Depends(public())])
def search_page(request: Request, q: str = Query("", max_length=256), region: list[str] = Query([]),
                status: list[str] = Query([]), ics: list[str] = Query([]), year: list[str] = Query([]),
                page: int = Query(1, ge=1, le=1000), session: Session = Depends(request_session, scope="function")):
    """Search the library with filters, facets and highlighted snippets (no sign-in)."""
    chosen = {"region": region, "status": status, "ics": ics, "year": year}
    filters = {k: v for k, v in chosen.items() if v}
    errors: list[dict[str, str]] = []
    results = found = numbers = None
    try:
        results, found = service.search_standards(session, query=q, filters=filters, page=page, per_page=PER_PAGE)
        numbers = service.numbers_for(session, [s.id for s in found.values()])
    except Problem as problem:
        errors = form_errors(problem, "q")
    facet_links: dict[str, list[dict[str, object]]] = {}
    if results is not None:
        for name, values in results.facets.items():
            rows = []
            for value, count in values:
                selected = value in chosen[name]
                toggled = dict(chosen, **{name: [v for v in chosen[name] if v != value] if selected else [*chosen[name], value]})
                rows.append({"value": value, "count": count, "selected": selected,
                             "url": _url("/standards", {"q": [q], **toggled})})
            facet_links[name] = rows
    pages = None
    if results is not None and results.total > PER_PAGE:
        last = min((results.total + PER_PAGE - 1) // PER_PAGE, 1000)
        pages = {"prev": _url("/standards", {"q": [q], **chosen, "page": [str(page - 1)]}) if page > 1 else None,
                 "next": _url("/standards", {"q": [q], **chosen, "page": [str(page + 1)]}) if page < last else None,
                 "page": page, "last": last}
    return render(request, "standards/search.html", {
        "q": q, "results": results, "found": found or {}, "numbers": numbers or {}, "facets": facet_links,
        "errors": errors, "pages": pages, "chosen": chosen, **_labels()}, status_code=400 if errors else 200)


@router.get("/standards/statistics", dependencies=[Depends(public())])
def statistics_page(request: Request, session: Session = Depends(request_session, scope="function")):
    """Show counts of standards by region, status and ICS field as tables with bars."""
    return render(request, "standards/statistics.html", {"stats": service.statistics(session), **_labels()})


@router.get("/standards/feed.atom", dependencies=[Depends(public())])
def feed(request: Request, session: Session = Depends(request_session, scope="function")):
    """Serve an Atom feed of new and changed standards."""
    changes = service.recent_changes(session, limit=50)
    numbers = service.numbers_for(session, {s.id for _, s in changes})
    entries = [{"id": f"urn:uuid:{c.id}", "updated": rfc3339(c.created_at), "standard": s,
                "numbers": numbers.get(s.id, []), "kind": c.kind, "fields": c.fields} for c, s in changes]
    return _atom(request, "standards/feed.atom", {
        "title": i18n.pick("京津冀地方标准：新增和变更", "Regional standards: new and changed"),
        "self": "/standards/feed.atom", "feed_id": "urn:openzone:standards:changes", "entries": entries,
        "updated": entries[0]["updated"] if entries else rfc3339(utcnow())})


def _atom(request: Request, template: str, ctx: dict) -> Response:
    page = render(request, template, {"base_url": get_settings().base_url.rstrip("/"), **ctx})
    return Response(page.body, media_type="application/atom+xml; charset=utf-8")


@router.get("/standards/notices", dependencies=[Depends(public())])
def notices_page(request: Request, session: Session = Depends(request_session, scope="function")):
    """List the plans, work points, policies and notices the three regions share."""
    actor = _maybe_actor(request, session)
    return render(request, "standards/notices.html", {"notices": workflow.notices(session), "actor": actor,
                                                      **_labels()})


@router.get("/standards/notices.atom", dependencies=[Depends(public())])
def notices_feed(request: Request, session: Session = Depends(request_session, scope="function")):
    """Serve an Atom feed of the shared notices."""
    items = workflow.notices(session, limit=50)
    entries = [{"id": f"urn:uuid:{n.id}", "updated": rfc3339(n.created_at), "notice": n} for n in items]
    return _atom(request, "standards/notices.atom", {
        "title": i18n.pick("京津冀标准化共享通知", "Notices shared between the three regions"),
        "self": "/standards/notices.atom", "feed_id": "urn:openzone:standards:notices", "entries": entries, **_labels(),
        "updated": entries[0]["updated"] if entries else rfc3339(utcnow())})


@router.get("/standards/notices/new")
def notice_form(request: Request, principal: Principal = Depends(signed_in()),
                session: Session = Depends(request_session, scope="function")):
    """Show the form a regulator uses to share a notice."""
    return render(request, "standards/notice_new.html", {"form": {}, **_labels()})


@router.post("/standards/notices/new")
def notice_submit(request: Request, kind: str = Form(""), title: str = Form(""), body: str = Form(""),
                  principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Share a notice with the other two regions."""
    try:
        with session.begin_nested():
            actor = workflow.actor_for(session, principal.person_id)
            notice = workflow.publish_notice(session, actor=actor, kind=kind, title=title, body=body)
    except Problem as problem:
        return render(request, "standards/notice_new.html", {
            "form": {"kind": kind, "title": title, "body": body}, "errors": form_errors(problem, "title"),
            **_labels()}, status_code=problem.status)
    return RedirectResponse(f"/standards/notices/{notice.id}", status_code=303)


@router.get("/standards/notices/{notice_id}", dependencies=[Depends(public())])
def notice_page(request: Request, notice_id: uuid.UUID, session: Session = Depends(request_session, scope="function")):
    """Show a shared notice; a reader from another region's regulator leaves a read receipt."""
    notice = workflow.get_notice(session, notice_id)
    actor = _maybe_actor(request, session)
    if actor is not None:
        workflow.mark_read(session, actor=actor, notice_id=notice.id)
    return render(request, "standards/notice.html", {"notice": notice, "receipts": workflow.receipts(session, notice.id),
                                                     **_labels()})


def _maybe_actor(request: Request, session: Session) -> workflow.Actor | None:
    principal = getattr(request.state, "principal", None)
    if principal is None or principal.is_token:
        return None
    try:
        return workflow.actor_for(session, principal.person_id)
    except Problem:
        return None


# ---------------------------------------------------------------------------------------- joint drafts


@router.get("/standards/drafts", dependencies=[Depends(public())])
def drafts_page(request: Request, session: Session = Depends(request_session, scope="function")):
    """List the joint drafts and their stages (anyone may read)."""
    return render(request, "standards/drafts.html", {"drafts": workflow.list_drafts(session),
                                                     "actor": _maybe_actor(request, session), **_labels()})


@router.get("/standards/drafts/new")
def draft_form(request: Request, principal: Principal = Depends(signed_in())):
    """Show the proposal form."""
    return render(request, "standards/draft_new.html", {"form": {}})


@router.post("/standards/drafts/new")
def draft_submit(request: Request, title_zh: str = Form(""), title_en: str = Form(""), scope: str = Form(""),
                 principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Propose a joint standard; the duplicate check runs and the three regulators are notified."""
    try:
        with session.begin_nested():
            actor = workflow.actor_for(session, principal.person_id)
            draft = workflow.propose(session, actor=actor, title_zh=title_zh, title_en=title_en, scope=scope)
    except Problem as problem:
        return render(request, "standards/draft_new.html", {
            "form": {"title_zh": title_zh, "title_en": title_en, "scope": scope},
            "errors": form_errors(problem, "title_zh")}, status_code=problem.status)
    return RedirectResponse(f"/standards/drafts/{draft.id}", status_code=303)


def _draft_context(request: Request, session: Session, draft_id: uuid.UUID) -> dict[str, object]:
    draft = workflow.get_draft(session, draft_id)
    actor = _maybe_actor(request, session)
    return {"draft": draft, "actor": actor, "participants": workflow.participants(session, draft.id),
            "decisions": workflow.decisions(session, draft.id), "comments": workflow.comments(session, draft.id),
            "numbers": workflow.draft_numbers(session, draft.id), "feedback": workflow.feedback_of(session, draft.id),
            "duplicates": workflow.duplicates(session, draft),
            "is_participant": actor is not None and workflow.is_participant(session, draft.id, actor.org_id),
            "today": today_cst(), "workflow_stages": domain.WORKFLOW, **_labels()}


@router.get("/standards/drafts/{draft_id}", dependencies=[Depends(public())])
def draft_page(request: Request, draft_id: uuid.UUID, session: Session = Depends(request_session, scope="function")):
    """Show a draft: its stage and deadline, duplicate check, decisions, comments, numbers and the actions allowed."""
    return render(request, "standards/draft.html", _draft_context(request, session, draft_id))


def _act(request: Request, session: Session, principal: Principal, draft_id: uuid.UUID,
         action: Callable[[workflow.Actor], object], field: str, anchor: str = "") -> Response:
    try:
        with session.begin_nested():
            action(workflow.actor_for(session, principal.person_id))
    except Problem as problem:
        ctx = _draft_context(request, session, draft_id)
        return render(request, "standards/draft.html", ctx | {"errors": form_errors(problem, field)},
                      status_code=problem.status)
    return RedirectResponse(f"/standards/drafts/{draft_id}{anchor}", status_code=303)


def _date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValidationFailed("日期应为 YYYY-MM-DD", "Dates are YYYY-MM-DD",
                               errors=[{"field": field, "code": "date", "message": i18n.gettext("日期应为 YYYY-MM-DD")}]) from exc


@router.post("/standards/drafts/{draft_id}/decide")
def draft_decide(request: Request, draft_id: uuid.UUID, decision: str = Form(""), note: str = Form(""),
                 principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Record the acting regulator's approval or rejection."""
    return _act(request, session, principal, draft_id, lambda a: workflow.decide(
        session, actor=a, draft_id=draft_id, decision=decision, note=note), "decision")


@router.post("/standards/drafts/{draft_id}/participants")
def draft_participant(request: Request, draft_id: uuid.UUID, org_id: str = Form(""), org_name: str = Form(""),
                      principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Add an organisation to the drafting group."""
    def run(actor):
        try:
            org = uuid.UUID(org_id.strip())
        except ValueError as exc:
            raise ValidationFailed("机构编号格式不正确", "The organisation id is not valid",
                                   errors=[{"field": "org_id", "code": "format",
                                            "message": i18n.gettext("机构编号格式不正确")}]) from exc
        return workflow.add_participant(session, actor=actor, draft_id=draft_id, org_id=org, org_name=org_name)
    return _act(request, session, principal, draft_id, run, "org_id")


@router.post("/standards/drafts/{draft_id}/comment-period")
def draft_open_comment(request: Request, draft_id: uuid.UUID, body: str = Form(""), start_on: str = Form(""),
                       end_on: str = Form(""), principal: Principal = Depends(signed_in()),
                       session: Session = Depends(request_session, scope="function")):
    """Open public comment on the draft text."""
    return _act(request, session, principal, draft_id, lambda a: workflow.open_comment(
        session, actor=a, draft_id=draft_id, body=body, start_on=_date(start_on, "start_on"),
        end_on=_date(end_on, "end_on")), "body")


@router.post("/standards/drafts/{draft_id}/comments")
def draft_comment(request: Request, draft_id: uuid.UUID, clause: str = Form(""), text: str = Form(""),
                  principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Comment on the draft (participants only)."""
    return _act(request, session, principal, draft_id, lambda a: workflow.add_comment(
        session, actor=a, draft_id=draft_id, clause=clause, text=text), "text", "#comments")


@router.post("/standards/drafts/{draft_id}/comments/{comment_id}/answer")
def draft_answer(request: Request, draft_id: uuid.UUID, comment_id: uuid.UUID, answer: str = Form(""),
                 principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Answer a comment."""
    return _act(request, session, principal, draft_id, lambda a: workflow.answer_comment(
        session, actor=a, draft_id=draft_id, comment_id=comment_id, answer=answer), "answer", "#comments")


@router.post("/standards/drafts/{draft_id}/close-comment")
def draft_close_comment(request: Request, draft_id: uuid.UUID, principal: Principal = Depends(signed_in()),
                        session: Session = Depends(request_session, scope="function")):
    """End public comment and move to technical review."""
    return _act(request, session, principal, draft_id, lambda a: workflow.close_comment(
        session, actor=a, draft_id=draft_id), "stage")


@router.post("/standards/drafts/{draft_id}/review")
def draft_review(request: Request, draft_id: uuid.UUID, result: str = Form(""), note: str = Form(""),
                 principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Record the technical review's result."""
    def run(actor):
        if result not in ("passed", "failed"):
            raise ValidationFailed("请选择审查结论", "Choose the review result",
                                   errors=[{"field": "result", "code": "choice", "message": i18n.gettext("请选择审查结论")}])
        return workflow.review(session, actor=actor, draft_id=draft_id, passed=result == "passed", note=note)
    return _act(request, session, principal, draft_id, run, "result")


@router.post("/standards/drafts/{draft_id}/sequence")
def draft_sequence(request: Request, draft_id: uuid.UUID, sequence: str = Form(""), year: str = Form(""),
                   principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Propose the shared 3xxx sequence number."""
    def run(actor):
        if not (sequence.strip().isdigit() and year.strip().isdigit()):
            raise ValidationFailed("顺序号和年号须为数字", "The sequence number and year are numbers",
                                   errors=[{"field": "sequence", "code": "format",
                                            "message": i18n.gettext("顺序号和年号须为数字")}])
        return workflow.propose_sequence(session, actor=actor, draft_id=draft_id, sequence=int(sequence),
                                         year=int(year))
    return _act(request, session, principal, draft_id, run, "sequence")


@router.post("/standards/drafts/{draft_id}/confirm-number")
def draft_confirm(request: Request, draft_id: uuid.UUID, number: str = Form(""),
                  principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Confirm the acting region's number, optionally a different one."""
    return _act(request, session, principal, draft_id, lambda a: workflow.confirm_number(
        session, actor=a, draft_id=draft_id, number=number), "number")


@router.post("/standards/drafts/{draft_id}/publish")
def draft_publish(request: Request, draft_id: uuid.UUID, issued_on: str = Form(""), effective_on: str = Form(""),
                  principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Publish the standard under the acting region's number."""
    return _act(request, session, principal, draft_id, lambda a: workflow.publish(
        session, actor=a, draft_id=draft_id, issued_on=_date(issued_on, "issued_on"),
        effective_on=_date(effective_on, "effective_on")), "issued_on")


@router.post("/standards/drafts/{draft_id}/feedback")
def draft_feedback(request: Request, draft_id: uuid.UUID, text: str = Form(""),
                   principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Give implementation feedback on the published standard."""
    return _act(request, session, principal, draft_id, lambda a: workflow.add_feedback(
        session, actor=a, draft_id=draft_id, text=text), "feedback_text", "#feedback")


# ------------------------------------------------------------------------------------- one standard


@router.get("/standards/{standard_id}", dependencies=[Depends(public())])
def standard_page(request: Request, standard_id: uuid.UUID, session: Session = Depends(request_session, scope="function")):
    """Show a standard's bibliographic record, history, amendments and related standards."""
    standard = service.get_standard(session, standard_id)
    related = service.related_to(session, standard)
    numbers = service.numbers_for(session, [s.id for s in related.similar + related.replaced_by]
                                  + [s.id for _, s in related.replaces if s is not None])
    return render(request, "standards/standard.html", {
        "standard": standard, "numbers": service.numbers_of(session, standard.id), "related": related,
        "related_numbers": numbers, "amendments": service.amendments_of(session, standard.id),
        "history": service.history_of(session, standard.id), **_labels()})


@router.get("/standards/{standard_id}/text", dependencies=[Depends(public())])
def reader_page(request: Request, standard_id: uuid.UUID, session: Session = Depends(request_session, scope="function")):
    """Show a standard's full text for reading, paragraph by paragraph."""
    standard = service.get_standard(session, standard_id)
    paragraphs = [p.strip() for p in standard.body.splitlines() if p.strip()]
    return render(request, "standards/text.html", {
        "standard": standard, "numbers": service.numbers_of(session, standard.id), "paragraphs": paragraphs})
