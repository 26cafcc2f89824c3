"""Calendar use cases: load the official table, compute deadlines, seed and import years, warn of missing ones."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict

import chinese_calendar
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core import identity, jobs, notify
from openzone.core.calendar import domain
from openzone.core.calendar.domain import (
    CalendarTable,
    CoveredYear,
    DayKind,
    Deadline,
    OfficeHours,
    SpecialDay,
    TimedDeadline,
    WorkingDayCount,
    YearSchedule,
)
from openzone.core.calendar.models import CalendarDay, CalendarYear
from openzone.kit.errors import problem
from openzone.kit.time import today_cst, utcnow

CalendarYearExists = problem("calendar-year-exists", 409, "该年度工作日历已导入", "That year's working-day calendar is already imported")

PACKAGE_SOURCE = f"chinese-calendar {chinese_calendar.__version__}"

# One table per database, rebuilt when the covered years change; a year is a few dozen rows.
_cache: dict[str, tuple[tuple, CalendarTable]] = {}


def load_table(session: Session, *, provisional: bool | None = None) -> CalendarTable:
    """Return the official table; provisional (Mon–Fri for uncovered years) defaults to the setting."""
    stamp = tuple(session.execute(select(func.count(), func.max(CalendarYear.imported_at))).one())
    key = str(session.get_bind().engine.url)
    cached = _cache.get(key)
    if cached is None or cached[0] != stamp:
        years = session.scalars(select(CalendarYear.year)).all()
        rows = session.execute(select(CalendarDay.day, CalendarDay.kind, CalendarDay.name_zh, CalendarDay.name_en)).all()
        table = CalendarTable.build(years, (SpecialDay(r.day, DayKind(r.kind), r.name_zh, r.name_en) for r in rows))
        _cache[key] = (stamp, table)
    else:
        table = cached[1]
    mode = get_settings().calendar_provisional if provisional is None else provisional
    return dataclasses.replace(table, provisional=mode)


def office_hours() -> OfficeHours:
    """Return the configured office-hour sessions."""
    settings = get_settings()
    return OfficeHours.parse(settings.office_morning, settings.office_afternoon)


def is_workday(session: Session, day: dt.date, *, provisional: bool | None = None) -> bool:
    """Say whether a date is a working day."""
    return load_table(session, provisional=provisional).is_workday(day)


def add_working_days(session: Session, start: dt.date, n: int, *, provisional: bool | None = None) -> Deadline:
    """Return the n-th working day strictly after start (n ≥ 1)."""
    return load_table(session, provisional=provisional).add_working_days(start, n)


def working_day_on_or_after(session: Session, day: dt.date, *, provisional: bool | None = None) -> Deadline:
    """Return day if it is a working day, else the first working day after it."""
    return load_table(session, provisional=provisional).working_day_on_or_after(day)


def working_days_between(session: Session, a: dt.date, b: dt.date, *,
                         provisional: bool | None = None) -> WorkingDayCount:
    """Count the working days d with a < d ≤ b (negative when b is before a)."""
    return load_table(session, provisional=provisional).working_days_between(a, b)


def add_half_working_days(session: Session, start: dt.datetime, halves: int, *,
                          provisional: bool | None = None) -> TimedDeadline:
    """Return the instant a number of half working days (office-hour sessions) after an aware start time."""
    return load_table(session, provisional=provisional).add_half_working_days(start, halves, office_hours())


def covered_years(session: Session) -> list[int]:
    """List the years whose official schedule is imported, in order."""
    return list(session.scalars(select(CalendarYear.year).order_by(CalendarYear.year)))


def year_summaries(session: Session) -> list[CoveredYear]:
    """Describe every covered year: its source, when it was imported and its counts of special days."""
    counts: dict[tuple[int, str], int] = defaultdict(int)
    for day, kind in session.execute(select(CalendarDay.day, CalendarDay.kind)):
        counts[day.year, kind] += 1
    return [CoveredYear(y.year, y.source, y.imported_at, counts[y.year, DayKind.HOLIDAY],
                        counts[y.year, DayKind.MAKEUP_WORKDAY])
            for y in session.scalars(select(CalendarYear).order_by(CalendarYear.year))]


def special_days(session: Session, year: int) -> list[SpecialDay]:
    """List a covered year's holidays and make-up working days in date order."""
    if session.get(CalendarYear, year) is None:
        raise domain.CalendarDataMissing(year)
    rows = session.execute(select(CalendarDay.day, CalendarDay.kind, CalendarDay.name_zh, CalendarDay.name_en)
                           .where(CalendarDay.day.between(dt.date(year, 1, 1), dt.date(year, 12, 31)))
                           .order_by(CalendarDay.day)).all()
    return [SpecialDay(r.day, DayKind(r.kind), r.name_zh, r.name_en) for r in rows]


