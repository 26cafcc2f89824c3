"""Credit pages: the public register (no sign-in), a subject's own records with repair and objection, the review queue."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from openzone.core.credit import domain, service
from openzone.core.credit.models import CreditRecord
from openzone.core.credit.service import DECIDERS, decider_org, subject_record
from openzone.core.identity import Principal, public, roles, signed_in
from openzone.db import request_session
from openzone.kit.errors import NotFound, Problem
from openzone.kit.routing import Router
from openzone.kit.time import today_cst
from openzone.web import add_template_dir, form_errors, render

add_template_dir(Path(__file__).parent / "templates")
router = Router(include_in_schema=False)


def _labels() -> dict[str, object]:
    return {"class_labels": {c.value: v for c, v in domain.CLASS_LABELS.items()},
            "status_labels": {s.value: v for s, v in domain.STATUS_LABELS.items()},
            "outcome_labels": {o.value: v for o, v in domain.OUTCOME_LABELS.items()}}


@router.get("/credit", dependencies=[Depends(public())])
def register_page(request: Request, q: str = Query("", max_length=100), session: Session = Depends(request_session, scope="function")):
    """Show the records published today with their legal basis and period (no sign-in)."""
    return render(request, "credit/register.html", {"records": service.published_records(session, query=q), "q": q,
                                                    "today": today_cst(), **_labels()})


@router.get("/credit/mine")
def mine_page(request: Request, principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Show the records of the caller's organisations, with repair and objection forms."""
    return render(request, "credit/mine.html", _mine_context(session, principal))


def _mine_context(session: Session, principal: Principal) -> dict[str, object]:
    rows = []
    for org in sorted(principal.orgs_with("org_admin", "staff")):
        for record in service.records_of(session, org_id=org):
            rows.append({"record": record, "repairs": service.repairs_of(session, record.id),
                         "objections": service.objections_of(session, record.id)})
    return {"rows": rows, "today": today_cst(), "errors": [], "commitment": service.REPAIR_COMMITMENT, **_labels()}


def _act(request: Request, session: Session, principal: Principal, action, field: str):
    try:
        with session.begin_nested():
            action()
    except Problem as problem:
        ctx = _mine_context(session, principal) | {"errors": form_errors(problem, field)}
        return render(request, "credit/mine.html", ctx, status_code=problem.status)
    return RedirectResponse("/credit/mine", status_code=303)


@router.post("/credit/mine/{record_id}/repair")
def repair_submit(request: Request, record_id: uuid.UUID, obligations: str = Form(""), commitment: str = Form(""),
                  statement: str = Form(""), principal: Principal = Depends(signed_in()),
                  session: Session = Depends(request_session, scope="function")):
    """Apply for credit repair of one's own record."""
    record = subject_record(session, principal, record_id)
    return _act(request, session, principal, lambda: service.apply_repair(
        session, record_id=record.id, applicant_org_id=record.subject_org_id, obligations_fulfilled=obligations == "yes",
        commitment_signed=commitment == "yes", statement=statement), "repair")


@router.post("/credit/mine/{record_id}/objection")
def objection_submit(request: Request, record_id: uuid.UUID, grounds: str = Form(""),
                     principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Object to one's own record; it is marked disputed until decided."""
    record = subject_record(session, principal, record_id)
    return _act(request, session, principal, lambda: service.object_to(
        session, record_id=record.id, applicant_org_id=record.subject_org_id, grounds=grounds), "grounds")


@router.get("/credit/review")
def review_page(request: Request, principal: Principal = Depends(roles(*DECIDERS, platform_admin=True)),
                session: Session = Depends(request_session, scope="function")):
    """Show pending repair applications and objections, earliest deadline first."""
    return render(request, "credit/review.html", {"repairs": service.pending_repairs(session),
                                                  "objections": service.pending_objections(session),
                                                  "today": today_cst(), **_labels()})


@router.post("/credit/review/repairs/{repair_id}")
def repair_decide(request: Request, repair_id: uuid.UUID, granted: str = Form(""), reason: str = Form(""),
                  principal: Principal = Depends(roles(*DECIDERS)), session: Session = Depends(request_session, scope="function")):
    """Grant or refuse a repair application."""
    service.decide_repair(session, repair_id=repair_id, granted=granted == "yes", reason=reason or "—",
                          actor_org_id=decider_org(principal))
    return RedirectResponse("/credit/review", status_code=303)


@router.post("/credit/review/objections/{objection_id}")
def objection_decide(request: Request, objection_id: uuid.UUID, outcome: str = Form(""), reason: str = Form(""),
                     new_class: str = Form(""), principal: Principal = Depends(roles(*DECIDERS)),
                     session: Session = Depends(request_session, scope="function")):
    """Correct, remove or confirm a disputed record."""
    if outcome not in {o.value for o in domain.ObjectionOutcome}:
        raise domain.InvalidFinding("请选择处理结果", "Choose an outcome", errors=[{"field": "outcome", "code": "required"}])
    service.decide_objection(session, objection_id=objection_id, outcome=outcome, reason=reason or "—",
                             actor_org_id=decider_org(principal), new_class=new_class or None)
    return RedirectResponse("/credit/review", status_code=303)


@router.get("/credit/{record_id}", dependencies=[Depends(public())])
def record_page(request: Request, record_id: uuid.UUID, session: Session = Depends(request_session, scope="function")):
    """Show one published record; one not published today is not found."""
    record = session.get(CreditRecord, record_id)
    if record is None or not service.is_shown(record, today_cst()):
        raise NotFound("没有公示中的这条记录", "No such published record")
    return render(request, "credit/record.html", {"record": record, **_labels()})
