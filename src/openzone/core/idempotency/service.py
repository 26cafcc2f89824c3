"""Find, reserve and complete stored responses; purge them when they expire."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openzone.core import jobs
from openzone.core.idempotency.models import StoredResponse
from openzone.kit.errors import problem
from openzone.kit.time import utcnow

KEEP = dt.timedelta(hours=24)

IdempotencyKeyInvalid = problem("idempotency-key-invalid", 422, "Idempotency-Key 无效", "Invalid Idempotency-Key")
IdempotencyKeyReused = problem("idempotency-key-reused", 422, "Idempotency-Key 已用于另一请求",
                               "Idempotency-Key already used for a different request")
IdempotencyKeyInFlight = problem("idempotency-key-in-flight", 409, "相同 Idempotency-Key 的请求正在处理",
                                 "A request with this Idempotency-Key is still being processed")

PENDING = -1  # status of a reserved key whose response is not written yet (never visible after commit)


def find(session: Session, *, principal: str, scope: str, key: str) -> StoredResponse | None:
    """Return the live stored response for a key, deleting it first if it has expired."""
    row = session.scalar(select(StoredResponse).where(
        StoredResponse.principal == principal, StoredResponse.scope == scope, StoredResponse.key == key))
    if row is not None and row.expires_at <= utcnow():
        session.delete(row)
        session.flush()
        return None
    return row


def check_replay(row: StoredResponse, request_sha256: str) -> StoredResponse:
    """Return the row to replay, or refuse a key reused for another request or still in flight."""
    if row.request_sha256 != request_sha256:
        raise IdempotencyKeyReused("该 Idempotency-Key 已用于内容不同的请求，请换一个键",
                                   "This Idempotency-Key was used for a request with different content; use a new key")
    if row.status_code == PENDING:
        raise IdempotencyKeyInFlight("请稍后重试", "Retry shortly")
    return row


def reserve(session: Session, *, principal: str, scope: str, key: str,
            request_sha256: str) -> tuple[StoredResponse, bool]:
    """Claim a key in the caller's transaction: the new row and True, or the response stored meanwhile and False."""
    row = StoredResponse(principal=principal, scope=scope, key=key, request_sha256=request_sha256,
                         status_code=PENDING, body=b"", expires_at=utcnow() + KEEP)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # PostgreSQL made this insert wait for a concurrent one with the same key; that one committed first.
        earlier = find(session, principal=principal, scope=scope, key=key)
        if earlier is None:
            raise IdempotencyKeyInFlight("请稍后重试", "Retry shortly") from None
        return check_replay(earlier, request_sha256), False
    return row, True


def complete(session: Session, row: StoredResponse, *, status_code: int, body: bytes) -> None:
    """Write the response for a reserved key (it commits with the caller's business change)."""
    row.status_code = status_code
    row.body = body
    session.flush()


def purge(session: Session, *, now: dt.datetime | None = None) -> int:
    """Delete expired stored responses; return how many went."""
    result = session.execute(delete(StoredResponse).where(StoredResponse.expires_at <= (now or utcnow())))
    return int(getattr(result, "rowcount", 0) or 0)


@jobs.handler("idempotency.purge", every=dt.timedelta(hours=1))
def _purge_job(session: Session, payload: dict[str, Any]) -> None:
    """Delete expired stored responses every hour."""
    purge(session)
