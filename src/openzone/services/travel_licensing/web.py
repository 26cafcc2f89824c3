"""Travel-licensing pages: the applicant's one-question-per-page flow, the clerk's queue, inspectors and supervisors."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

from fastapi import Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from openzone.core import credit
from openzone.core.identity import Principal, public, roles, signed_in
from openzone.db import request_session
from openzone.kit import i18n
from openzone.kit.errors import Forbidden, NotFound, Problem, ValidationFailed
from openzone.kit.routing import Router
from openzone.kit.time import CST, today_cst
from openzone.services.travel_licensing import domain, service
from openzone.services.travel_licensing.models import Application, Inspection, Obligation
from openzone.web import add_template_dir, form_errors, render

add_template_dir(Path(__file__).parent / "templates")
router = Router(include_in_schema=False)
BASE = "/travel-licensing"
FIRM_ROLES = ("org_admin", "staff")
CLERKS = ("official", "clerk")
INSPECTORS = ("supervisor",)
SUPERVISORS = ("supervisor", "official")


def _firm_orgs(principal: Principal) -> set[uuid.UUID]:
    return principal.orgs_with(*FIRM_ROLES)


def _own(session: Session, principal: Principal, application_id: uuid.UUID) -> Application:
    return service.get_application(session, application_id, org_ids=_firm_orgs(principal))


def _labels() -> dict:
    return {"route_labels": {r.value: v for r, v in domain.ROUTE_LABELS.items()}, "step_labels": service.STEP_LABELS,
            "class_labels": {c.value: v for c, v in credit.CLASS_LABELS.items()},
            "breaches": {k.value: (r.zh, r.en, r.basis, [c.value for c in r.allowed]) for k, r in domain.BREACHES.items()},
            "consequence_labels": {c.value: v for c, v in domain.CONSEQUENCE_LABELS.items()},
            "scope_labels": domain.SCOPE_LABELS, "steps": service.STEPS,
            "status_labels": domain.APPLICATION_STATUS_LABELS, "obligation_labels": domain.OBLIGATION_LABELS,
            "obligation_status": domain.OBLIGATION_STATUS_LABELS, "cst": _cst}


def _cst(at) -> str:
    return at.astimezone(CST).strftime("%Y-%m-%d %H:%M") if at else "—"


def _staff_org(principal: Principal, names: tuple[str, ...]) -> uuid.UUID:
    orgs = principal.orgs_with(*names)
    if not orgs:
        raise Forbidden()
    return sorted(orgs)[0]


@router.get(BASE, dependencies=[Depends(public())])
def home(request: Request, session: Session = Depends(request_session, scope="function")):
    """Explain the service and link each kind of user to their pages."""
    return render(request, "travel_licensing/home.html", {"stats": service.statistics(session), **_labels()})


@router.get(BASE + "/statistics", dependencies=[Depends(public())])
def statistics_page(request: Request, session: Session = Depends(request_session, scope="function")):
    """Show the case's figures: licences by route, on-time deposits, breaches by class, repairs, decision time."""
    return render(request, "travel_licensing/statistics.html", {"stats": service.statistics(session), **_labels()})


@router.get(BASE + "/licences/{number}", dependencies=[Depends(public())])
def verify_page(request: Request, number: str, session: Session = Depends(request_session, scope="function")):
    """Let anyone check a licence number (the PDF's QR code points here)."""
    licence = service.licence_by_number(session, number)
    if licence is None:
        raise NotFound("没有这个许可证编号", "No licence has that number")
    app = session.get(Application, licence.application_id)
    return render(request, "travel_licensing/verify.html", {"licence": licence, "content": service.licence_content(
        licence, app), **_labels()})


# --- applicant ------------------------------------------------------------------------------------------------------

