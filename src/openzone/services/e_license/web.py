"""E-license pages: the holder's licenses, authorisations and access history; the clerk's window; the online hall; statistics."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

from fastapi import Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from openzone.core import consent, identity, ledger
from openzone.core.identity import Principal, Role
from openzone.db import request_session
from openzone.kit.errors import Problem
from openzone.kit.i18n import pick
from openzone.kit.routing import Router
from openzone.kit.time import CST
from openzone.services.e_license import domain, service
from openzone.web import add_template_dir, form_errors, render

add_template_dir(Path(__file__).parent / "templates")
router = Router(include_in_schema=False)
HOLDER = identity.signed_in()
CLERK = identity.roles(Role.CLERK)
# Administrators may open the desk page too: it then lists the windows and their accredited clerks.
DESK = identity.roles(Role.CLERK, platform_admin=True)
ADMIN = identity.platform_admin()


def cst(value: dt.datetime | None) -> str:
    """Format an instant as China Standard Time for people."""
    return value.astimezone(CST).strftime("%Y-%m-%d %H:%M") if value else ""


def holders_of(principal: Principal) -> list[consent.Holder]:
    """Return whom the person acts for as a holder: themself and the organisations they administer."""
    return [consent.Holder.person(principal.person_id)] + [
        consent.Holder.organisation(o) for o in sorted(principal.orgs_with(Role.ORG_ADMIN), key=str)]


def _holder_names(session: Session, principal: Principal) -> dict[str, str]:
    names = {f"person:{principal.person_id}": principal.name}
    for org in identity.organisations(session, principal.orgs_with(Role.ORG_ADMIN)):
        names[f"organisation:{org.id}"] = org.name
    return names


def _common() -> dict:
    cat = domain.catalogue()
    return {"types": cat.types, "matters": cat.matters, "status_labels": domain.STATUS_LABELS, "cst": cst}


@router.get("/e-license")
def index(request: Request, _=Depends(identity.public()), session: Session = Depends(request_session, scope="function")):
    """Explain the service and link to the holder's, the clerk's and the online hall's pages."""
    return render(request, "e_license/index.html", _common() | {"stats": service.statistics(session)})


# --- holder -----------------------------------------------------------------------------------------------------


@router.get("/e-license/my")
def my_licenses(request: Request, principal: Principal = Depends(HOLDER), session: Session = Depends(request_session, scope="function")):
    """List the person's (and their organisations') licenses with status and the issuer's reason."""
    names = _holder_names(session, principal)
    groups = [(names[f"{h.kind.value}:{h.id}"], service.licenses_of(session, h)) for h in holders_of(principal)]
    return render(request, "e_license/my.html", _common() | {"groups": groups})


def _own(session: Session, principal: Principal, license_id: uuid.UUID):
    lic = service.get_license(session, license_id)
    if not any(lic.holder_kind == h.kind.value and lic.holder_id == h.id for h in holders_of(principal)):
        raise service.LicenseNotFound()
    return lic


@router.get("/e-license/my/{license_id}")
def my_license(license_id: uuid.UUID, request: Request, principal: Principal = Depends(HOLDER),
               session: Session = Depends(request_session, scope="function")):
    """Show one license: fields, term, status with reason, and the check of its signature and status bits."""
    lic = _own(session, principal, license_id)
    ok, bits = service.check_credential(session, lic)
    return render(request, "e_license/license.html", _common() | {
        "lic": lic, "ltype": domain.catalogue().types[lic.type_code], "proof_ok": ok, "bits": bits,
        "issuer_url": service.issuer_url(lic.issuer_id)})


@router.get("/e-license/my/{license_id}/vc.json")
def my_license_vc(license_id: uuid.UUID, principal: Principal = Depends(HOLDER),
                  session: Session = Depends(request_session, scope="function")):
    """Download the license's signed Verifiable Credential."""
    lic = _own(session, principal, license_id)
    return Response(json.dumps(lic.vc, ensure_ascii=False, indent=2), media_type="application/vc+json",
                    headers={"content-disposition": f'attachment; filename="license-{lic.id}.json"'})


def _choices(items: list[str]) -> list[service.Choice]:
    chosen: dict[uuid.UUID, list[str]] = {}
    for item in items:
        lid, _, field = item.partition(".")
        try:
            chosen.setdefault(uuid.UUID(lid), []).append(field)
        except ValueError:
            continue
    return [service.Choice(k, tuple(v)) for k, v in chosen.items()]


