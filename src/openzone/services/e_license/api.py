"""E-license JSON API: issuers issue and change status, windows retrieve under consent, holders see every access."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Body, Depends, Query
from sqlalchemy.orm import Session

from openzone.core import consent, idempotency, identity, ledger
from openzone.core.identity import Principal, Role
from openzone.db import request_session
from openzone.kit.errors import ValidationFailed
from openzone.kit.routing import Router
from openzone.services.e_license import domain, schemas, service
from openzone.services.e_license.models import Application, License

router = Router(prefix="/api/v1/e-license", tags=["e-license"])
PROBLEMS = {401: {"description": "Unauthenticated (problem+json)"}, 403: {"description": "Forbidden or refused (problem+json)"},
            404: {"description": "Not found (problem+json)"}, 409: {"description": "Conflict (problem+json)"},
            422: {"description": "Invalid input (problem+json)"}}
ISSUER_ROLES = (Role.OFFICIAL, Role.ORG_ADMIN)
ISSUE = identity.roles(*ISSUER_ROLES, scopes=("write",))
ISSUER_READ = identity.roles(*ISSUER_ROLES, scopes=("read",))
# A token acts for the accredited clerk who created it, at that clerk's window.
CLERK = identity.roles(Role.CLERK, scopes=("write",))
CLERK_READ = identity.roles(Role.CLERK, scopes=("read",))
HOLDER = identity.signed_in()
MAX_BATCH = 5000


def issuer_org(session: Session, principal: Principal) -> uuid.UUID:
    """Return the issuing organisation a caller acts for: the token's, or the one issuer among the person's."""
    if principal.is_token:
        return principal.token_org_id
    orgs = [org for org in principal.orgs_with(*ISSUER_ROLES)
            if any(i.org_id == org for i in service.issuers(session))]
    if len(orgs) != 1:
        raise service.NotAnIssuer("您须且只能代表一个签发机构", "You must act for exactly one issuing organisation")
    return orgs[0]


def license_out(lic: License) -> schemas.LicenseOut:
    """Describe a license for the API."""
    ltype = domain.catalogue().types[lic.type_code]
    return schemas.LicenseOut(id=lic.id, type=lic.type_code, type_zh=ltype.zh, issuer_id=lic.issuer_id,
                              holder_kind=lic.holder_kind, holder_id=lic.holder_id, number=lic.number,
                              fields=dict(lic.fields), valid_from_on=lic.valid_from_on,
                              valid_until_on=lic.valid_until_on, status=lic.status, status_reason=lic.status_reason,
                              version=lic.version, vc_digest=lic.vc_digest, vc=dict(lic.vc))


def _material(m: domain.Material) -> schemas.MaterialOut:
    return schemas.MaterialOut(code=m.code, zh=m.zh, en=m.en, replaced_by=list(m.replaced_by))


def application_out(session: Session, app: Application, desk: service.Desk) -> schemas.ApplicationOut:
    """Describe an application as its clerk sees it."""
    m = service.matter(app.matter_code)
    view = service.materials_view(session, app)
    allowed = [schemas.AllowedOut(license_id=i.license.id, type=i.ltype.code, type_zh=i.ltype.zh, fields=list(i.fields),
                                  materials=list(i.materials), status=i.license.status,
                                  status_reason=i.license.status_reason, attached=i.attached)
               for i in service.allowed_items(session, app)]
    atts = [schemas.AttachmentOut(license_id=a.license_id, type=a.type_code, fields=list(a.fields),
                                  materials=list(a.materials), license_status=a.license_status,
                                  status_reason=a.status_reason, retrieved_at=a.retrieved_at,
                                  receipt_leaf=bytes(a.leaf_hash).hex(),
                                  data=service.attachment_payload(session, a, desk.requester))
            for a in service.attachments(session, app)]
    return schemas.ApplicationOut(id=app.id, matter=m.code, matter_zh=m.zh, hall=desk.window.hall_code,
                                  window=desk.window.code, clerk_id=app.clerk_person_id, grant_id=app.grant_id,
                                  allowed=allowed, attachments=atts, materials_saved=[_material(x) for x in view.saved],
                                  materials_needed=[_material(x) for x in view.still_needed])


# --- public: catalogue, issuer keys and status lists ------------------------------------------------------------


@router.get("/catalogue/types", response_model=list[schemas.TypeOut], dependencies=[Depends(identity.public())])
def catalogue_types():
    """List the license types of the catalogue with their fields and validity rules."""
    return [schemas.TypeOut(code=t.code, zh=t.zh, en=t.en, agency=t.agency, holder_kinds=[k.value for k in t.holder_kinds],
                            fields=[{"code": f.code, "zh": f.zh, "en": f.en, "type": f.type, "required": f.required}
                                    for f in t.fields],
                            validity={"years": list(t.validity.years), "long_term": t.validity.long_term,
                                      "max_years": t.validity.max_years, "basis": t.basis})
            for t in domain.catalogue().types.values()]


@router.get("/catalogue/matters", response_model=list[schemas.MatterOut], dependencies=[Depends(identity.public())])
def catalogue_matters():
    """List the matters of the catalogue with their materials and the license types that replace them."""
    return [schemas.MatterOut(code=m.code, zh=m.zh, en=m.en, department=m.department,
                              applicant_kind=m.applicant_kind.value, materials=[_material(x) for x in m.materials])
            for m in domain.catalogue().matters.values()]


@router.get("/issuers/{issuer_id}", responses=PROBLEMS, dependencies=[Depends(identity.public())])
def issuer_document(issuer_id: uuid.UUID, session: Session = Depends(request_session, scope="function")) -> dict[str, Any]:
    """Return the issuer's controller document with its Multikey, the key that verifies its licenses."""
    return service.controller_document(session, issuer_id)


