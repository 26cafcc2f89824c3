"""Ledger administration page: the witnesses, how their last request went, and whether the newest checkpoint is final."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from openzone.core import identity
from openzone.core.ledger import witness_service
from openzone.db import request_session
from openzone.kit.routing import Router
from openzone.kit.time import CST
from openzone.web import add_template_dir, render

add_template_dir(Path(__file__).parent / "templates")
router = Router(include_in_schema=False)


def _local(moment: dt.datetime | None) -> str:
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


@router.get("/admin/ledger", dependencies=[Depends(identity.platform_admin())])
def admin_ledger(request: Request, session: Session = Depends(request_session, scope="function")):
    """Show the registered witnesses with their last cosigned size and last error, and the newest checkpoint's finality."""
    view = witness_service.witness_overview(session)
    return render(request, "ledger/admin.html", {"view": view, "cosigned": set(view.cosigners), "local": _local})