def _holder_from(principal: Principal, value: str) -> consent.Holder:
    options = {f"{h.kind.value}:{h.id}": h for h in holders_of(principal)}
    return options.get(value) or holders_of(principal)[0]


def _authorise_context(session: Session, principal: Principal, *, online: bool, holder: str, matter: str, place: str,
                       items: list[str] | None = None, errors: list | None = None) -> dict:
    chosen = _holder_from(principal, holder)
    usable = service.usable_for(session, chosen, matter) if matter in domain.catalogue().matters else []
    places = ([(str(w.id), f"{n}（{w.name}）") for w in service.online_windows(session)
               for n in [dict(service.halls(session, online=True)).get(w.hall_org_id, "")]]
              if online else [(str(i), n) for i, n in service.halls(session)])
    default_items = [f"{lic.id}.{f.code}" for lic, _ in usable for f in domain.catalogue().types[lic.type_code].fields
                     if f.code in lic.fields]
    return _common() | {
        "online": online, "holder_options": _holder_names(session, principal),
        "form": {"holder": f"{chosen.kind.value}:{chosen.id}", "matter": matter, "place": place,
                 "items": items if items is not None else default_items},
        "usable": usable, "places": places, "errors": errors or [],
        "matter_options": sorted(domain.catalogue().matters.values(), key=lambda m: m.code)}


@router.get("/e-license/authorise")
def authorise_form(request: Request, matter: str = "", hall: str = "", holder: str = "",
                   principal: Principal = Depends(HOLDER), session: Session = Depends(request_session, scope="function")):
    """Ask for the matter and hall, then list the licenses the matter can use with their fields to tick."""
    return render(request, "e_license/authorise.html", _authorise_context(
        session, principal, online=False, holder=holder, matter=matter, place=hall))


@router.get("/e-license/online")
def online_form(request: Request, matter: str = "", hall: str = "", holder: str = "",
                principal: Principal = Depends(HOLDER), session: Session = Depends(request_session, scope="function")):
    """Apply online: the same choice of matter, licenses and fields, for the online hall."""
    return render(request, "e_license/authorise.html", _authorise_context(
        session, principal, online=True, holder=holder, matter=matter, place=hall))


def _preview(request: Request, session: Session, principal: Principal, *, online: bool, holder: str, matter: str,
             place: str, items: list[str]):
    chosen = _holder_from(principal, holder)
    choices = _choices(items)
    try:
        m = service.matter(matter)
        if not choices:
            raise service.LicenseInvalid("请至少选择一项证照和字段", "Choose at least one license and field",
                                         errors=[{"field": "items", "code": "required"}])
        usable = {lic.id for lic, _ in service.usable_for(session, chosen, m.code)}
        if any(c.license_id not in usable for c in choices):
            raise service.LicenseInvalid("所选证照不适用于该事项", "A chosen license is not for this matter",
                                         errors=[{"field": "items", "code": "not_usable"}])
        place_name = dict(_authorise_context(session, principal, online=online, holder=holder, matter=matter,
                                             place=place)["places"]).get(place)
        if place_name is None:
            raise service.HallInvalid("请选择服务大厅", "Choose a service hall", errors=[{"field": "place", "code": "required"}])
    except Problem as problem:
        return render(request, "e_license/authorise.html", _authorise_context(
            session, principal, online=online, holder=holder, matter=matter, place=place, items=items,
            errors=form_errors(problem, "items")), status_code=problem.status)
    lines = [consent.ScopeLine(service.KIND, str(c.license_id), c.fields) for c in choices]
    preview = consent.preview(session, holder=chosen, scope=lines)
    return render(request, "e_license/preview.html", _common() | {
        "online": online, "matter": m, "place_name": place_name, "preview": preview,
        "form": {"holder": holder, "matter": matter, "place": place, "items": items}})


@router.post("/e-license/authorise")
def authorise_preview(request: Request, holder: str = Form(""), matter: str = Form(""), place: str = Form(""),
                      items: list[str] = Form([]), principal: Principal = Depends(HOLDER),
                      session: Session = Depends(request_session, scope="function")):
    """Show the holder exactly which licenses and fields the hall will receive, before anything is granted."""
    return _preview(request, session, principal, online=False, holder=holder, matter=matter, place=place, items=items)


