"""Inbox JSON API: a signed-in person's own in-app messages (personal, so API tokens are refused)."""

from __future__ import annotations

import uuid

from fastapi import Depends, Query
from sqlalchemy.orm import Session

from openzone.core import identity
from openzone.core.identity import Principal
from openzone.core.notify import schemas, service
from openzone.db import request_session
from openzone.kit.routing import Router

router = Router(prefix="/api/v1", tags=["notify"])
PROBLEMS = {401: {"description": "Unauthenticated (problem+json)"}, 403: {"description": "Forbidden (problem+json)"},
            404: {"description": "Not found (problem+json)"}}


@router.get("/inbox", response_model=schemas.InboxPage, responses=PROBLEMS)
def list_inbox(unread_only: bool = False, cursor: str | None = Query(None, max_length=200),
               limit: int = Query(50, ge=1, le=200), principal: Principal = Depends(identity.signed_in()),
               session: Session = Depends(request_session, scope="function")):
    """List the caller's in-app messages, newest first."""
    page = service.inbox(session, principal.person_id, unread_only=unread_only, cursor=cursor, limit=limit)
    return schemas.InboxPage(items=[schemas.InboxMessage.model_validate(m) for m in page.items],
                             next_cursor=page.next_cursor, unread_count=service.unread_count(session, principal.person_id))


@router.post("/inbox/read-all", response_model=schemas.MarkedRead, responses=PROBLEMS)
def read_all(principal: Principal = Depends(identity.signed_in()), session: Session = Depends(request_session, scope="function")):
    """Mark all of the caller's in-app messages read."""
    return schemas.MarkedRead(marked=service.mark_all_read(session, principal.person_id))


@router.post("/inbox/{message_id}/read", response_model=schemas.InboxMessage, responses=PROBLEMS)
def read_one(message_id: uuid.UUID, principal: Principal = Depends(identity.signed_in()),
             session: Session = Depends(request_session, scope="function")):
    """Mark one of the caller's in-app messages read."""
    return schemas.InboxMessage.model_validate(service.mark_read(session, principal.person_id, message_id))