@router.get("/issuers/{issuer_id}/status/{purpose}", responses=PROBLEMS, dependencies=[Depends(identity.public())])
def status_list(issuer_id: uuid.UUID, purpose: str, session: Session = Depends(request_session, scope="function")) -> dict[str, Any]:
    """Return the issuer's signed BitstringStatusListCredential for "revocation" or "suspension"."""
    return service.status_list_credential(session, issuer_id, purpose)


# --- issuers ----------------------------------------------------------------------------------------------------


@router.post("/licenses", response_model=schemas.LicenseOut, status_code=201, responses=PROBLEMS)
def issue(body: schemas.LicenseIn, principal: Principal = Depends(ISSUE), session: Session = Depends(request_session, scope="function"),
          key: str | None = idempotency.KEY):
    """Issue a license as a signed Verifiable Credential; its digest goes on the ledger. A retry with the same
    Idempotency-Key returns the first response and issues nothing."""
    item = service.LicenseInput(body.type, body.holder_kind, body.holder_id, body.fields, body.valid_from_on,
                                body.valid_until_on)
    return idempotency.respond(
        session, principal, key, scope="e_license.issue", request=body.model_dump(mode="json"), status_code=201,
        produce=lambda: license_out(service.issue(session, issuer_org_id=issuer_org(session, principal), item=item)))


@router.get("/licenses", response_model=list[schemas.LicenseOut], responses=PROBLEMS)
def issued(principal: Principal = Depends(ISSUER_READ), session: Session = Depends(request_session, scope="function")):
    """List the caller's organisation's licenses, newest first (at most 200)."""
    return [license_out(lic) for lic in service.issued_by(session, issuer_org(session, principal))]


@router.post("/licenses/batch", response_model=schemas.BatchOut, status_code=201, responses=PROBLEMS)
def batch(rows: list[dict[str, Any]] = Body(..., max_length=MAX_BATCH), principal: Principal = Depends(ISSUE),
          session: Session = Depends(request_session, scope="function"), key: str | None = idempotency.KEY):
    """Issue many licenses at once, all or none; a bad row answers 422 with a report naming each row's errors.
    A retry with the same Idempotency-Key returns the first response."""

    def produce() -> schemas.BatchOut:
        report = service.import_rows(session, issuer_org_id=issuer_org(session, principal), rows=rows)
        return schemas.BatchOut(rows=report.rows, issued=report.issued)

    return idempotency.respond(session, principal, key, scope="e_license.batch", request=rows, status_code=201,
                               produce=produce)


