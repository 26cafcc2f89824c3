"""Credit API: the public register, and repair and objection applications with their decisions."""

from __future__ import annotations

import uuid

from fastapi import Depends, Query
from sqlalchemy.orm import Session

from openzone.core.credit import schemas, service
from openzone.core.credit.models import CreditRecord
from openzone.core.credit.service import DECIDERS, decider_org, subject_record
from openzone.core.identity import Principal, public, roles, signed_in
from openzone.db import request_session
from openzone.kit.errors import NotFound
from openzone.kit.routing import Router
from openzone.kit.time import today_cst

router = Router(prefix="/api/v1/credit", tags=["credit"])
PROBLEMS = {401: {"description": "Unauthenticated (problem+json)"}, 403: {"description": "Forbidden (problem+json)"},
            404: {"description": "Not found (problem+json)"}, 409: {"description": "Conflict (problem+json)"},
            422: {"description": "Invalid input (problem+json)"}}


def _public(r: CreditRecord) -> schemas.PublicRecord:
    return schemas.PublicRecord(id=r.id, subject_name=r.subject_name, subject_code=r.subject_code,
                                record_class=r.record_class, legal_basis=r.legal_basis, legal_basis_en=r.legal_basis_en,
                                facts=r.facts, finding_on=r.finding_on, publish_from=r.publish_from,
                                publish_until=r.publish_until, rulebook=r.rulebook, disputed=r.disputed)


@router.get("", response_model=list[schemas.PublicRecord], dependencies=[Depends(public())])
def published(q: str = Query("", max_length=100), session: Session = Depends(request_session, scope="function")):
    """List the records published today, with legal basis and period (no sign-in)."""
    return [_public(r) for r in service.published_records(session, query=q)]


@router.get("/{record_id}", response_model=schemas.PublicRecord, responses=PROBLEMS, dependencies=[Depends(public())])
def published_one(record_id: uuid.UUID, session: Session = Depends(request_session, scope="function")):
    """Return one published record; one not published today is not found."""
    record = session.get(CreditRecord, record_id)
    if record is None or not service.is_shown(record, today_cst()):
        raise NotFound("没有公示中的这条记录", "No such published record")
    return _public(record)


@router.post("/{record_id}/repairs", response_model=schemas.Application, status_code=201, responses=PROBLEMS)
def apply_repair(record_id: uuid.UUID, body: schemas.RepairIn, principal: Principal = Depends(signed_in(scopes=["write"])),
                 session: Session = Depends(request_session, scope="function")):
    """Apply for credit repair of the caller's own organisation's record."""
    record = subject_record(session, principal, record_id)
    repair = service.apply_repair(session, record_id=record.id, applicant_org_id=record.subject_org_id,
                                  obligations_fulfilled=body.obligations_fulfilled,
                                  commitment_signed=body.commitment_signed, statement=body.statement)
    return schemas.Application(id=repair.id, record_id=record.id, received_on=repair.received_on,
                               due_on=repair.due_on, outcome=repair.outcome)


@router.post("/{record_id}/objections", response_model=schemas.Application, status_code=201, responses=PROBLEMS)
def object_to(record_id: uuid.UUID, body: schemas.ObjectionIn, principal: Principal = Depends(signed_in(scopes=["write"])),
              session: Session = Depends(request_session, scope="function")):
    """Object to the caller's own organisation's record; it is marked disputed."""
    record = subject_record(session, principal, record_id)
    objection = service.object_to(session, record_id=record.id, applicant_org_id=record.subject_org_id,
                                  grounds=body.grounds)
    return schemas.Application(id=objection.id, record_id=record.id, received_on=objection.received_on,
                               due_on=objection.due_on, outcome=objection.outcome)


@router.post("/repairs/{repair_id}/decision", response_model=schemas.Application, responses=PROBLEMS)
def decide_repair(repair_id: uuid.UUID, body: schemas.RepairDecisionIn,
                  principal: Principal = Depends(roles(*DECIDERS)), session: Session = Depends(request_session, scope="function")):
    """Grant or refuse a repair application (officials and supervisors)."""
    repair = service.decide_repair(session, repair_id=repair_id, granted=body.granted, reason=body.reason,
                                   actor_org_id=decider_org(principal))
    return schemas.Application(id=repair.id, record_id=repair.record_id, received_on=repair.received_on,
                               due_on=repair.due_on, outcome=repair.outcome)


@router.post("/objections/{objection_id}/decision", response_model=schemas.Application, responses=PROBLEMS)
def decide_objection(objection_id: uuid.UUID, body: schemas.ObjectionDecisionIn,
                     principal: Principal = Depends(roles(*DECIDERS)), session: Session = Depends(request_session, scope="function")):
    """Correct, remove or confirm a disputed record (officials and supervisors)."""
    objection = service.decide_objection(session, objection_id=objection_id, outcome=body.outcome, reason=body.reason,
                                         actor_org_id=decider_org(principal), new_class=body.new_class,
                                         new_legal_basis=body.new_legal_basis)
    return schemas.Application(id=objection.id, record_id=objection.record_id, received_on=objection.received_on,
                               due_on=objection.due_on, outcome=objection.outcome)
