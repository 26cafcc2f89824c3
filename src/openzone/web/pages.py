"""Pages of the shell itself: home, language switch, health and the API documentation."""

from __future__ import annotations

import datetime as dt

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core import jobs
from openzone.core.identity import access
from openzone.db import request_session
from openzone.kit import i18n
from openzone.kit.routing import Router
from openzone.kit.time import utcnow
from openzone.kit.urls import safe_next
from openzone.services import SERVICES
from openzone.web.middleware import LANG_COOKIE
from openzone.web.templating import render

router = Router(include_in_schema=False)


@router.get("/", response_class=HTMLResponse, dependencies=[Depends(access.public())])
def home(request: Request):
    """Show the ten services and which are running."""
    return render(request, "web/home.html", {"services": SERVICES})


@router.get("/language/{code}", dependencies=[Depends(access.public())])
def switch_language(code: str, request: Request, next: str | None = None):
    """Keep the chosen language in a cookie and go back to the page."""
    lang = i18n.normalise(code)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax",
                        secure=get_settings().secure_cookies, httponly=True, path="/")
    return response


@router.get("/healthz", dependencies=[Depends(access.public())])
def healthz(session: Session = Depends(request_session, scope="function")):
    """Report whether the database answers and a worker has beaten recently."""
    try:
        session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # noqa: BLE001 - any failure means the database is unreachable
        database = "unreachable"
    beat = None
    if database == "ok":
        try:
            with session.begin_nested():  # a failed read leaves the request's transaction usable (PostgreSQL)
                beat = jobs.last_heartbeat(session)
        except SQLAlchemyError:
            # The database answers but lacks our tables: not migrated (`openzone db upgrade` or `openzone init`).
            database = "not migrated"
    stale = get_settings().worker_heartbeat_stale_seconds
    worker = "ok" if beat and utcnow() - beat < dt.timedelta(seconds=stale) else "stale"
    status = "ok" if database == "ok" and worker == "ok" else "degraded"
    body = {"status": status, "database": database, "worker": worker,
            "worker_heartbeat_at": beat.isoformat() if beat else None}
    return JSONResponse(body, status_code=200 if database == "ok" else 503)


@router.get("/api/docs", response_class=HTMLResponse, dependencies=[Depends(access.public())])
def api_docs(request: Request):
    """Serve Swagger UI from vendored files, with no inline script."""
    return render(request, "web/api_docs.html")