def missing_years(session: Session, *, today: dt.date | None = None) -> list[int]:
    """List the years due but not imported: this year (China time), and next year from 1 November."""
    return domain.missing_years(covered_years(session), today or today_cst())


def import_schedule(session: Session, schedule: YearSchedule, *, replace: bool = False) -> CoveredYear:
    """Store one year's schedule; a covered year is refused unless replace is set, which swaps its days."""
    year = session.get(CalendarYear, schedule.year)
    if year is not None and not replace:
        raise CalendarYearExists(f"{schedule.year}年工作日历已导入（来源：{year.source}）；如需替换请使用 --replace",
                                 f"The {schedule.year} calendar is already imported (source: {year.source}); use --replace to replace it",
                                 year=schedule.year)
    session.execute(delete(CalendarDay).where(
        CalendarDay.day.between(dt.date(schedule.year, 1, 1), dt.date(schedule.year, 12, 31))))
    if year is None:
        year = CalendarYear(year=schedule.year, source=schedule.source, imported_at=utcnow())
        session.add(year)
    else:
        year.source = schedule.source
        year.imported_at = utcnow()
    if schedule.days:
        session.execute(insert(CalendarDay), [
            {"day": d.day, "is_workday": d.is_workday, "kind": d.kind.value, "name_zh": d.name_zh,
             "name_en": d.name_en, "source": schedule.source} for d in schedule.days])
    session.flush()
    holidays = sum(1 for d in schedule.days if d.kind is DayKind.HOLIDAY)
    return CoveredYear(schedule.year, schedule.source, year.imported_at, holidays, len(schedule.days) - holidays)


def import_csv(session: Session, text: str, *, source: str = "", replace: bool = False) -> CoveredYear:
    """Check a one-year schedule file (see domain.parse_schedule) and store it, or refuse it whole."""
    return import_schedule(session, domain.parse_schedule(text, source=source), replace=replace)


def package_schedules() -> list[YearSchedule]:
    """Return every year chinese-calendar carries (2004–2026 in 1.11.0) as schedules."""
    by_year: dict[int, list[SpecialDay]] = defaultdict(list)
    for table, kind in ((chinese_calendar.holidays, DayKind.HOLIDAY), (chinese_calendar.workdays, DayKind.MAKEUP_WORKDAY)):
        for day, name_en in table.items():
            by_year[day.year].append(SpecialDay(day, kind, domain.HOLIDAY_NAMES.get(name_en, name_en), name_en))
    return [YearSchedule(year, PACKAGE_SOURCE, tuple(sorted(by_year[year], key=lambda d: d.day)))
            for year in range(min(by_year), max(by_year) + 1)]


def seed_from_package(session: Session) -> list[int]:
    """Copy the package's years that are not yet covered into the tables; return the years added (idempotent)."""
    covered = set(covered_years(session))
    added = []
    for schedule in package_schedules():
        if schedule.year not in covered:
            import_schedule(session, schedule)
            added.append(schedule.year)
    return added


def notify_missing_years(session: Session, *, today: dt.date | None = None) -> list[int]:
    """Tell every platform administrator, once per year, that a due year's schedule is missing (see missing_years)."""
    missing = missing_years(session, today=today)
    admins = identity.platform_admin_ids(session) if missing else []
    for year in missing:
        for person_id in admins:
            notify.send(
                session, person_id=person_id,
                subject=f"{year}年工作日历未导入",
                body=(f"{year}年的工作日历（国务院办公厅节假日安排）尚未导入。未导入前，落在{year}年的工作日期限无法计算"
                      "（或在暂定模式下按周一至周五计算并标注“暂定”）。通知发布后，请运行 "
                      "openzone calendar import 文件 导入，格式见 docs/calendar-import-example.csv。"),
                subject_en=f"The {year} working-day calendar has not been imported",
                body_en=(f"The {year} working-day calendar (the State Council holiday schedule) is not imported. Until it "
                         f"is, deadlines that fall in {year} cannot be computed (or, in provisional mode, count Monday to "
                         "Friday and are marked provisional). Once the notice is published, run openzone calendar import "
                         "FILE; the format is in docs/calendar-import-example.csv."),
                dedupe_key=f"calendar-missing-{year}-{person_id}",
            )
    return missing


@jobs.handler("calendar.check", every=dt.timedelta(days=1))
def daily_check(session: Session, payload: dict) -> None:
    """Run the daily check for a missing year (the recurring job calendar.check)."""
    notify_missing_years(session)
