"""Tables owned by calendar: the covered years and their holidays and make-up working days."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime
from openzone.kit.time import utcnow


class CalendarDay(Base):
    """Record one day the official schedule sets apart; ordinary days (Mon–Fri work, Sat–Sun rest) are not stored."""

    __tablename__ = "calendar_day"
    __table_args__ = (
        CheckConstraint("kind IN ('holiday', 'makeup_workday')", name="kind"),
        CheckConstraint("(kind = 'makeup_workday') = is_workday", name="workday_matches_kind"),
    )

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(16))
    name_zh: Mapped[str] = mapped_column(String(100), default="")
    name_en: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[str] = mapped_column(String(200))


class CalendarYear(Base):
    """Record that a year's official schedule is imported; a year without a row is not covered."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
