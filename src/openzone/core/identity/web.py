"""Identity pages: sign-in with optional TOTP, sign-out, the account page, tokens and administration."""

from __future__ import annotations

import uuid
from pathlib import Path

import segno
from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core.identity import access, domain, service
from openzone.core.identity.access import SESSION_COOKIE
from openzone.core.identity.domain import Principal
from openzone.core.identity.models import Membership, Organisation, Person
from openzone.db import request_session
from openzone.kit import i18n
from openzone.kit.errors import Forbidden, NotFound, Problem
from openzone.kit.pagination import paginate
from openzone.kit.routing import Router
from openzone.kit.urls import safe_next
from openzone.web import add_template_dir, form_errors, render

add_template_dir(Path(__file__).parent / "templates")
router = Router(include_in_schema=False)
PENDING_COOKIE = "oz_pending"


def _set_session_cookie(response: Response, name: str, value: str) -> None:
    settings = get_settings()
    response.set_cookie(name, value, httponly=True, samesite="lax", secure=settings.secure_cookies,
                        max_age=settings.session_hours * 3600, path="/")


def _signed_in(request: Request, token: str, target: str) -> Response:
    response = RedirectResponse(safe_next(target), status_code=303)
    _set_session_cookie(response, SESSION_COOKIE, token)
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


@router.get("/login", dependencies=[Depends(access.public())])
def login_form(request: Request, next: str = "/"):
    """Show the sign-in form."""
    return render(request, "identity/login.html", {"next": safe_next(next), "form": {}})


@router.post("/login", dependencies=[Depends(access.public())])
def login(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/"),
          session: Session = Depends(request_session, scope="function")):
    """Check the password, then sign in or ask for the second factor."""
    form = {"email": email}
    if not email.strip() or not password:
        errors = []
        if not email.strip():
            errors.append({"field": "email", "message": i18n.gettext("请输入电子邮箱")})
        if not password:
            errors.append({"field": "password", "message": i18n.gettext("请输入密码")})
        return render(request, "identity/login.html", {"next": safe_next(next), "form": form, "errors": errors},
                      status_code=422)
    result = service.check_password(session, email=email, password=password)
    if result.person is None:
        problem = result.problem()
        return render(request, "identity/login.html",
                      {"next": safe_next(next), "form": form, "errors": form_errors(problem, "email")},
                      status_code=problem.status)
    person = result.person
    if person.totp_secret_enc or service.needs_second_factor(session, person):
        token = service.start_web_session(session, person, verified=False)
        target = "/login/totp" if person.totp_secret_enc else "/login/totp-setup"
        response = RedirectResponse(f"{target}?next={safe_next(next)}", status_code=303)
        _set_session_cookie(response, PENDING_COOKIE, token)
        return response
    return _signed_in(request, service.start_web_session(session, person, verified=True), next)


def _pending_person(request: Request, session: Session) -> Person:
    cookie = request.cookies.get(PENDING_COOKIE)
    ws = service.web_session(session, cookie) if cookie else None
    person = session.get(Person, ws.person_id) if ws is not None and not ws.verified else None
    if person is None:
        raise service.InvalidCredentials("登录已超时，请重新登录", "The sign-in expired; please sign in again")
    return person


@router.get("/login/totp", dependencies=[Depends(access.public())])
def totp_form(request: Request, next: str = "/", session: Session = Depends(request_session, scope="function")):
    """Ask for the one-time code of a person who passed the password step."""
    _pending_person(request, session)
    return render(request, "identity/login_totp.html", {"next": safe_next(next)})


@router.post("/login/totp", dependencies=[Depends(access.public())])
def totp_submit(request: Request, code: str = Form(""), next: str = Form("/"),
                session: Session = Depends(request_session, scope="function")):
    """Finish sign-in with a valid one-time code."""
    person = _pending_person(request, session)
    if not service.verify_totp(session, person, code):
        problem = service.TotpInvalid()
        return render(request, "identity/login_totp.html",
                      {"next": safe_next(next), "errors": form_errors(problem, "code")}, status_code=401)
    service.end_web_session(session, request.cookies[PENDING_COOKIE])
    return _signed_in(request, service.start_web_session(session, person, verified=True), next)