@router.patch("/licenses/{license_id}", response_model=schemas.LicenseOut, responses=PROBLEMS)
def update(license_id: uuid.UUID, body: schemas.LicenseUpdate, principal: Principal = Depends(ISSUE),
           session: Session = Depends(request_session, scope="function")):
    """Change a license's fields or term and sign a new version."""
    return license_out(service.update(session, issuer_org_id=issuer_org(session, principal), license_id=license_id,
                                      fields=body.fields, valid_until_on=body.valid_until_on, keep_term=body.keep_term))


def _status(action: str):
    def change(license_id: uuid.UUID, body: schemas.StatusChange, principal: Principal = Depends(ISSUE),
               session: Session = Depends(request_session, scope="function"), key: str | None = idempotency.KEY):
        return idempotency.respond(
            session, principal, key, scope=f"e_license.{action}",
            request={"license": str(license_id), **body.model_dump(mode="json")}, status_code=200,
            produce=lambda: license_out(service.change_status(session, issuer_org_id=issuer_org(session, principal),
                                                              license_id=license_id, action=action,
                                                              reason=body.reason)))
    change.__doc__ = {"suspend": "Suspend a license with the issuer's reason (its suspension bit is set).",
                      "reinstate": "Reinstate a suspended license (its suspension bit is cleared).",
                      "revoke": "Revoke a license for good with the issuer's reason (its revocation bit is set)."}[action]
    change.__doc__ += " A retry with the same Idempotency-Key returns the first response."
    change.__name__ = action
    return change


for _action in ("suspend", "reinstate", "revoke"):
    router.add_api_route(f"/licenses/{{license_id}}/{_action}", _status(_action), methods=["POST"],
                         response_model=schemas.LicenseOut, responses=PROBLEMS)


# --- requesters: the window ------------------------------------------------------------------------------------


@router.post("/applications", response_model=schemas.ApplicationOut, status_code=201, responses=PROBLEMS)
def start(body: schemas.ApplicationIn, principal: Principal = Depends(CLERK),
          session: Session = Depends(request_session, scope="function")):
    """Open an application for a matter at the caller's window (accredited clerks only)."""
    app = service.start_application(session, clerk_person_id=principal.person_id, matter_code=body.matter)
    return application_out(session, app, service.desk_of(session, principal.person_id))


@router.get("/applications/{application_id}", response_model=schemas.ApplicationOut, responses=PROBLEMS)
def get_application(application_id: uuid.UUID, principal: Principal = Depends(CLERK_READ),
                    session: Session = Depends(request_session, scope="function")):
    """Describe an application of the caller's window: what the grant allows, attachments, materials saved."""
    app, desk = service.application_for_clerk(session, application_id, principal.person_id)
    return application_out(session, app, desk)


@router.post("/applications/{application_id}/presentations", response_model=schemas.ApplicationOut,
             responses=PROBLEMS)
def present(application_id: uuid.UUID, body: schemas.PresentationIn, principal: Principal = Depends(CLERK),
            session: Session = Depends(consent.request_session, scope="function")):
    """Redeem the holder's QR payload or code at the caller's window and tie the grant to the application."""
    if not body.token and not body.code:
        raise ValidationFailed("请提供二维码内容或验证码", "Give the QR payload or the code",
                               errors=[{"field": "token", "code": "required"}])
    app = service.accept_presentation(session, clerk_person_id=principal.person_id, application_id=application_id,
                                      token=body.token, code=body.code)
    return application_out(session, app, service.desk_of(session, principal.person_id))


@router.post("/applications/{application_id}/retrievals", response_model=schemas.AttachmentOut, status_code=201,
             responses=PROBLEMS)
def retrieve(application_id: uuid.UUID, body: schemas.RetrievalIn, principal: Principal = Depends(CLERK),
             session: Session = Depends(consent.request_session, scope="function")):
    """Retrieve one license under the grant (consent's gate decides and records), and attach it to the application."""
    att = service.retrieve(session, clerk_person_id=principal.person_id, application_id=application_id,
                           license_id=body.license_id)
    desk = service.desk_of(session, principal.person_id)
    return schemas.AttachmentOut(license_id=att.license_id, type=att.type_code, fields=list(att.fields),
                                 materials=list(att.materials), license_status=att.license_status,
                                 status_reason=att.status_reason, retrieved_at=att.retrieved_at,
                                 receipt_leaf=bytes(att.leaf_hash).hex(),
                                 data=service.attachment_payload(session, att, desk.requester))


# --- holders ----------------------------------------------------------------------------------------------------


