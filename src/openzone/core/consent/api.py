"""Consent JSON API for requesters: ask for a grant, redeem a QR code or code at a window, text a code, use a grant."""

from __future__ import annotations

import uuid

from fastapi import Depends, Query
from sqlalchemy.orm import Session

from openzone.core import identity
from openzone.core.consent import domain, schemas, service
from openzone.core.consent.domain import Holder, Requester
from openzone.core.consent.models import Grant
from openzone.core.identity import Principal, Role
from openzone.db import request_session
from openzone.kit.errors import Forbidden, NotFound, ValidationFailed
from openzone.kit.routing import Router

router = Router(prefix="/api/v1/consent", tags=["consent"])
PROBLEMS = {401: {"description": "Unauthenticated (problem+json)"}, 403: {"description": "Forbidden or refused (problem+json)"},
            404: {"description": "Not found (problem+json)"}, 422: {"description": "Invalid input (problem+json)"}}
# Who may ask for and use grants: staff acting for their organisation at a counter or in a back office.
REQUESTER_ROLES = (Role.CLERK, Role.OFFICIAL, Role.ORG_ADMIN)
ASK = identity.roles(*REQUESTER_ROLES, scopes=("write",))
READ = identity.roles(*REQUESTER_ROLES, scopes=("read",))


def requester_of(principal: Principal, place: schemas.Place) -> Requester:
    """Build the requester a caller acts as: its organisation, hall and window, and the clerk or the API client."""
    problems = domain.Problems()
    hall = domain.check_place(place.hall, "hall", problems)
    window = domain.check_place(place.window, "window", problems)
    service.raise_problems(problems)
    if principal.is_token:
        if place.org_id is not None and place.org_id != principal.token_org_id:
            raise Forbidden("令牌只能代表其所属机构", "A token acts for its own organisation only")
        return Requester(principal.token_org_id, hall, window, None, principal.token_id)
    orgs = principal.orgs_with(*REQUESTER_ROLES)
    if place.org_id is not None:
        if place.org_id not in orgs:
            raise Forbidden("您不能代表该机构", "You do not act for this organisation")
        org = place.org_id
    elif len(orgs) == 1:
        (org,) = orgs
    else:
        raise ValidationFailed("请指定代表哪个机构（org_id）", "Say which organisation you act for (org_id)",
                               errors=[{"field": "org_id", "code": "required"}])
    return Requester(org, hall, window, principal.person_id, None)


def _out(grant: Grant) -> schemas.GrantOut:
    out = schemas.GrantOut.model_validate(grant)
    return out.model_copy(update={"status": service.status_of(grant).value})


def _holder(session: Session, ref: schemas.HolderRef) -> Holder:
    if ref.kind == "organisation":
        if ref.org_id is None or service.organisation(session, ref.org_id) is None:
            raise NotFound("数据所有人机构不存在", "No such holder organisation")
        return Holder.organisation(ref.org_id)
    if ref.id_number:
        person = identity.find_person_by_id_number(session, identity.validate_id_number(ref.id_number))
        if person is None:
            raise NotFound("没有持此身份证号码的用户", "No user holds this ID number")
        return Holder.person(person.id)
    if ref.person_id is not None:
        identity.contact_for(session, ref.person_id)  # NotFound for an unknown person
        return Holder.person(ref.person_id)
    raise ValidationFailed("请提供数据所有人的身份证号码或编号", "Name the holder by ID number or id",
                           errors=[{"field": "holder", "code": "required"}])


@router.post("/requests", response_model=schemas.GrantOut, status_code=201, responses=PROBLEMS)
def request_grant(body: schemas.GrantRequestIn, principal: Principal = Depends(ASK),
                  session: Session = Depends(request_session, scope="function")):
    """Ask a holder for a grant; the holder sees the purpose and a preview, and approves or declines."""
    requester = requester_of(principal, body)
    holder = _holder(session, body.holder)
    terms = service.check_terms(
        scope=[line.model_dump() for line in body.scope], purpose=body.purpose, purpose_text=body.purpose_text,
        reason=body.reason, valid_from=body.valid_from, valid_until=body.valid_until, days=body.days,
        use_mode=body.use_mode, max_uses=body.max_uses, frequency=body.frequency, frequency_uses=body.frequency_uses,
        data_life_days=body.data_life_days)
    if body.client_only and not principal.is_token:
        raise ValidationFailed("只有通过访问令牌的请求才能限定到该令牌", "Only a token request can be narrowed to the token",
                               errors=[{"field": "client_only", "code": "token"}])
    grant = service.request_grant(session, requester=requester, holder=holder, terms=terms,
                                  narrow_to_client=body.client_only,
                                  by_person=None if principal.is_token else principal.person_id)
    return _out(grant)