@router.get("/login/totp-setup", dependencies=[Depends(access.public())])
def totp_setup_form(request: Request, next: str = "/", session: Session = Depends(request_session, scope="function")):
    """Make a person who must use a second factor enrol an authenticator app before going on."""
    person = _pending_person(request, session)
    secret = service.new_totp_secret()
    return render(request, "identity/totp_enrol.html", _enrol_context(person, secret) | {
        "action": "/login/totp-setup", "next": safe_next(next), "required": True})


@router.post("/login/totp-setup", dependencies=[Depends(access.public())])
def totp_setup_submit(request: Request, secret: str = Form(""), code: str = Form(""), next: str = Form("/"),
                      session: Session = Depends(request_session, scope="function")):
    """Enrol the app and finish sign-in."""
    person = _pending_person(request, session)
    try:
        service.enrol_totp(session, person, secret=secret, code=code)
    except Problem as problem:
        return render(request, "identity/totp_enrol.html", _enrol_context(person, secret) | {
            "action": "/login/totp-setup", "next": safe_next(next), "required": True,
            "errors": form_errors(problem, "code")}, status_code=problem.status)
    service.end_web_session(session, request.cookies[PENDING_COOKIE])
    return _signed_in(request, service.start_web_session(session, person, verified=True), next)


def _enrol_context(person: Person, secret: str) -> dict:
    uri = service.totp_uri(person, secret)
    return {"secret": secret, "qr": segno.make(uri, error="m").svg_data_uri(scale=4, border=2)}


@router.post("/logout", dependencies=[Depends(access.public())])
def logout(request: Request, session: Session = Depends(request_session, scope="function")):
    """End the browser session."""
    for name in (SESSION_COOKIE, PENDING_COOKIE):
        if cookie := request.cookies.get(name):
            service.end_web_session(session, cookie)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


# --- account ---

def _account_context(session: Session, principal: Principal) -> dict:
    person = session.get(Person, principal.person_id)
    mships = service.memberships(session, principal.person_id)
    admin_orgs = {o.id: o for m, o in mships if m.role == domain.Role.ORG_ADMIN}
    return {
        "person": person,
        "masked": service.masked_identifiers(person),
        "memberships": mships,
        "role_labels": domain.ROLE_LABELS,
        "admin_orgs": list(admin_orgs.values()),
        "tokens": service.tokens_for(session, set(admin_orgs)),
        "org_names": {o.id: o.name for o in admin_orgs.values()},
        "scopes": domain.TOKEN_SCOPES,
        "form": {},
    }


@router.get("/account")
def account(request: Request, principal: Principal = Depends(access.signed_in()),
            session: Session = Depends(request_session, scope="function")):
    """Show the person's details, memberships, second factor and their organisations' tokens."""
    return render(request, "identity/account.html", _account_context(session, principal))


@router.post("/account/tokens")
def create_token(request: Request, org_id: str = Form(""), name: str = Form(""), days: int = Form(90),
                 scopes: list[str] = Form([]), principal: Principal = Depends(access.signed_in()),
                 session: Session = Depends(request_session, scope="function")):
    """Create an API token for an organisation the person administers and show it once."""
    ctx = _account_context(session, principal)
    try:
        org = uuid.UUID(org_id)
    except ValueError:
        org = None
    if org is None or not principal.has_role(org, domain.Role.ORG_ADMIN):
        raise Forbidden("只有机构管理员可以为本机构创建令牌", "Only an organisation administrator can create its tokens")
    try:
        token, secret = service.create_token(session, person=ctx["person"], org_id=org, name=name,
                                             scopes=scopes, days=days)
    except Problem as problem:
        ctx.update(errors=form_errors(problem, "token-name"),
                   form={"name": name, "days": days, "scopes": scopes, "org_id": org_id})
        return render(request, "identity/account.html", ctx, status_code=problem.status)
    return render(request, "identity/token_created.html", {"token": token, "secret": secret,
                                                            "org_name": ctx["org_names"].get(org, "")})


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(token_id: uuid.UUID, principal: Principal = Depends(access.signed_in()),
                 session: Session = Depends(request_session, scope="function")):
    """Revoke one of the organisation's tokens."""
    service.revoke_token(session, token_id, allowed_orgs=principal.orgs_with(domain.Role.ORG_ADMIN))
    return RedirectResponse("/account#tokens", status_code=303)


