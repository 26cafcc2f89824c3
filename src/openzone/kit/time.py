"""Give aware UTC timestamps and China Standard Time civil dates."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

CST = ZoneInfo("Asia/Shanghai")


def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


def today_cst() -> dt.date:
    """Return today's civil date in China Standard Time."""
    return utcnow().astimezone(CST).date()


def as_utc(value: dt.datetime) -> dt.datetime:
    """Return value as aware UTC; naive values (as SQLite returns them) are taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def rfc3339(value: dt.datetime) -> str:
    """Format an instant as RFC 3339 UTC with millisecond precision, e.g. 2026-01-02T03:04:05.678Z."""
    # isoformat truncates to milliseconds, like the old strftime form, and ends an aware UTC time in "+00:00".
    return as_utc(value).isoformat(timespec="milliseconds")[:-6] + "Z"