@router.post("/e-license/online")
def online_preview(request: Request, holder: str = Form(""), matter: str = Form(""), place: str = Form(""),
                   items: list[str] = Form([]), principal: Principal = Depends(HOLDER),
                   session: Session = Depends(request_session, scope="function")):
    """Show exactly what the online hall will receive, before anything is granted."""
    return _preview(request, session, principal, online=True, holder=holder, matter=matter, place=place, items=items)


@router.post("/e-license/authorise/confirm")
def authorise_confirm(request: Request, holder: str = Form(""), matter: str = Form(""), place: str = Form(""),
                      items: list[str] = Form([]), principal: Principal = Depends(HOLDER),
                      session: Session = Depends(request_session, scope="function")):
    """Give the grant just previewed and go to its page, where the holder shows the QR code at the window."""
    try:
        with session.begin_nested():
            grant = service.authorise(session, holder=_holder_from(principal, holder), by_person=principal.person_id,
                                      matter_code=matter, hall_org_id=uuid.UUID(place), choices=_choices(items))
    except (Problem, ValueError) as exc:
        problem = exc if isinstance(exc, Problem) else service.HallInvalid()
        return render(request, "e_license/authorise.html", _authorise_context(
            session, principal, online=False, holder=holder, matter=matter, place=place, items=items,
            errors=form_errors(problem, "items")), status_code=problem.status)
    return RedirectResponse(f"/consent/grants/{grant.id}?given=1", status_code=303)


@router.post("/e-license/online/confirm")
def online_confirm(request: Request, holder: str = Form(""), matter: str = Form(""), place: str = Form(""),
                   items: list[str] = Form([]), principal: Principal = Depends(HOLDER),
                   session: Session = Depends(consent.request_session, scope="function")):
    """Grant the online hall the licenses just previewed; it retrieves them at once into a new application."""
    try:
        app = service.apply_online(session, holder=_holder_from(principal, holder), by_person=principal.person_id,
                                   matter_code=matter, window_id=uuid.UUID(place), choices=_choices(items))
    except ValueError as exc:
        raise service.HallInvalid() from exc
    return RedirectResponse(f"/e-license/online/applications/{app.id}", status_code=303)


@router.get("/e-license/online/applications/{application_id}")
def online_result(application_id: uuid.UUID, request: Request, principal: Principal = Depends(HOLDER),
                  session: Session = Depends(request_session, scope="function")):
    """Show the holder's online application: the licenses retrieved and the paper no longer needed."""
    app = service.holder_application(session, application_id, holders_of(principal))
    return render(request, "e_license/online_result.html", _common() | {
        "app": app, "matter": service.matter(app.matter_code), "attachments": service.attachments(session, app),
        "view": service.materials_view(session, app)})


@router.get("/e-license/history")
def history(request: Request, cursor: str | None = Query(None, max_length=200), principal: Principal = Depends(HOLDER),
            session: Session = Depends(request_session, scope="function")):
    """List every access to the holder's licenses: who, hall and window, matter, license, when, outcome, receipt."""
    lines, next_cursor = service.access_history(session, holders_of(principal), cursor=cursor, limit=100)
    return render(request, "e_license/history.html", _common() | {
        "lines": lines, "next_cursor": next_cursor, "first_page": not cursor,
        "receipts": ledger.integrated_leaves(session, [x.access.leaf_hash for x in lines]),
        "reason_labels": {cls.type: (cls.title, cls.title_en) for cls in consent.REFUSALS.values()}})


# --- clerk ------------------------------------------------------------------------------------------------------


@router.get("/e-license/desk")
def desk(request: Request, principal: Principal = Depends(DESK), session: Session = Depends(request_session, scope="function")):
    """Show the clerk's hall and window, a form to start an application, and the window's latest applications."""
    try:
        d = service.desk_of(session, principal.person_id)
    except service.NotAccredited:
        # Not accredited (or an administrator): say so, and list the windows with their clerks.
        halls = dict(service.halls(session)) | dict(service.halls(session, online=True))
        return render(request, "e_license/desk_none.html", _common() | {
            "windows": [(halls.get(w.hall_org_id, ""), w, service.clerks_at(session, w.id))
                        for w in service.windows(session)]})
    return render(request, "e_license/desk.html", _common() | {
        "desk": d, "clerk_name": principal.name, "apps": service.applications_at(session, principal.person_id),
        "matter_options": sorted(domain.catalogue().matters.values(), key=lambda m: m.code), "errors": []})