@router.get("/account/password")
def password_form(request: Request, principal: Principal = Depends(access.signed_in())):
    """Show the change-password form."""
    return render(request, "identity/password.html", {})


@router.post("/account/password")
def password_submit(request: Request, current: str = Form(""), new: str = Form(""), confirm: str = Form(""),
                    principal: Principal = Depends(access.signed_in()), session: Session = Depends(request_session, scope="function")):
    """Change the password; every session ends, so sign in again."""
    person = session.get(Person, principal.person_id)
    if new != confirm:
        errors = [{"field": "confirm", "message": i18n.gettext("两次输入的新密码不一致")}]
        return render(request, "identity/password.html", {"errors": errors}, status_code=422)
    try:
        service.change_password(session, person, current=current, new=new)
    except Problem as problem:
        return render(request, "identity/password.html", {"errors": form_errors(problem, "new")},
                      status_code=problem.status)
    response = RedirectResponse("/login?changed=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account/totp")
def totp_enrol_form(request: Request, principal: Principal = Depends(access.signed_in()),
                    session: Session = Depends(request_session, scope="function")):
    """Show a fresh secret and QR code to enrol an authenticator app."""
    person = session.get(Person, principal.person_id)
    return render(request, "identity/totp_enrol.html",
                  _enrol_context(person, service.new_totp_secret()) | {"action": "/account/totp", "next": "/account"})


@router.post("/account/totp")
def totp_enrol_submit(request: Request, secret: str = Form(""), code: str = Form(""),
                      principal: Principal = Depends(access.signed_in()), session: Session = Depends(request_session, scope="function")):
    """Turn on the second factor once the app's code checks."""
    person = session.get(Person, principal.person_id)
    try:
        service.enrol_totp(session, person, secret=secret, code=code)
    except Problem as problem:
        return render(request, "identity/totp_enrol.html", _enrol_context(person, secret) | {
            "action": "/account/totp", "next": "/account", "errors": form_errors(problem, "code")},
            status_code=problem.status)
    return RedirectResponse("/account?totp=on", status_code=303)


# --- administration ---

def _admin_orgs(session: Session, principal: Principal) -> list[Organisation]:
    stmt = select(Organisation).order_by(Organisation.name)
    if not principal.is_platform_admin:
        stmt = stmt.where(Organisation.id.in_(principal.orgs_with(domain.Role.ORG_ADMIN)))
    return list(session.scalars(stmt))


ADMIN = access.roles(domain.Role.ORG_ADMIN, platform_admin=True)


@router.get("/admin/organisations")
def admin_orgs(request: Request, principal: Principal = Depends(ADMIN), session: Session = Depends(request_session, scope="function")):
    """List the organisations the administrator manages."""
    return render(request, "identity/admin_orgs.html", {"orgs": _admin_orgs(session, principal),
                                                         "kinds": domain.ORG_KIND_LABELS})


@router.get("/admin/organisations/new")
def admin_org_form(request: Request, principal: Principal = Depends(access.platform_admin())):
    """Show the new-organisation form."""
    return render(request, "identity/admin_org_new.html", {"kinds": domain.ORG_KIND_LABELS, "form": {}})


