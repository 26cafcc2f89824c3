"""Cursor pagination over a unique, ordered key column."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from openzone.kit.errors import ValidationFailed

T = TypeVar("T")
MAX_LIMIT = 200


@dataclass
class Page(Generic[T]):
    """Hold one page of items and the cursor of the next page, if any."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(key: Any) -> str:
    """Encode the last key of a page as an opaque cursor."""
    return base64.urlsafe_b64encode(json.dumps(str(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """Decode a cursor made by encode_cursor, refusing anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("分页游标无效", "The page cursor is not valid") from exc
    if not isinstance(value, str):
        raise ValidationFailed("分页游标无效", "The page cursor is not valid")
    return value


def paginate(
    session: Session, stmt: Select, key: InstrumentedAttribute, *, cursor: str | None, limit: int, convert=str,
    descending: bool = False,
) -> Page:
    """Run stmt ordered by key (descending: newest UUIDv7 first), returning at most limit rows after the cursor."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"每页条数须在 1 到 {MAX_LIMIT} 之间", f"limit must be between 1 and {MAX_LIMIT}")
    if cursor:
        raw = decode_cursor(cursor)
        try:
            after = convert(raw)
        except (ValueError, TypeError) as exc:
            raise ValidationFailed("分页游标无效", "The page cursor is not valid") from exc
        stmt = stmt.where(key < after if descending else key > after)
    rows = list(session.scalars(stmt.order_by(key.desc() if descending else key).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(getattr(rows[-1], key.key)) if more else None
    return Page(rows, next_cursor)
