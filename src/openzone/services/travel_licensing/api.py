"""Travel-licensing API: apply in one request, the firm's case, deposits, inspection results, licences, statistics."""

from __future__ import annotations

import base64
import binascii
import uuid

from fastapi import Depends
from sqlalchemy.orm import Session

from openzone.core.identity import Principal, public, roles, signed_in
from openzone.db import request_session
from openzone.kit.errors import Forbidden, NotFound, ValidationFailed
from openzone.kit.routing import Router
from openzone.services.travel_licensing import schemas, service
from openzone.services.travel_licensing.models import Application, Inspection, Obligation

router = Router(prefix="/api/v1/travel-licensing", tags=["travel-licensing"])
PROBLEMS = {401: {"description": "Unauthenticated (problem+json)"}, 403: {"description": "Forbidden (problem+json)"},
            404: {"description": "Not found (problem+json)"}, 409: {"description": "Conflict (problem+json)"},
            422: {"description": "Invalid input (problem+json)"}}
STAFF = ("official", "clerk", "supervisor")
CLERKS = ("official", "clerk")


def _firm_orgs(principal: Principal) -> set[uuid.UUID]:
    if principal.is_token:
        return {principal.token_org_id}
    return principal.orgs_with("org_admin", "staff")


def _out(session: Session, app: Application) -> schemas.ApplicationOut:
    licence = service.licence_of(session, app.id)
    return schemas.ApplicationOut(id=app.id, status=app.status, route=app.route, automatic=app.automatic,
                                  submitted_at=app.submitted_at, decision_due_at=app.decision_due_at,
                                  decided_at=app.decided_at, licence_number=licence.number if licence else None,
                                  checks=app.checks or {})


@router.post("/applications", response_model=schemas.ApplicationOut, status_code=201, responses=PROBLEMS)
def apply(body: schemas.ApplicationIn, principal: Principal = Depends(signed_in(scopes=["write"])),
          session: Session = Depends(request_session, scope="function")):
    """Apply in one request: answers, route and signature; approved at once when every check passes."""
    orgs = {principal.token_org_id} if principal.is_token else principal.orgs_with("org_admin")
    if not orgs:
        raise Forbidden("只有企业的机构管理员可以提出申请", "Only an enterprise's administrator may apply")
    org_id = sorted(orgs)[0]
    service.ensure_unique_open(session, org_id)
    app = service.start_application(session, org_id=org_id, person_id=principal.person_id)
    form = body.model_dump()
    pages = {
        "enterprise": {"name": form["name"], "uscc": form["uscc"]},
        "legal_rep": {"legal_rep_name": form["legal_rep_name"], "legal_rep_id": form["legal_rep_id"]},
        "premises": {k: str(form[k]) for k in ("premises_address", "tenure", "lease_months")},
        "facilities": {"phone_lines": str(form["phone_lines"]),
                       **{k: "yes" if form[k] else "" for k in ("has_fax", "has_copier", "has_computer")}},
        "capital": {"capital_yuan": str(form["capital_yuan"])},
        "staff": {"staff_count": str(form["staff_count"]), "guide_count": str(form["guide_count"])},
        "managers": {"managers": "\n".join(f"{m['name']},{m['role']},{m['years']}" for m in form["managers"])},
        "branches": {"branches": str(form["branches"])},
    }
    for step in service.STEPS:
        service.save_step(session, application=app, step=step, form=pages[step])
    service.choose_route(session, application=app, route=body.route)
    if body.route == "commitment":
        service.sign(session, application=app, read_notice=body.read_notice, commit=body.commit)
    service.submit(session, application=app)
    return _out(session, app)


@router.get("/applications/{application_id}", response_model=schemas.ApplicationOut, responses=PROBLEMS)
def get_application(application_id: uuid.UUID, principal: Principal = Depends(signed_in(scopes=["read"])),
                    session: Session = Depends(request_session, scope="function")):
    """Return a case to its firm, or to licensing staff; another firm's case is not found."""
    staff = not principal.is_token and bool(principal.orgs_with(*STAFF))
    app = service.get_application(session, application_id, org_ids=None if staff else _firm_orgs(principal))
    return _out(session, app)