@router.post("/e-license/desk/applications")
def start_application(request: Request, matter: str = Form(""), principal: Principal = Depends(CLERK),
                      session: Session = Depends(request_session, scope="function")):
    """Open an application for a matter at the clerk's window."""
    try:
        with session.begin_nested():
            app = service.start_application(session, clerk_person_id=principal.person_id, matter_code=matter)
    except Problem as problem:
        d = service.desk_of(session, principal.person_id)
        return render(request, "e_license/desk.html", _common() | {
            "desk": d, "clerk_name": principal.name, "apps": service.applications_at(session, principal.person_id),
            "matter_options": sorted(domain.catalogue().matters.values(), key=lambda m: m.code),
            "errors": form_errors(problem, "matter")}, status_code=problem.status)
    return RedirectResponse(f"/e-license/desk/applications/{app.id}", status_code=303)


def _application_page(request: Request, session: Session, principal: Principal, application_id: uuid.UUID,
                      errors: list | None = None, status_code: int = 200):
    app, d = service.application_for_clerk(session, application_id, principal.person_id)
    atts = service.attachments(session, app)
    response = render(request, "e_license/application.html", _common() | {
        "app": app, "desk": d, "clerk_name": principal.name, "matter": service.matter(app.matter_code),
        "allowed": service.allowed_items(session, app), "attachments": atts,
        "payloads": {a.id: service.attachment_payload(session, a, d.requester) for a in atts},
        "view": service.materials_view(session, app), "errors": errors or []}, status_code=status_code)
    # The clerk's camera reads the holder's QR code on this page only; every other page keeps cameras off.
    response.headers["permissions-policy"] = "camera=(self), microphone=(), geolocation=()"
    return response


@router.get("/e-license/desk/applications/{application_id}")
def application(application_id: uuid.UUID, request: Request, principal: Principal = Depends(CLERK),
                session: Session = Depends(request_session, scope="function")):
    """Show an application: scan the holder's QR code, what the grant allows, retrieve, materials saved."""
    return _application_page(request, session, principal, application_id)


@router.post("/e-license/desk/applications/{application_id}/present")
def present(application_id: uuid.UUID, request: Request, token: str = Form(""), code: str = Form(""),
            principal: Principal = Depends(CLERK), session: Session = Depends(consent.request_session, scope="function")):
    """Accept the holder's QR code (scanned or typed) or short code; a refusal is shown and stays on the ledger."""
    try:
        # No savepoint: a refused try is an access record the holder must see, so it is kept with the page.
        service.accept_presentation(session, clerk_person_id=principal.person_id, application_id=application_id,
                                    token=token.strip() or None, code=code.replace(" ", "") or None)
    except Problem as problem:
        return _application_page(request, session, principal, application_id, form_errors(problem, "token"),
                                 problem.status)
    return RedirectResponse(f"/e-license/desk/applications/{application_id}", status_code=303)


@router.post("/e-license/desk/applications/{application_id}/retrieve")
def retrieve(application_id: uuid.UUID, request: Request, license_id: str = Form(""),
             principal: Principal = Depends(CLERK), session: Session = Depends(consent.request_session, scope="function")):
    """Retrieve one license under the grant through the consent gate and attach it; refusals are shown clearly."""
    try:
        service.retrieve(session, clerk_person_id=principal.person_id, application_id=application_id,
                         license_id=uuid.UUID(license_id))
    except (Problem, ValueError) as exc:
        problem = exc if isinstance(exc, Problem) else service.LicenseNotFound()
        return _application_page(request, session, principal, application_id, form_errors(problem, "retrieve"),
                                 problem.status)
    return RedirectResponse(f"/e-license/desk/applications/{application_id}#attachments", status_code=303)


# --- statistics -------------------------------------------------------------------------------------------------


@router.get("/e-license/statistics")
def statistics(request: Request, _=Depends(ADMIN), session: Session = Depends(request_session, scope="function")):
    """Show the figures the case reports, per hall and per month, as tables with bars."""
    stats = service.statistics(session)
    top = max([r[1] for r in stats.per_hall] + [r[1] for r in stats.per_month] + [1])
    return render(request, "e_license/statistics.html", _common() | {"stats": stats, "top": top,
                                                                    "title": pick("电子证照统计", "E-license statistics")})