@router.get(BASE + "/apply")
def apply_page(request: Request, principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """List the firm's applications and offer to start one."""
    return render(request, "travel_licensing/apply.html", {
        "applications": service.applications_of(session, _firm_orgs(principal)), "is_firm": bool(_firm_orgs(principal)),
        **_labels()})


@router.post(BASE + "/apply")
def apply_start(request: Request, principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Start a draft pre-filled from the firm's organisation record."""
    orgs = principal.orgs_with("org_admin")
    if not orgs:
        raise Forbidden("只有企业的机构管理员可以提出申请", "Only an enterprise's administrator may apply")
    org_id = sorted(orgs)[0]
    current = service.open_application(session, org_id)
    if current is not None:
        # One case at a time: go back to the one in progress instead of starting another.
        return RedirectResponse(f"{BASE}/applications/{current.id}", status_code=303)
    app = service.start_application(session, org_id=org_id, person_id=principal.person_id)
    return RedirectResponse(f"{BASE}/applications/{app.id}/steps/{service.STEPS[0]}", status_code=303)


def _step_ctx(app: Application, step: str, form: dict | None = None, errors: list | None = None) -> dict:
    if step not in service.STEPS:
        raise NotFound("没有这一步", "No such step")
    values = dict(app.answers)
    if step == "managers" and "managers" in values and not isinstance(values["managers"], str):
        values["managers"] = "\n".join(f"{m['name']},{m['role']},{m['years']}" for m in values["managers"])
    values |= form or {}
    index = service.STEPS.index(step)
    back = f"{BASE}/applications/{app.id}/steps/{service.STEPS[index - 1]}" if index else f"{BASE}/apply"
    return {"app": app, "step": step, "values": values, "errors": errors or [], "index": index + 1,
            "total": len(service.STEPS), "back": back, **_labels()}


@router.get(BASE + "/applications/{application_id}/steps/{step}")
def step_page(request: Request, application_id: uuid.UUID, step: str, principal: Principal = Depends(signed_in()),
              session: Session = Depends(request_session, scope="function")):
    """Ask one question of the application."""
    app = _own(session, principal, application_id)
    if app.status != "draft":
        return RedirectResponse(f"{BASE}/applications/{app.id}", status_code=303)
    return render(request, "travel_licensing/step.html", _step_ctx(app, step))


@router.post(BASE + "/applications/{application_id}/steps/{step}")
async def step_submit(request: Request, application_id: uuid.UUID, step: str,
                      principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Keep one answer, then go to the next unanswered question or to check-answers."""
    app = _own(session, principal, application_id)
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str) and k != "csrf_token"}
    try:
        with session.begin_nested():
            service.save_step(session, application=app, step=step, form=form)
    except Problem as problem:
        form.pop("legal_rep_id", None)  # never echo an ID number back into the page
        return render(request, "travel_licensing/step.html", _step_ctx(app, step, form, form_errors(problem, step)),
                      status_code=problem.status)
    nxt = service.next_step(app)
    if request.query_params.get("check") == "1" or nxt is None:
        return RedirectResponse(f"{BASE}/applications/{app.id}/check", status_code=303)
    return RedirectResponse(f"{BASE}/applications/{app.id}/steps/{nxt}", status_code=303)


def _check_ctx(session: Session, app: Application, errors: list | None = None) -> dict:
    return {"app": app, "a": app.answers, "result": service.eligibility(session, app), "errors": errors or [],
            "min_guides": domain.min_guides(app.answers.get("staff_count", 0)), **_labels()}


@router.get(BASE + "/applications/{application_id}/check")
def check_page(request: Request, application_id: uuid.UUID, principal: Principal = Depends(signed_in()),
               session: Session = Depends(request_session, scope="function")):
    """Show every answer with change links, the results of the checks, and the choice of route."""
    app = _own(session, principal, application_id)
    if app.status != "draft":
        return RedirectResponse(f"{BASE}/applications/{app.id}", status_code=303)
    nxt = service.next_step(app)
    if nxt is not None:
        return RedirectResponse(f"{BASE}/applications/{app.id}/steps/{nxt}", status_code=303)
    return render(request, "travel_licensing/check.html", _check_ctx(session, app))


@router.post(BASE + "/applications/{application_id}/route")
def route_submit(request: Request, application_id: uuid.UUID, route: str = Form(""),
                 principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Choose the route: the commitment route needs every check to pass; the ordinary route is submitted at once."""
    app = _own(session, principal, application_id)
    try:
        with session.begin_nested():
            if route not in {r.value for r in domain.Route}:
                raise ValidationFailed("请选择办理方式", "Choose a route", errors=[
                    {"field": "route", "code": "required", "message": "请选择办理方式", "message_en": "Choose a route"}])
            service.choose_route(session, application=app, route=route)
            if route == domain.Route.ORDINARY:
                service.submit(session, application=app)
    except Problem as problem:
        return render(request, "travel_licensing/check.html", _check_ctx(session, app, form_errors(problem, "route")),
                      status_code=problem.status)
    if route == domain.Route.COMMITMENT:
        return RedirectResponse(f"{BASE}/applications/{app.id}/sign", status_code=303)
    return RedirectResponse(f"{BASE}/applications/{app.id}", status_code=303)


def _sign_ctx(app: Application, errors: list | None = None) -> dict:
    return {"app": app, "errors": errors or [], **service.doc_context(app), **_labels()}


@router.get(BASE + "/applications/{application_id}/sign")
def sign_page(request: Request, application_id: uuid.UUID, principal: Principal = Depends(signed_in()),
              session: Session = Depends(request_session, scope="function")):
    """Show the notice (告知书) and the commitment (承诺书) generated for this applicant, to sign."""
    app = _own(session, principal, application_id)
    if app.status != "draft" or app.route != domain.Route.COMMITMENT:
        return RedirectResponse(f"{BASE}/applications/{app.id}", status_code=303)
    return render(request, "travel_licensing/sign.html", _sign_ctx(app))


@router.post(BASE + "/applications/{application_id}/sign")
def sign_submit(request: Request, application_id: uuid.UUID, read_notice: str = Form(""), commit: str = Form(""),
                principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Sign the commitment and submit: approved at once when every check passes, else queued for a clerk."""
    app = _own(session, principal, application_id)
    try:
        with session.begin_nested():
            service.sign(session, application=app, read_notice=read_notice == "yes", commit=commit == "yes")
            service.submit(session, application=app)
    except Problem as problem:
        return render(request, "travel_licensing/sign.html", _sign_ctx(app, form_errors(problem, "read_notice")),
                      status_code=problem.status)
    return RedirectResponse(f"{BASE}/applications/{app.id}", status_code=303)


def _case_ctx(session: Session, app: Application, errors: list | None = None) -> dict:
    licence = service.licence_of(session, app.id)
    return {"app": app, "a": app.answers, "licence": licence, "errors": errors or [],
            "e_license_url": service.e_license_url(licence) if licence else None,
            "obligations": service.obligations_of(session, licence.id) if licence else [],
            "inspections": service.inspections_of(session, licence.id) if licence else [],
            "breach_rows": service.breaches_of(session, licence.id) if licence else [],
            "remaining": service.remaining(session, app), "today": today_cst(), **_labels()}


@router.get(BASE + "/applications/{application_id}")
def case_page(request: Request, application_id: uuid.UUID, principal: Principal = Depends(signed_in()),
              session: Session = Depends(request_session, scope="function")):
    """Show the firm its case: decision, licence, obligations with deadlines, inspections and breaches."""
    app = _own(session, principal, application_id)
    if app.status == "draft":
        return RedirectResponse(f"{BASE}/applications/{app.id}/check", status_code=303)
    return render(request, "travel_licensing/case.html", _case_ctx(session, app))


@router.get(BASE + "/applications/{application_id}/licence.pdf")
def licence_pdf(request: Request, application_id: uuid.UUID, principal: Principal = Depends(signed_in()),
                session: Session = Depends(request_session, scope="function")):
    """Download the licence as a PDF with its verification QR code."""
    app = _own(session, principal, application_id)
    licence = service.licence_of(session, app.id)
    if licence is None:
        raise NotFound("尚未发证", "No licence has been issued")
    pdf = service.licence_pdf(session, licence, lang=i18n.current_language.get())
    return Response(pdf, media_type="application/pdf",
                    headers={"content-disposition": f'attachment; filename="{licence.number}.pdf"'})


@router.post(BASE + "/obligations/{obligation_id}/deposit")
async def deposit_submit(request: Request, obligation_id: uuid.UUID, method: str = Form(""), bank: str = Form(""),
                         amount_yuan: str = Form(""), paid_on: str = Form(""), evidence: UploadFile | None = File(None),
                         principal: Principal = Depends(signed_in()), session: Session = Depends(request_session, scope="function")):
    """Record the deposit or bank guarantee with its evidence."""
    ob = session.get(Obligation, obligation_id)
    if ob is None or ob.org_id not in _firm_orgs(principal):
        raise NotFound("没有这项义务", "No such obligation")
    app = session.get(Application, service.licence_application_id(session, ob.licence_id))
    try:
        with session.begin_nested():
            content = await evidence.read() if evidence is not None else b""
            service.record_deposit(session, obligation=ob, method=method, bank=bank,
                                   amount_fen=_yuan(amount_yuan), paid_on=_date(paid_on), evidence=content,
                                   evidence_name=(evidence.filename or "") if evidence is not None else "")
    except Problem as problem:
        # Each obligation has its own form: suffix the fields so the error summary links to the right one.
        errors = [{**e, "field": f"{e['field']}-{ob.id}"} for e in form_errors(problem, "method")]
        return render(request, "travel_licensing/case.html", _case_ctx(session, app, errors), status_code=problem.status)
    return RedirectResponse(f"{BASE}/applications/{app.id}", status_code=303)


@router.post(BASE + "/applications/{application_id}/branches")
def branch_submit(request: Request, application_id: uuid.UUID, principal: Principal = Depends(signed_in()),
                  session: Session = Depends(request_session, scope="function")):
    """Register a new branch: its RMB 50,000 deposit falls due on working-day timers (旅行社条例 art. 14)."""
    app = _own(session, principal, application_id)
    licence = service.licence_of(session, app.id)
    try:
        with session.begin_nested():
            if licence is None:
                raise service.WrongState("尚未发证", "No licence has been issued")
            service.add_branch(session, licence=licence, actor_org_id=app.org_id)
    except Problem as problem:
        return render(request, "travel_licensing/case.html", _case_ctx(session, app, form_errors(problem, "branch")),
                      status_code=problem.status)
    return RedirectResponse(f"{BASE}/applications/{app.id}", status_code=303)


def _yuan(text: str) -> int:
    try:
        return int(text.strip().replace(",", "")) * 100
    except ValueError as exc:
        raise ValidationFailed("金额应为整数元", "The amount is whole yuan", errors=[
            {"field": "amount_yuan", "code": "number", "message": "金额应为整数元", "message_en": "The amount is whole yuan"}]) from exc


def _date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationFailed("日期应为 YYYY-MM-DD", "Dates are YYYY-MM-DD", errors=[
            {"field": "paid_on", "code": "date", "message": "日期应为 YYYY-MM-DD", "message_en": "Dates are YYYY-MM-DD"}]) from exc


# --- clerk --------------------------------------------------------------------------------------------------------------

@router.get(BASE + "/clerk")
def clerk_page(request: Request, principal: Principal = Depends(roles(*CLERKS, platform_admin=True)), session: Session = Depends(request_session, scope="function")):
    """Show the queue with the time left for each case, and overdue obligations to escalate."""
    items = [(a, service.remaining(session, a)) for a in service.queue(session)]
    return render(request, "travel_licensing/clerk.html", {
        "items": items, "overdue": service.open_obligations(session), "today": today_cst(),
        "on_duty": service.on_duty(session, principal.person_id, "clerk"), **_labels()})


@router.post(BASE + "/clerk/duty")
def clerk_duty(request: Request, principal: Principal = Depends(roles(*CLERKS)), session: Session = Depends(request_session, scope="function")):
    """Put the clerk on duty: new cases and overdue notices are assigned to clerks on duty."""
    service.register_officer(session, person_id=principal.person_id, org_id=_staff_org(principal, CLERKS), duty="clerk")
    return RedirectResponse(BASE + "/clerk", status_code=303)


def _clerk_case_ctx(session: Session, app: Application, errors: list | None = None) -> dict:
    return _case_ctx(session, app, errors) | {"result": service.eligibility(session, app)}


@router.get(BASE + "/clerk/{application_id}")
def clerk_case(request: Request, application_id: uuid.UUID, principal: Principal = Depends(roles(*CLERKS)),
               session: Session = Depends(request_session, scope="function")):
    """Show a case with its checks and the approve and refuse forms."""
    app = service.get_application(session, application_id)
    if app.status == "draft":
        raise NotFound("没有这件申请", "No such application")
    return render(request, "travel_licensing/clerk_case.html", _clerk_case_ctx(session, app))


@router.post(BASE + "/clerk/{application_id}/decide")
def clerk_decide(request: Request, application_id: uuid.UUID, decision: str = Form(""), reason: str = Form(""),
                 principal: Principal = Depends(roles(*CLERKS)), session: Session = Depends(request_session, scope="function")):
    """Approve or refuse a queued application."""
    app = service.get_application(session, application_id)
    org = _staff_org(principal, CLERKS)
    try:
        with session.begin_nested():
            if decision == "approve":
                service.approve(session, application=app, actor_person_id=principal.person_id, actor_org_id=org)
            elif decision == "refuse":
                service.refuse(session, application=app, reason=reason, actor_person_id=principal.person_id,
                               actor_org_id=org)
            else:
                raise ValidationFailed("请选择批准或不予批准", "Choose approve or refuse", errors=[
                    {"field": "decision", "code": "required", "message": "请选择批准或不予批准",
                     "message_en": "Choose approve or refuse"}])
    except Problem as problem:
        return render(request, "travel_licensing/clerk_case.html",
                      _clerk_case_ctx(session, app, form_errors(problem, "decision")), status_code=problem.status)
    return RedirectResponse(f"{BASE}/clerk/{app.id}", status_code=303)


@router.post(BASE + "/clerk/{application_id}/top-up")
def clerk_top_up(request: Request, application_id: uuid.UUID, amount_yuan: str = Form(""),
                 principal: Principal = Depends(roles(*CLERKS)), session: Session = Depends(request_session, scope="function")):
    """Order the firm to top up its deposit within 5 working days of the notice (旅行社条例 art. 18)."""
    app = service.get_application(session, application_id)
    if app.status == "draft":
        raise NotFound("没有这件申请", "No such application")
    org = _staff_org(principal, CLERKS)
    try:
        with session.begin_nested():
            licence = service.licence_of(session, app.id)
            if licence is None:
                raise service.WrongState("尚未发证", "No licence has been issued")
            service.order_top_up(session, licence=licence, amount_fen=_yuan(amount_yuan), actor_org_id=org)
    except Problem as problem:
        return render(request, "travel_licensing/clerk_case.html",
                      _clerk_case_ctx(session, app, form_errors(problem, "amount_yuan")), status_code=problem.status)
    return RedirectResponse(f"{BASE}/clerk/{app.id}", status_code=303)


@router.post(BASE + "/clerk/obligations/{obligation_id}/escalate")
def clerk_escalate(request: Request, obligation_id: uuid.UUID, action: str = Form(""),
                   principal: Principal = Depends(roles(*CLERKS)), session: Session = Depends(request_session, scope="function")):
    """Order rectification of an overdue obligation, or revoke when the order was not complied with (art. 48)."""
    ob = session.get(Obligation, obligation_id)
    if ob is None:
        raise NotFound("没有这项义务", "No such obligation")
    org = _staff_org(principal, CLERKS)
    if action == "rectify":
        service.order_rectification(session, obligation=ob, actor_org_id=org)
    elif action == "revoke":
        if ob.level < 3:
            raise service.WrongState("责令改正期满前不能吊销", "Revocation only after the rectification period")
        licence = service.get_licence(session, ob.licence_id)
        service.apply_breach(session, licence=licence, kind=domain.BreachKind.DEPOSIT_NOT_RECTIFIED,
                             found_on=today_cst(), actor_org_id=org, reference=f"obligation:{ob.id}")
    else:
        raise ValidationFailed("请选择操作", "Choose an action")
    return RedirectResponse(BASE + "/clerk", status_code=303)


# --- inspector and supervisor --------------------------------------------------------------------------------------------

@router.get(BASE + "/inspector")
def inspector_page(request: Request, principal: Principal = Depends(roles(*INSPECTORS, platform_admin=True)),
                   session: Session = Depends(request_session, scope="function")):
    """Show the inspections assigned to this inspector, with the result form."""
    return render(request, "travel_licensing/inspector.html", {
        "items": service.inspections_for(session, principal.person_id), "errors": [], "today": today_cst(),
        "on_duty": service.on_duty(session, principal.person_id, "inspector"), **_labels()})


@router.post(BASE + "/inspector/duty")
def inspector_duty(request: Request, principal: Principal = Depends(roles(*INSPECTORS)),
                   session: Session = Depends(request_session, scope="function")):
    """Put the inspector in the pool for verifications and random draws."""
    service.register_officer(session, person_id=principal.person_id, org_id=_staff_org(principal, INSPECTORS),
                             duty="inspector")
    return RedirectResponse(BASE + "/inspector", status_code=303)


@router.post(BASE + "/inspections/{inspection_id}")
def inspection_submit(request: Request, inspection_id: uuid.UUID, result: str = Form(""), notes: str = Form(""),
                      breach_kind: str = Form(""), record_class: str = Form(""),
                      principal: Principal = Depends(roles(*INSPECTORS)), session: Session = Depends(request_session, scope="function")):
    """Record an inspection's result; a breach is graded and its consequence applied."""
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFound("没有这项检查", "No such inspection")
    try:
        with session.begin_nested():
            service.record_inspection(session, inspection=inspection, person_id=principal.person_id,
                                      actor_org_id=_staff_org(principal, INSPECTORS), result=result, notes=notes,
                                      breach_kind=breach_kind or None, record_class=record_class or None)
    except Problem as problem:
        return render(request, "travel_licensing/inspector.html", {
            "items": service.inspections_for(session, principal.person_id), "today": today_cst(),
            "errors": form_errors(problem, f"result-{inspection_id}"),
            "on_duty": service.on_duty(session, principal.person_id, "inspector"), **_labels()},
            status_code=problem.status)
    return RedirectResponse(BASE + "/inspector", status_code=303)


@router.get(BASE + "/supervisor")
def supervisor_page(request: Request, principal: Principal = Depends(roles(*SUPERVISORS, platform_admin=True)),
                    session: Session = Depends(request_session, scope="function")):
    """Show recent draws (with a re-check of each) and the form for a new one."""
    rows = [(d, service.redo_draw(d) == d.selections) for d in service.draws(session)]
    return render(request, "travel_licensing/supervisor.html", {"draws": rows, "errors": [], **_labels()})


@router.post(BASE + "/supervisor/draw")
def supervisor_draw(request: Request, count: str = Form("5"), seed: str = Form(""),
                    principal: Principal = Depends(roles(*SUPERVISORS)), session: Session = Depends(request_session, scope="function")):
    """Draw firms and inspectors; the seed is the one given or a fresh random one, and it is recorded."""
    try:
        with session.begin_nested():
            n = int(count)
            chosen = int(seed) if seed.strip() else secrets.randbits(48)
            if not 1 <= n <= 500:
                raise ValueError
            service.spot_check(session, seed=chosen, count=n, actor_person_id=principal.person_id,
                               actor_org_id=_staff_org(principal, SUPERVISORS))
    except ValueError:
        problem = ValidationFailed("数量和种子应为整数（数量 1–500）", "Count and seed are whole numbers (count 1–500)")
        rows = [(d, service.redo_draw(d) == d.selections) for d in service.draws(session)]
        return render(request, "travel_licensing/supervisor.html", {"draws": rows, "errors": form_errors(problem, "count"),
                                                                    **_labels()}, status_code=422)
    except Problem as problem:
        rows = [(d, service.redo_draw(d) == d.selections) for d in service.draws(session)]
        return render(request, "travel_licensing/supervisor.html", {"draws": rows, "errors": form_errors(problem, "count"),
                                                                    **_labels()}, status_code=problem.status)
    return RedirectResponse(BASE + "/supervisor", status_code=303)
