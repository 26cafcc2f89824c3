"""Ledger use cases: record an event's entry in the caller's transaction; make, open and erase commitments."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import rfc8785
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openzone.core.ledger import domain
from openzone.core.ledger.domain import InvalidCommitment, InvalidEntry, Opening
from openzone.core.ledger.models import Entry, Salt
from openzone.kit.errors import ValidationFailed
from openzone.kit.ids import new_id, sha256_hex
from openzone.kit.time import rfc3339, utcnow

MAX_PENDING_BATCH = 10_000


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 (JCS) bytes of a JSON value."""
    return rfc8785.dumps(value)


def record(
    session: Session,
    event_type: str,
    *,
    actor_org_id: uuid.UUID | None,
    digests: Mapping[str, str] | None = None,
    commitments: Mapping[str, str] | None = None,
    data: Mapping[str, Any] | None = None,
) -> Entry:
    """Validate an event and store its pending ledger entry in the caller's transaction.

    Personal identifiers never go in clear: pass `commitments` made by commit(); data holding a
    resident ID number or a mobile number is refused.
    """
    event_type = domain.validate_event_type(event_type)
    digests = domain.validate_digests(digests)
    commitments = domain.validate_commitments(commitments)
    if actor_org_id is not None and not isinstance(actor_org_id, uuid.UUID):
        raise InvalidEntry("操作机构须为机构 id", "The actor must be an organisation id",
                           errors=[{"field": "actor_org_id", "code": "type"}])
    if data is not None and not isinstance(data, Mapping):
        raise InvalidEntry("数据须为对象", "Data must be an object", errors=[{"field": "data", "code": "type"}])
    plain = domain.plain_data(dict(data or {}))
    domain.refuse_personal_identifiers(plain)
    if len(canonical_json(plain)) > domain.MAX_DATA_BYTES:
        raise InvalidEntry(f"数据规范化后不得超过{domain.MAX_DATA_BYTES}字节",
                           f"Data may take at most {domain.MAX_DATA_BYTES} bytes in canonical form",
                           errors=[{"field": "data", "code": "size"}])
    # A commitment must come from commit(): a bare hash of an identifier could be reversed by trying every value.
    unknown = sorted(c for c in set(commitments.values()) if session.get(Salt, c) is None)
    if unknown:
        raise InvalidEntry("承诺值须由 ledger.commit 生成且未被擦除", "Commitments must come from ledger.commit and not be erased",
                           errors=[{"field": "commitments", "code": "unknown", "values": unknown}])
    now = utcnow()
    body = canonical_json(domain.entry_body(
        event_type=event_type, time=rfc3339(now), actor=str(actor_org_id) if actor_org_id else None,
        digests=digests, commitments=commitments, data=plain))
    if len(body) > domain.MAX_ENTRY_BYTES:
        raise InvalidEntry(f"账本条目不得超过{domain.MAX_ENTRY_BYTES}字节",
                           f"A ledger entry may take at most {domain.MAX_ENTRY_BYTES} bytes",
                           errors=[{"field": "entry", "code": "size"}])
    entry = Entry(id=new_id(), created_at=now, event_type=event_type, actor_org_id=actor_org_id, body=body,
                  body_sha256=sha256_hex(body))
    session.add(entry)
    session.flush()
    return entry


def entry_bytes(entry: Entry) -> bytes:
    """Return the exact bytes of an entry, the input to its RFC 9162 leaf hash."""
    return bytes(entry.body)


def pending(session: Session, limit: int = 256) -> list[Entry]:
    """List entries not yet integrated, oldest first, for the integrator."""
    if not 1 <= limit <= MAX_PENDING_BATCH:
        raise ValidationFailed(f"批量条数须在 1 到 {MAX_PENDING_BATCH} 之间",
                               f"limit must be between 1 and {MAX_PENDING_BATCH}")
    return list(session.scalars(select(Entry).where(Entry.leaf_index.is_(None))
                                .order_by(Entry.created_at, Entry.id).limit(limit)))


def commit(session: Session, kind: str, value: str) -> str:
    """Return a fresh salted commitment "c1:<hex>" to a value, keeping its salt so the holder can open it later."""
    kind = domain.validate_kind(kind)
    if not isinstance(value, str) or not value:
        raise InvalidCommitment("承诺的值不能为空", "The committed value may not be empty",
                                errors=[{"field": "value", "code": "required"}])
    salt = secrets.token_bytes(domain.SALT_BYTES)
    commitment = domain.commitment_of(kind, salt, value)
    session.add(Salt(commitment=commitment, kind=kind, salt=salt))
    session.flush()
    return commitment


def opening(session: Session, commitment: str) -> Opening | None:
    """Return the kind and salt that open a commitment, or None once its salt is erased."""
    row = session.get(Salt, commitment) if domain.COMMITMENT_RE.match(commitment) else None
    return Opening(row.commitment, row.kind, bytes(row.salt)) if row else None


def open_commitment(session: Session, commitment: str, value: str) -> bool:
    """Say whether a commitment hides value; False when its salt has been erased."""
    found = opening(session, commitment)
    if found is None:
        return False
    return domain.check_opening(commitment, kind=found.kind, salt=found.salt, value=value)


def erase_salts(session: Session, commitments: Iterable[str]) -> int:
    """Delete the salts of some commitments, leaving every entry intact; return how many were erased."""
    wanted = sorted(set(commitments))
    if not wanted:
        return 0
    result = session.execute(delete(Salt).where(Salt.commitment.in_(wanted)))
    session.flush()
    return result.rowcount
