"""Calendar pages: the administrators' view of covered years and how to import the next one."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from openzone.core import identity
from openzone.core.calendar import domain, service
from openzone.db import request_session
from openzone.kit.routing import Router
from openzone.kit.time import CST
from openzone.web import add_template_dir, render

add_template_dir(Path(__file__).parent / "templates")
router = Router(include_in_schema=False)


@router.get("/admin/calendar", dependencies=[Depends(identity.platform_admin())])
def admin_calendar(request: Request, session: Session = Depends(request_session, scope="function")):
    """Show the covered years, warn of a missing one, and explain the yearly import."""
    years = [{"year": y.year, "source": y.source, "holidays": y.holidays, "makeup_workdays": y.makeup_workdays,
              "imported_at": y.imported_at.astimezone(CST).strftime("%Y-%m-%d %H:%M")}
             for y in reversed(service.year_summaries(session))]
    return render(request, "calendar/admin.html", {
        "years": years, "missing": service.missing_years(session), "header": ",".join(domain.IMPORT_HEADER)})