@router.post("/admin/organisations/new")
def admin_org_create(request: Request, name: str = Form(""), name_en: str = Form(""), kind: str = Form(""),
                     uscc: str = Form(""), principal: Principal = Depends(access.platform_admin()),
                     session: Session = Depends(request_session, scope="function")):
    """Create an organisation."""
    form = {"name": name, "name_en": name_en, "kind": kind, "uscc": uscc}
    try:
        with session.begin_nested():
            service.create_organisation(session, name=name, name_en=name_en, kind=kind, uscc=uscc or None)
    except Problem as problem:
        return render(request, "identity/admin_org_new.html", {"kinds": domain.ORG_KIND_LABELS, "form": form,
                      "errors": form_errors(problem, "name")}, status_code=problem.status)
    return RedirectResponse("/admin/organisations", status_code=303)


@router.get("/admin/people")
def admin_people(request: Request, q: str = "", cursor: str | None = None,
                 principal: Principal = Depends(access.platform_admin()), session: Session = Depends(request_session, scope="function")):
    """List everyone on the platform with their roles, searchable by name or e-mail (platform administrators)."""
    stmt = select(Person)
    needle = q.strip()
    if needle:
        like = f"%{needle.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(Person.name.like(like) | Person.email.like(like.lower()))
    page = paginate(session, stmt, Person.id, cursor=cursor, limit=50, convert=uuid.UUID)
    ids = [p.id for p in page.items]
    roles: dict[uuid.UUID, list[tuple[str, str]]] = {}
    for person_id, role, org_name in session.execute(
            select(Membership.person_id, Membership.role, Organisation.name)
            .join(Organisation, Organisation.id == Membership.org_id).where(Membership.person_id.in_(ids))):
        roles.setdefault(person_id, []).append((org_name, role))
    return render(request, "identity/admin_people.html", {"people": page.items, "roles": roles, "q": needle,
                                                           "next_cursor": page.next_cursor,
                                                           "role_labels": domain.ROLE_LABELS})


@router.get("/admin/organisations/{org_id}")
def admin_org(org_id: uuid.UUID, request: Request, principal: Principal = Depends(ADMIN),
              session: Session = Depends(request_session, scope="function")):
    """Show an organisation's people and the form to add one."""
    org = _managed_org(session, principal, org_id)
    return render(request, "identity/admin_org.html", _org_context(session, org) | {"form": {}})


def _managed_org(session: Session, principal: Principal, org_id: uuid.UUID) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("机构不存在", "No such organisation")
    if not (principal.is_platform_admin or principal.has_role(org.id, domain.Role.ORG_ADMIN)):
        raise Forbidden("您不是该机构的管理员", "You do not administer this organisation")
    return org


def _org_context(session: Session, org: Organisation) -> dict:
    rows = session.execute(select(Person, Membership.role).join(Membership, Membership.person_id == Person.id)
                           .where(Membership.org_id == org.id).order_by(Person.name)).all()
    return {"org": org, "members": rows, "roles": domain.ROLE_LABELS, "kinds": domain.ORG_KIND_LABELS}


@router.post("/admin/organisations/{org_id}/people")
def admin_person_create(org_id: uuid.UUID, request: Request, name: str = Form(""), email: str = Form(""),
                        phone: str = Form(""), id_number: str = Form(""), role: str = Form(""),
                        password: str = Form(""), principal: Principal = Depends(ADMIN),
                        session: Session = Depends(request_session, scope="function")):
    """Add a person to an organisation with a role (an existing e-mail gets the role added)."""
    org = _managed_org(session, principal, org_id)
    form = {"name": name, "email": email, "phone": phone, "id_number": id_number, "role": role}
    try:
        with session.begin_nested():
            if role not in {r.value for r in domain.Role}:
                raise service.ValidationFailed("请选择角色", "Choose a role", errors=[{"field": "role", "code": "choice"}])
            person = session.scalar(select(Person).where(Person.email == email.strip().lower()))
            if person is None:
                person = service.create_person(session, name=name, email=email, password=password,
                                               phone=phone or None, id_number=id_number or None)
            service.add_membership(session, person_id=person.id, org_id=org.id, role=role)
    except Problem as problem:
        return render(request, "identity/admin_org.html", _org_context(session, org) | {
            "form": form, "errors": form_errors(problem, "name")}, status_code=problem.status)
    return RedirectResponse(f"/admin/organisations/{org.id}", status_code=303)