def _me(principal: Principal) -> consent.Holder:
    return consent.Holder.person(principal.person_id)


@router.get("/me/licenses", response_model=list[schemas.LicenseOut], responses=PROBLEMS)
def my_licenses(principal: Principal = Depends(HOLDER), session: Session = Depends(request_session, scope="function")):
    """List the caller's licenses with status, the issuer's reason and the signed credential."""
    return [license_out(lic) for lic in service.licenses_of(session, _me(principal))]


@router.get("/me/licenses/{license_id}", response_model=schemas.LicenseOut, responses=PROBLEMS)
def my_license(license_id: uuid.UUID, principal: Principal = Depends(HOLDER),
               session: Session = Depends(request_session, scope="function")):
    """Return one of the caller's licenses with its Verifiable Credential."""
    lic = service.get_license(session, license_id)
    if lic.holder_kind != "person" or lic.holder_id != principal.person_id:
        raise service.LicenseNotFound()
    return license_out(lic)


def grant_out(grant: consent.Grant) -> schemas.GrantOut:
    """Describe a grant for the holder API."""
    return schemas.GrantOut(id=grant.id, requester=grant.requester_name, hall=grant.requester_hall,
                            window=grant.requester_window, purpose=grant.purpose_code, scope=list(grant.scope),
                            status=consent.status_of(grant).value, valid_until=grant.valid_until, uses=grant.uses,
                            max_uses=grant.max_uses, data_life_days=grant.data_life_days)


@router.get("/me/grants", response_model=list[schemas.GrantOut], responses=PROBLEMS)
def my_grants(principal: Principal = Depends(HOLDER), session: Session = Depends(request_session, scope="function")):
    """List the caller's grants that name e-licenses."""
    return [grant_out(g) for g in service.e_license_grants(session, _me(principal))]


@router.post("/me/grants", response_model=schemas.GrantOut, status_code=201, responses=PROBLEMS)
def authorise(body: schemas.AuthorisationIn, principal: Principal = Depends(HOLDER),
              session: Session = Depends(request_session, scope="function")):
    """Authorise a service hall to retrieve the chosen licenses and fields for a matter, once each."""
    grant = service.authorise(session, holder=_me(principal), by_person=principal.person_id, matter_code=body.matter,
                              hall_org_id=body.hall_org_id,
                              choices=[service.Choice(c.license_id, tuple(c.fields)) for c in body.licenses],
                              minutes=body.minutes, data_life_days=body.data_life_days)
    return grant_out(grant)


@router.post("/me/grants/{grant_id}/revoke", response_model=schemas.GrantOut, responses=PROBLEMS)
def revoke_grant(grant_id: uuid.UUID, principal: Principal = Depends(HOLDER),
                 session: Session = Depends(request_session, scope="function")):
    """Revoke one of the caller's grants at once."""
    return grant_out(consent.revoke(session, grant_id, holders=[_me(principal)]))


@router.get("/me/accesses", response_model=schemas.AccessPage, responses=PROBLEMS)
def my_accesses(cursor: str | None = Query(None, max_length=200), limit: int = Query(100, ge=1, le=200),
                principal: Principal = Depends(HOLDER), session: Session = Depends(request_session, scope="function")):
    """Page through every access to the caller's e-licenses, newest first, allowed or refused, with receipt links once
    integrated; follow next_cursor for older ones."""
    lines, next_cursor = service.access_history(session, [_me(principal)], cursor=cursor, limit=limit)
    ready = ledger.integrated_leaves(session, [line.access.leaf_hash for line in lines])
    return schemas.AccessPage(next_cursor=next_cursor, items=[schemas.AccessOut(
        id=line.access.id, at=line.access.at, requester=line.org_name, hall=line.access.hall,
        window=line.access.window, clerk=line.access.clerk_id is not None, action=line.access.action,
        license_id=line.access.resource_id, license_type=line.license.type_code if line.license else None,
        fields=list(line.access.fields), matter=line.matter.code if line.matter else None,
        outcome=line.access.outcome, reason=line.access.reason, leaf_hash=bytes(line.access.leaf_hash).hex(),
        receipt_url=(f"/ledger/receipts/{bytes(line.access.leaf_hash).hex()}.txt"
                     if bytes(line.access.leaf_hash) in ready else None)) for line in lines])

