"""Holder pages: my grants, a new grant after its preview, approve or decline, QR code and short code, my history."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import segno
from fastapi import Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from openzone.core import identity, ledger
from openzone.core.consent import domain, service
from openzone.core.consent.domain import Holder, Status
from openzone.core.consent.models import Access, Grant
from openzone.core.consent.settings import get_consent_settings
from openzone.core.identity import Principal, Role
from openzone.db import request_session
from openzone.kit.errors import Problem, ValidationFailed
from openzone.kit.routing import Router
from openzone.kit.time import CST
from openzone.web import add_template_dir, form_errors, render

add_template_dir(Path(__file__).parent / "templates")
router = Router(include_in_schema=False)
HOLDER = identity.signed_in()
HISTORY_PAGE = 100  # access records per page of the history


def holders_of(principal: Principal) -> list[Holder]:
    """Return whom the signed-in person acts for as a holder: themself and the organisations they administer."""
    return [Holder.person(principal.person_id)] + [Holder.organisation(o) for o in
                                                   sorted(principal.orgs_with(Role.ORG_ADMIN), key=str)]


def cst(value: dt.datetime | None) -> str:
    """Format an instant as China Standard Time for people."""
    return value.astimezone(CST).strftime("%Y-%m-%d %H:%M") if value else ""


def _labels(session: Session, principal: Principal) -> dict:
    kinds = service.kinds()
    holder_names = {Holder.person(principal.person_id): principal.name}
    for org in service.organisations(session, principal.orgs_with(Role.ORG_ADMIN)):
        holder_names[Holder.organisation(org.id)] = org.name
    return {"kinds": kinds, "purposes": service.purposes(), "status_labels": domain.STATUS_LABELS,
            "use_labels": domain.USE_MODE_LABELS, "frequency_labels": domain.FREQUENCY_LABELS,
            "reason_labels": domain.REASON_LABELS, "cst": cst, "holder_names": holder_names,
            "holder_of": service.holder_of, "status_of": service.status_of, "Status": Status}


@router.get("/consent")
def my_grants(request: Request, principal: Principal = Depends(HOLDER), session: Session = Depends(request_session, scope="function")):
    """List the grants the person (and their organisations) gave, pending, active and past, with revoke buttons."""
    grants = service.grants_of(session, holders_of(principal))
    groups: dict[str, list[Grant]] = {"pending": [], "active": [], "past": []}
    for grant in grants:
        status = service.status_of(grant)
        groups["pending" if status is Status.PENDING else "active" if status is Status.ACTIVE else "past"].append(grant)
    return render(request, "consent/index.html", _labels(session, principal) | {"groups": groups})


def _form_context(session: Session, principal: Principal, form: dict, errors: list | None = None) -> dict:
    return _labels(session, principal) | {
        "form": form, "errors": errors or [], "organisations": service.organisations(session),
        "holders": holders_of(principal)}


@router.get("/consent/new")
def new_grant_form(request: Request, requester: str = "", principal: Principal = Depends(HOLDER),
                   session: Session = Depends(request_session, scope="function")):
    """Show the form for a new grant: to whom, which items and fields, for what, for how long."""
    form = {"requester": requester, "resource_id": "*", "use_mode": "single", "days": "1", "data_life_days": "0",
            "items": [], "holder": ""}
    return render(request, "consent/new.html", _form_context(session, principal, form))


def _read_form(principal: Principal, values: dict) -> tuple[Holder, domain.Binding, service.Terms]:
    problems = domain.Problems()
    holders = {f"{h.kind.value}:{h.id}": h for h in holders_of(principal)}
    holder = holders.get(values["holder"]) or holders_of(principal)[0]
    try:
        org_id = uuid.UUID(values["requester"])
    except ValueError:
        problems.add("requester", "required", "请选择被授权的机构", "Choose the organisation you grant access to")
        org_id = uuid.UUID(int=0)
    service.raise_problems(problems)
    scope: dict[str, list[str]] = {}
    for item in values["items"]:
        kind, _, field_name = item.partition(".")
        scope.setdefault(kind, []).append(field_name)
    resource_id = values["resource_id"].strip() or domain.ANY

    def number(name: str) -> int | None:
        raw = str(values.get(name) or "").strip()
        if not raw:
            return None
        # ASCII digits only ("²".isdigit() is true, and int() refuses it), and few enough to be a count; anything
        # else is -1, which every range check refuses with a message.
        return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else -1

    terms = service.check_terms(
        scope=[{"kind": k, "id": resource_id, "fields": f} for k, f in scope.items()], purpose=values["purpose"],
        purpose_text=values["purpose_text"], days=number("days") or 0, use_mode=values["use_mode"],
        max_uses=number("max_uses"), frequency=values.get("frequency") or None,
        frequency_uses=number("frequency_uses"), data_life_days=number("data_life_days") or 0)
    problems = domain.Problems()
    # The preview checks the hall and window as the confirmation will, so no page accepts what the next refuses.
    hall = domain.check_place(values["hall"], "hall", problems)
    window = domain.check_place(values["window"], "window", problems)
    service.raise_problems(problems)
    return holder, domain.Binding(org_id, hall, window), terms


def _values(holder: str, requester: str, hall: str, window: str, items: list[str], resource_id: str, purpose: str,
            purpose_text: str, use_mode: str, max_uses: str, frequency: str, frequency_uses: str, days: str,
            data_life_days: str) -> dict:
    return {"holder": holder, "requester": requester, "hall": hall.strip(), "window": window.strip(), "items": items,
            "resource_id": resource_id, "purpose": purpose, "purpose_text": purpose_text, "use_mode": use_mode,
            "max_uses": max_uses, "frequency": frequency, "frequency_uses": frequency_uses, "days": days,
            "data_life_days": data_life_days}


@router.post("/consent/new")
def new_grant_preview(request: Request, holder: str = Form(""), requester: str = Form(""), hall: str = Form(""),
                      window: str = Form(""), items: list[str] = Form([]), resource_id: str = Form("*"),
                      purpose: str = Form(""), purpose_text: str = Form(""), use_mode: str = Form("single"),
                      max_uses: str = Form(""), frequency: str = Form(""), frequency_uses: str = Form(""),
                      days: str = Form("1"), data_life_days: str = Form("0"),
                      principal: Principal = Depends(HOLDER), session: Session = Depends(request_session, scope="function")):
    """Check the answers and show the holder exactly what would be released before anything is granted."""
    values = _values(holder, requester, hall, window, items, resource_id, purpose, purpose_text, use_mode,
                     max_uses, frequency, frequency_uses, days, data_life_days)
    try:
        chosen, binding, terms = _read_form(principal, values)
        org = service.organisation(session, binding.org_id)
        if org is None:
            raise ValidationFailed("请选择被授权的机构", "Choose the organisation you grant access to",
                                           errors=[{"field": "requester", "code": "required"}])
    except Problem as problem:
        return render(request, "consent/new.html", _form_context(session, principal, values,
                                                                  form_errors(problem, "scope")),
                      status_code=problem.status)
    items_preview = service.preview(session, holder=chosen, scope=terms.scope)
    return render(request, "consent/preview.html", _labels(session, principal) | {
        "form": values, "terms": terms, "org": org, "binding": binding, "preview": items_preview, "holder": chosen})


@router.post("/consent/new/confirm")
def new_grant_confirm(request: Request, holder: str = Form(""), requester: str = Form(""), hall: str = Form(""),
                      window: str = Form(""), items: list[str] = Form([]), resource_id: str = Form("*"),
                      purpose: str = Form(""), purpose_text: str = Form(""), use_mode: str = Form("single"),
                      max_uses: str = Form(""), frequency: str = Form(""), frequency_uses: str = Form(""),
                      days: str = Form("1"), data_life_days: str = Form("0"),
                      principal: Principal = Depends(HOLDER), session: Session = Depends(request_session, scope="function")):
    """Give the grant the holder has just previewed."""
    values = _values(holder, requester, hall, window, items, resource_id, purpose, purpose_text, use_mode,
                     max_uses, frequency, frequency_uses, days, data_life_days)
    try:
        chosen, binding, terms = _read_form(principal, values)
        with session.begin_nested():
            grant = service.give_grant(session, holder=chosen, requester=binding, terms=terms,
                                       by_person=principal.person_id)
    except Problem as problem:
        return render(request, "consent/new.html", _form_context(session, principal, values,
                                                                  form_errors(problem, "scope")),
                      status_code=problem.status)
    return RedirectResponse(f"/consent/grants/{grant.id}?given=1", status_code=303)


def _grant_context(session: Session, principal: Principal, grant: Grant) -> dict:
    holder = service.holder_of(grant)
    return _labels(session, principal) | {
        "grant": grant, "status": service.status_of(grant), "holder": holder,
        "preview": service.preview(session, holder=holder, scope=service.scope_of(grant)),
        "receipts": ledger.integrated_leaves(session, [grant.created_leaf, grant.ended_leaf]), "errors": [], "form": {}}


@router.get("/consent/grants/{grant_id}")
def grant_page(grant_id: uuid.UUID, request: Request, principal: Principal = Depends(HOLDER),
               session: Session = Depends(request_session, scope="function")):
    """Show one grant: its terms, what it releases, and what the holder can do with it now."""
    grant = service.grant_for_holder(session, grant_id, holders=holders_of(principal))
    return render(request, "consent/grant.html", _grant_context(session, principal, grant))


@router.post("/consent/grants/{grant_id}/approve")
def approve(grant_id: uuid.UUID, principal: Principal = Depends(HOLDER), session: Session = Depends(request_session, scope="function")):
    """Approve a requested grant after its preview."""
    service.approve(session, grant_id, holders=holders_of(principal))
    return RedirectResponse(f"/consent/grants/{grant_id}", status_code=303)


@router.post("/consent/grants/{grant_id}/decline")
def decline(grant_id: uuid.UUID, principal: Principal = Depends(HOLDER), session: Session = Depends(request_session, scope="function")):
    """Decline a requested grant."""
    service.decline(session, grant_id, holders=holders_of(principal))
    return RedirectResponse("/consent", status_code=303)


@router.post("/consent/grants/{grant_id}/revoke")
def revoke(grant_id: uuid.UUID, principal: Principal = Depends(HOLDER), session: Session = Depends(request_session, scope="function")):
    """Revoke a grant; it stops working at once."""
    service.revoke(session, grant_id, holders=holders_of(principal))
    return RedirectResponse("/consent?revoked=1", status_code=303)


@router.post("/consent/grants/{grant_id}/qr")
def show_qr(grant_id: uuid.UUID, request: Request, principal: Principal = Depends(HOLDER),
            session: Session = Depends(request_session, scope="function")):
    """Show a fresh QR code for the counter, counting down (the token is shown once, so this page is not a redirect)."""
    shown = service.present_qr(session, grant_id, holders=holders_of(principal))
    grant = service.grant_for_holder(session, grant_id, holders=holders_of(principal))
    qr = segno.make(shown.qr_payload, error="m").svg_data_uri(scale=6, border=2)
    return render(request, "consent/qr.html", _labels(session, principal) | {
        "grant": grant, "qr": qr, "expires_at": shown.presentation.expires_at,
        "minutes": get_consent_settings().qr_minutes})


@router.post("/consent/grants/{grant_id}/code")
def show_code(grant_id: uuid.UUID, request: Request, window: str = Form(""), principal: Principal = Depends(HOLDER),
              session: Session = Depends(request_session, scope="function")):
    """Show a short code to read out at one window, counting down."""
    holders = holders_of(principal)
    try:
        with session.begin_nested():
            shown = service.present_code(session, grant_id, holders=holders, window=window)
    except Problem as problem:
        grant = service.grant_for_holder(session, grant_id, holders=holders)
        return render(request, "consent/grant.html", _grant_context(session, principal, grant) | {
            "errors": form_errors(problem, "window"), "form": {"window": window}}, status_code=problem.status)
    grant = service.grant_for_holder(session, grant_id, holders=holders)
    code = shown.secret
    return render(request, "consent/code.html", _labels(session, principal) | {
        "grant": grant, "code_groups": [code[i:i + 4] for i in range(0, len(code), 4)],
        "window": shown.presentation.window, "expires_at": shown.presentation.expires_at,
        "tries": get_consent_settings().code_max_tries})


@router.get("/consent/history")
def my_history(request: Request, cursor: str | None = Query(None, max_length=200),
               principal: Principal = Depends(HOLDER), session: Session = Depends(request_session, scope="function")):
    """List every access to the person's (and their organisations') data, allowed or refused, with ledger receipts.

    A page at a time, newest first: one list of the newest 500 hid every older access from the holder.
    """
    page = service.history_page(session, holders_of(principal), cursor=cursor, limit=HISTORY_PAGE)
    rows: list[Access] = page.items
    names = {o.id: o for o in service.organisations(session, {a.requester_org_id for a in rows})}
    return render(request, "consent/history.html", _labels(session, principal) | {
        "rows": rows, "orgs": names, "receipts": ledger.integrated_leaves(session, [a.leaf_hash for a in rows]),
        "next_cursor": page.next_cursor, "first_page": not cursor})