@router.get("/grants", response_model=schemas.GrantPage, responses=PROBLEMS)
def list_grants(org_id: uuid.UUID | None = None, cursor: str | None = Query(None, max_length=200),
                limit: int = Query(50, ge=1, le=200), principal: Principal = Depends(READ),
                session: Session = Depends(request_session, scope="function")):
    """List the grants the caller's organisation asked for or received, a page at a time, oldest first."""
    requester = requester_of(principal, schemas.Place(org_id=org_id))
    page = service.requested_by_org(session, requester.org_id, cursor=cursor, limit=limit)
    return schemas.GrantPage(items=[_out(g) for g in page.items], next_cursor=page.next_cursor)


@router.get("/grants/{grant_id}", response_model=schemas.GrantOut, responses=PROBLEMS)
def get_grant(grant_id: uuid.UUID, org_id: uuid.UUID | None = None, principal: Principal = Depends(READ),
              session: Session = Depends(request_session, scope="function")):
    """Describe one grant given to the caller's organisation."""
    requester = requester_of(principal, schemas.Place(org_id=org_id))
    grant = session.get(Grant, grant_id)
    if grant is None or grant.requester_org_id != requester.org_id:
        raise NotFound("授权不存在", "No such grant")
    return _out(grant)


@router.post("/redeem", response_model=schemas.GrantOut, responses=PROBLEMS)
def redeem(body: schemas.RedeemIn, principal: Principal = Depends(ASK),
           session: Session = Depends(service.request_session, scope="function")):
    """Accept a scanned QR payload or a code read at the counter; the grant is then bound to this window and clerk.

    Every try is recorded with a ledger entry, refused ones included; five wrong codes at a window lock its codes.
    """
    if (body.token is None) == (body.code is None):
        raise ValidationFailed("请提供二维码内容或验证码之一", "Give either the QR payload or the code",
                               errors=[{"field": "token", "code": "one-of"}])
    grant = service.redeem(session, requester=requester_of(principal, body), token=body.token, code=body.code)
    return _out(grant)


@router.post("/grants/{grant_id}/sms-code", response_model=schemas.SmsOut, status_code=201, responses=PROBLEMS)
def sms_code(grant_id: uuid.UUID, body: schemas.Place, principal: Principal = Depends(ASK),
             session: Session = Depends(request_session, scope="function")):
    """Text the holder a one-time code for this window; the holder reads it out to consent."""
    presentation = service.send_sms_code(session, grant_id, requester=requester_of(principal, body))
    return schemas.SmsOut(presentation_id=presentation.id, expires_at=presentation.expires_at,
                          window=presentation.window or "")


@router.post("/grants/{grant_id}/uses", response_model=schemas.UseOut, status_code=201, responses=PROBLEMS)
def use_grant(grant_id: uuid.UUID, body: schemas.UseIn, principal: Principal = Depends(READ),
              session: Session = Depends(service.request_session, scope="function")):
    """Record one retrieval under a named grant through the gate, for a system using its own API token.

    The grant id travels in the path and the caller's own token in the Authorization header: no bearer secret
    ever appears in a URL. A refusal is recorded and kept, and answered as problem+json.
    """
    permit = service.gate(session, requester=requester_of(principal, body), holder=None,
                          resource_kind=body.resource_kind, resource_id=body.resource_id, fields=body.fields,
                          purpose=body.purpose, grant_id=grant_id)
    return schemas.UseOut(allowed=True, access_id=permit.access.id, receipt=permit.access.leaf_hash.hex(),
                          grant=_out(permit.grant))
