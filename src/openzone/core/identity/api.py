"""Identity JSON API: the caller, organisations, members and API tokens."""

from __future__ import annotations

import uuid

from fastapi import Depends, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from openzone.core.identity import access, domain, schemas, service
from openzone.core.identity.domain import Principal, Role
from openzone.core.identity.models import Membership, Organisation, Person
from openzone.db import request_session
from openzone.kit.errors import Forbidden, NotFound
from openzone.kit.pagination import paginate
from openzone.kit.routing import Router

router = Router(prefix="/api/v1", tags=["identity"])
PROBLEMS = {401: {"description": "Unauthenticated (problem+json)"}, 403: {"description": "Forbidden (problem+json)"}}


@router.get("/me", response_model=schemas.Me, responses=PROBLEMS)
def me(principal: Principal = Depends(access.signed_in(scopes=("read", "write", "admin")))):
    """Describe the caller: person, memberships and, for a token, its scopes."""
    return schemas.Me(
        person_id=principal.person_id, name=principal.name, is_platform_admin=principal.is_platform_admin,
        memberships=[schemas.Membership(org_id=o, role=r) for o, r in sorted(principal.roles, key=str)],
        token_id=principal.token_id, scopes=sorted(principal.scopes) if principal.scopes is not None else None,
    )


@router.get("/organisations", response_model=schemas.OrganisationPage, responses=PROBLEMS)
def list_organisations(cursor: str | None = Query(None, max_length=200), limit: int = Query(50, ge=1, le=200),
                       kind: domain.OrgKind | None = None,
                       principal: Principal = Depends(access.signed_in(scopes=("read", "admin"))),
                       session: Session = Depends(request_session, scope="function")):
    """List organisations, a page at a time (the directory is visible to every signed-in caller)."""
    stmt = select(Organisation)
    if kind is not None:
        stmt = stmt.where(Organisation.kind == kind.value)
    page = paginate(session, stmt, Organisation.id, cursor=cursor, limit=limit, convert=uuid.UUID)
    return schemas.OrganisationPage(items=[schemas.OrganisationOut.model_validate(o) for o in page.items],
                                    next_cursor=page.next_cursor)


@router.post("/organisations", response_model=schemas.OrganisationOut, status_code=201, responses=PROBLEMS)
def create_organisation(body: schemas.OrganisationIn, principal: Principal = Depends(access.platform_admin()),
                        session: Session = Depends(request_session, scope="function")):
    """Create an organisation (platform administrators)."""
    org = service.create_organisation(session, name=body.name, name_en=body.name_en, kind=body.kind, uscc=body.uscc)
    return schemas.OrganisationOut.model_validate(org)


@router.get("/organisations/{org_id}", response_model=schemas.OrganisationOut, responses=PROBLEMS)
def get_organisation(org_id: uuid.UUID, principal: Principal = Depends(access.signed_in(scopes=("read", "admin"))),
                     session: Session = Depends(request_session, scope="function")):
    """Describe one organisation."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("机构不存在", "No such organisation")
    return schemas.OrganisationOut.model_validate(org)


def _check_admin(principal: Principal, org_id: uuid.UUID, session: Session) -> None:
    if session.get(Organisation, org_id) is None:
        raise NotFound("机构不存在", "No such organisation")
    if not (principal.is_platform_admin or principal.has_role(org_id, Role.ORG_ADMIN)):
        raise Forbidden("您不是该机构的管理员", "You do not administer this organisation")


@router.get("/organisations/{org_id}/members", response_model=list[schemas.MemberOut], responses=PROBLEMS)
def list_members(org_id: uuid.UUID, principal: Principal = Depends(access.roles(Role.ORG_ADMIN, scopes=("admin",), platform_admin=True)),
                 session: Session = Depends(request_session, scope="function")):
    """List an organisation's people with masked identifiers (its administrators)."""
    _check_admin(principal, org_id, session)
    rows = session.execute(select(Person, Membership.role).join(Membership, Membership.person_id == Person.id)
                           .where(Membership.org_id == org_id).order_by(Person.name, Membership.role))
    out = []
    for person, role in rows:
        masked = service.masked_identifiers(person)
        out.append(schemas.MemberOut(person_id=person.id, name=person.name, email=person.email, role=role, **masked))
    return out


@router.post("/organisations/{org_id}/members", response_model=schemas.MemberOut, status_code=201, responses=PROBLEMS)
def add_member(org_id: uuid.UUID, body: schemas.MemberIn,
               principal: Principal = Depends(access.roles(Role.ORG_ADMIN, scopes=("admin",), platform_admin=True)),
               session: Session = Depends(request_session, scope="function")):
    """Add a person to the organisation with a role; an existing e-mail gets the role added."""
    _check_admin(principal, org_id, session)
    person = session.scalar(select(Person).where(Person.email == body.email.strip().lower()))
    if person is None:
        person = service.create_person(session, name=body.name, email=body.email, password=body.password,
                                       phone=body.phone, id_number=body.id_number)
    service.add_membership(session, person_id=person.id, org_id=org_id, role=body.role)
    return schemas.MemberOut(person_id=person.id, name=person.name, email=person.email, role=body.role,
                             **service.masked_identifiers(person))


@router.get("/tokens", response_model=list[schemas.TokenOut], responses=PROBLEMS)
def list_tokens(principal: Principal = Depends(access.roles(Role.ORG_ADMIN, scopes=("admin",))),
                session: Session = Depends(request_session, scope="function")):
    """List the tokens of the organisations the caller administers."""
    return [schemas.TokenOut.model_validate(t) for t in service.tokens_for(session, principal.orgs_with(Role.ORG_ADMIN))]


@router.post("/tokens", response_model=schemas.TokenCreated, status_code=201, responses=PROBLEMS)
def create_token(body: schemas.TokenIn, principal: Principal = Depends(access.roles(Role.ORG_ADMIN)),
                 session: Session = Depends(request_session, scope="function")):
    """Create a token for an organisation the signed-in person administers; the secret is shown once."""
    if not principal.has_role(body.org_id, Role.ORG_ADMIN):
        raise Forbidden("只有机构管理员可以为本机构创建令牌", "Only an organisation administrator can create its tokens")
    person = session.get(Person, principal.person_id)
    token, secret = service.create_token(session, person=person, org_id=body.org_id, name=body.name,
                                         scopes=body.scopes, days=body.days)
    return schemas.TokenCreated(**schemas.TokenOut.model_validate(token).model_dump(), secret=secret)


@router.delete("/tokens/{token_id}", status_code=204, responses=PROBLEMS)
def revoke_token(token_id: uuid.UUID, principal: Principal = Depends(access.roles(Role.ORG_ADMIN, scopes=("admin",))),
                 session: Session = Depends(request_session, scope="function")):
    """Revoke a token of an organisation the caller administers."""
    service.revoke_token(session, token_id, allowed_orgs=principal.orgs_with(Role.ORG_ADMIN))
    return Response(status_code=204)
