"""Inbox pages: a signed-in person's in-app messages, with marking as read."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from fastapi import Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from openzone.core import identity
from openzone.core.identity import Principal
from openzone.core.notify import service
from openzone.db import request_session
from openzone.kit.routing import Router
from openzone.kit.time import CST
from openzone.kit.urls import safe_next
from openzone.web import add_template_dir, render

add_template_dir(Path(__file__).parent / "templates")
router = Router(include_in_schema=False)
PAGE_SIZE = 20


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M")


@router.get("/inbox")
def inbox_page(request: Request, unread: bool = False, cursor: str | None = Query(None, max_length=200),
               principal: Principal = Depends(identity.signed_in()), session: Session = Depends(request_session, scope="function")):
    """List the person's in-app messages, newest first, unread ones marked."""
    page = service.inbox(session, principal.person_id, unread_only=unread, cursor=cursor, limit=PAGE_SIZE)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return render(request, "notify/inbox.html", {
        "messages": page.items, "next_cursor": page.next_cursor, "unread_only": unread, "here": here,
        "unread_count": service.unread_count(session, principal.person_id), "local": _local})


@router.post("/inbox/read-all")
def read_all(principal: Principal = Depends(identity.signed_in()), session: Session = Depends(request_session, scope="function")):
    """Mark every message read."""
    service.mark_all_read(session, principal.person_id)
    return RedirectResponse("/inbox", status_code=303)


@router.post("/inbox/{message_id}/read")
def read_one(message_id: uuid.UUID, next: str = Form("/inbox"), principal: Principal = Depends(identity.signed_in()),
             session: Session = Depends(request_session, scope="function")):
    """Mark one message read and go back to the page it was on."""
    service.mark_read(session, principal.person_id, message_id)
    return RedirectResponse(safe_next(next), status_code=303)