@router.post("/obligations/{obligation_id}/deposit", response_model=schemas.ObligationOut, responses=PROBLEMS)
def record_deposit(obligation_id: uuid.UUID, body: schemas.DepositIn,
                   principal: Principal = Depends(signed_in(scopes=["write"])), session: Session = Depends(request_session, scope="function")):
    """Record the firm's deposit or bank guarantee with its evidence."""
    ob = session.get(Obligation, obligation_id)
    if ob is None or ob.org_id not in _firm_orgs(principal):
        raise NotFound("没有这项义务", "No such obligation")
    try:
        evidence = base64.b64decode(body.evidence_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed("凭证须为 base64", "The evidence must be base64",
                               errors=[{"field": "evidence_base64", "code": "base64"}]) from exc
    service.record_deposit(session, obligation=ob, method=body.method, bank=body.bank, amount_fen=body.amount_yuan * 100,
                           paid_on=body.paid_on, evidence_name=body.evidence_name, evidence=evidence)
    return schemas.ObligationOut(id=ob.id, kind=ob.kind, amount_fen=ob.amount_fen, due_on=ob.due_on, status=ob.status,
                                 on_time=ob.on_time)


def _obligation_out(ob: Obligation) -> schemas.ObligationOut:
    return schemas.ObligationOut(id=ob.id, kind=ob.kind, amount_fen=ob.amount_fen, due_on=ob.due_on, status=ob.status,
                                 on_time=ob.on_time)


def _licence_of(session: Session, app: Application):
    licence = service.licence_of(session, app.id)
    if licence is None:
        raise service.WrongState("尚未发证", "No licence has been issued")
    return licence


@router.post("/applications/{application_id}/branches", response_model=schemas.ObligationOut, status_code=201,
             responses=PROBLEMS)
def add_branch(application_id: uuid.UUID, principal: Principal = Depends(signed_in(scopes=["write"])),
               session: Session = Depends(request_session, scope="function")):
    """Register a new branch of the firm's licensed agency; its RMB 50,000 deposit falls due (art. 14)."""
    app = service.get_application(session, application_id, org_ids=_firm_orgs(principal))
    ob = service.add_branch(session, licence=_licence_of(session, app), actor_org_id=app.org_id)
    return _obligation_out(ob)


@router.post("/applications/{application_id}/top-ups", response_model=schemas.ObligationOut, status_code=201,
             responses=PROBLEMS)
def order_top_up(application_id: uuid.UUID, body: schemas.TopUpIn, principal: Principal = Depends(roles(*CLERKS)),
                 session: Session = Depends(request_session, scope="function")):
    """Order the firm to top up its deposit within 5 working days of the notice (art. 18); clerks only."""
    app = service.get_application(session, application_id)
    ob = service.order_top_up(session, licence=_licence_of(session, app), amount_fen=body.amount_yuan * 100,
                              actor_org_id=sorted(principal.orgs_with(*CLERKS))[0])
    return _obligation_out(ob)


@router.post("/inspections/{inspection_id}/result", response_model=schemas.InspectionOut, responses=PROBLEMS)
def record_inspection(inspection_id: uuid.UUID, body: schemas.InspectionIn,
                      principal: Principal = Depends(roles("supervisor")), session: Session = Depends(request_session, scope="function")):
    """Record an inspection result; only the inspectors assigned to it may."""
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFound("没有这项检查", "No such inspection")
    service.record_inspection(session, inspection=inspection, person_id=principal.person_id,
                              actor_org_id=sorted(principal.orgs_with("supervisor"))[0], result=body.result,
                              notes=body.notes, breach_kind=body.breach_kind, record_class=body.record_class)
    return schemas.InspectionOut(id=inspection.id, status=inspection.status, result=inspection.result,
                                 breach_id=inspection.breach_id)


@router.get("/licences/{number}", response_model=schemas.LicenceOut, responses=PROBLEMS, dependencies=[Depends(public())])
def licence(number: str, session: Session = Depends(request_session, scope="function")):
    """Let anyone check a licence by its number."""
    lic = service.licence_by_number(session, number)
    if lic is None:
        raise NotFound("没有这个许可证编号", "No licence has that number")
    content = service.licence_content(lic, session.get(Application, lic.application_id))
    return schemas.LicenceOut(number=lic.number, name=content["name"], uscc=content["uscc"], issued_on=lic.issued_on,
                              status=lic.status, revoked_on=lic.revoked_on, content_sha256=lic.pdf_sha256)


@router.get("/statistics", dependencies=[Depends(public())])
def statistics(session: Session = Depends(request_session, scope="function")) -> dict:
    """Return the case's figures as JSON: licences by route, deposits on time, breaches, repairs, decision time."""
    return service.statistics(session)
