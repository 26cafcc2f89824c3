"""Decide who may call a route: every route declares an Access policy, and undeclared routes never start."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from openzone.core.identity import service
from openzone.core.identity.domain import Principal
from openzone.core.identity.models import Person
from openzone.db import request_session
from openzone.kit.concurrency import blocking
from openzone.kit.errors import Forbidden, Unauthenticated, problem

SESSION_COOKIE = "oz_session"
CSRF_COOKIE = "oz_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CsrfFailed = problem("csrf", 403, "表单已过期或来源不明，请刷新页面后重试", "The form expired or came from elsewhere; reload the page and try again")


async def load_principal(request: Request,
                         session: Session = Depends(request_session, scope="function")) -> Principal | None:
    """Return the principal of the request from its bearer token or session cookie, or None."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    request.state.db = session  # the request's own session, for page furniture such as the unread count
    return await blocking(_find_principal, request, session)


def _find_principal(request: Request, session: Session) -> Principal | None:
    principal = None
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, secret = auth.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise service.TokenInvalid("Authorization 头须为 Bearer 令牌", "The Authorization header must be a Bearer token")
        principal = service.token_principal(session, secret.strip())
        if principal is None:
            raise service.TokenInvalid()
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        ws = service.web_session(session, cookie) if cookie else None
        if ws is not None and ws.verified:
            person = session.get(Person, ws.person_id)
            if person is not None and person.active:
                principal = service.principal_for(session, person)
    request.state.principal = principal
    return principal


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse an unsafe browser request whose CSRF token does not match its cookie (double submit)."""
    expected = request.cookies.get(CSRF_COOKIE)
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise CsrfFailed()


class Access:
    """Hold a route's access policy; FastAPI calls it as the route's gate."""

    def __init__(self, *, public: bool = False, platform_admin: bool = False,
                 roles: Iterable[str] = (), scopes: Iterable[str] = (), signed_in: bool = False) -> None:
        self.public = public
        self.platform_admin = platform_admin
        self.roles = frozenset(roles)
        self.scopes = frozenset(scopes)
        self.signed_in = signed_in

    def describe(self) -> str:
        """Describe the policy for the route table and tests."""
        if self.public:
            return "public"
        parts = []
        if self.platform_admin:
            parts.append("platform-admin")
        if self.roles:
            parts.append("roles:" + ",".join(sorted(self.roles)))
        if self.signed_in:
            parts.append("signed-in")
        return " or ".join(parts) or "nobody"

    async def __call__(self, request: Request, principal: Principal | None = Depends(load_principal)) -> Principal | None:
        if request.method not in SAFE_METHODS and not (principal and principal.is_token):
            submitted = request.headers.get(CSRF_HEADER)
            if submitted is None and request.headers.get("content-type", "").startswith(
                    ("application/x-www-form-urlencoded", "multipart/form-data")):
                submitted = (await request.form()).get(CSRF_FIELD)
            check_csrf(request, submitted if isinstance(submitted, str) else None)
        if self.public:
            return principal
        if principal is None:
            raise Unauthenticated()
        if principal.is_token and self.scopes and not (principal.scopes or frozenset()) & self.scopes:
            raise Forbidden("令牌缺少所需的权限范围", "The token lacks a required scope",
                            required_scopes=sorted(self.scopes))
        if principal.is_token and not self.scopes:
            raise Forbidden("此功能不接受访问令牌", "This route does not accept API tokens")
        if self.signed_in:
            return principal
        if self.platform_admin and principal.is_platform_admin:
            return principal
        if self.roles and principal.role_names() & self.roles:
            return principal
        raise Forbidden()


def public() -> Access:
    """Allow anyone, signed in or not."""
    return Access(public=True)


def signed_in(*, scopes: Iterable[str] = ()) -> Access:
    """Allow any signed-in person (and tokens with one of the scopes)."""
    return Access(signed_in=True, scopes=scopes)


def platform_admin() -> Access:
    """Allow platform administrators only."""
    return Access(platform_admin=True)


def roles(*names: str, scopes: Iterable[str] = (), platform_admin: bool = False) -> Access:
    """Allow holders of any of the roles in some organisation (and tokens with a scope and such a role)."""
    return Access(roles=names, scopes=scopes, platform_admin=platform_admin)


def route_access(route) -> Access | None:
    """Find the Access policy among a route's dependencies, or None when it declares none."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Access):
            return dep.call
        stack.extend(dep.dependencies)
    return None
