"""Pure working-day rules: the official schedule as a table, deadlines in working days and half days, months."""

from __future__ import annotations

import csv
import datetime as dt
import enum
import re
from calendar import monthrange
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from openzone.kit.errors import problem
from openzone.kit.time import CST

ONE_DAY = dt.timedelta(days=1)


class CalendarDataMissing(problem("calendar-data-missing", 409, "工作日历未导入", "Working-day calendar not imported")):
    """Signal a date in a year whose official working-day schedule has not been imported."""

    def __init__(self, year: int) -> None:
        super().__init__(f"{year}年工作日历未导入", f"The {year} working-day calendar has not been imported", year=year)
        self.year = year


CalendarImportInvalid = problem("calendar-import-invalid", 422, "工作日历导入文件有误",
                                "The working-day calendar file is not valid")


class DayKind(enum.StrEnum):
    """List the kinds of day the State Council schedule sets apart from an ordinary week."""

    HOLIDAY = "holiday"  # 放假: a day off, including weekend days inside a holiday block
    MAKEUP_WORKDAY = "makeup_workday"  # 调休上班: a Saturday or Sunday worked in exchange for a day off


DAY_KIND_LABELS: dict[DayKind, tuple[str, str]] = {
    DayKind.HOLIDAY: ("放假", "Holiday"),
    DayKind.MAKEUP_WORKDAY: ("调休上班", "Make-up working day"),
}

# The names the State Council notices use, keyed by the English names chinese-calendar stores.
HOLIDAY_NAMES: dict[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


@dataclass(frozen=True)
class SpecialDay:
    """Describe one day the official schedule sets apart: a holiday or a make-up working day."""

    day: dt.date
    kind: DayKind
    name_zh: str = ""
    name_en: str = ""

    @property
    def is_workday(self) -> bool:
        """Say whether people work on this day."""
        return self.kind is DayKind.MAKEUP_WORKDAY


@dataclass(frozen=True)
class Deadline:
    """Hold a computed day and whether it rests on a year counted Monday to Friday (暂定, provisional)."""

    day: dt.date
    provisional: bool = False


@dataclass(frozen=True)
class TimedDeadline:
    """Hold a computed instant in China Standard Time and whether it is provisional."""

    at: dt.datetime
    provisional: bool = False

    @property
    def day(self) -> dt.date:
        """Return the civil date of the deadline in China Standard Time."""
        return self.at.astimezone(CST).date()


@dataclass(frozen=True)
class WorkingDayCount:
    """Hold a number of working days and whether it is provisional."""

    days: int
    provisional: bool = False


@dataclass(frozen=True)
class CoveredYear:
    """Summarise one imported year: where its schedule came from and how many special days it has."""

    year: int
    source: str
    imported_at: dt.datetime
    holidays: int
    makeup_workdays: int


@dataclass(frozen=True)
class OfficeHours:
    """Hold the two daily sessions of office hours; each session is one half working day."""

    morning: tuple[dt.time, dt.time]
    afternoon: tuple[dt.time, dt.time]

    @classmethod
    def parse(cls, morning: str, afternoon: str) -> OfficeHours:
        """Read two sessions written HH:MM-HH:MM; the morning must end before the afternoon starts."""
        hours = cls(_parse_session(morning), _parse_session(afternoon))
        if hours.morning[1] > hours.afternoon[0]:
            raise ValueError(f"the morning session {morning} overlaps the afternoon session {afternoon}")
        return hours

    def sessions(self, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        """Return the opening and closing instants of the day's two sessions, in China Standard Time."""
        return tuple((dt.datetime.combine(day, start, tzinfo=CST), dt.datetime.combine(day, end, tzinfo=CST))
                     for start, end in (self.morning, self.afternoon))


_SESSION_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _parse_session(text: str) -> tuple[dt.time, dt.time]:
    match = _SESSION_RE.match(text)
    if not match:
        raise ValueError(f"office hours must look like 09:00-12:00, not {text!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = dt.time(h1, m1), dt.time(h2, m2)
    if start >= end:
        raise ValueError(f"office hours {text!r} end before they start")
    return start, end


@dataclass(frozen=True)
class CalendarTable:
    """Hold the imported schedule: covered years and their special days; ordinary days are Mon–Fri work, Sat–Sun rest."""

    # With provisional set, a day in an uncovered year counts Monday to Friday instead of raising
    # CalendarDataMissing, and every result whose span touches such a year is marked provisional.
    covered_years: frozenset[int]
    special_days: Mapping[dt.date, SpecialDay] = field(default_factory=dict)
    provisional: bool = False

    @classmethod
    def build(cls, years: Iterable[int], days: Iterable[SpecialDay], *, provisional: bool = False) -> CalendarTable:
        """Make a table from covered years and their special days."""
        return cls(frozenset(years), {d.day: d for d in days}, provisional)

    def covers(self, year: int) -> bool:
        """Say whether the official schedule of a year is in the table."""
        return year in self.covered_years

    def special_day(self, day: dt.date) -> SpecialDay | None:
        """Return the holiday or make-up working day on a date, or None for an ordinary day."""
        self._require(day)
        return self.special_days.get(day)

    def is_workday(self, day: dt.date) -> bool:
        """Say whether a date is a working day; raise CalendarDataMissing for an uncovered year unless provisional."""
        if not self._require(day):
            return day.weekday() < 5
        special = self.special_days.get(day)
        if special is not None:
            return special.is_workday
        return day.weekday() < 5

    def _require(self, day: dt.date) -> bool:
        # True when the day's year is covered; False when it is not but provisional mode allows Mon–Fri.
        if day.year in self.covered_years:
            return True
        if not self.provisional:
            raise CalendarDataMissing(day.year)
        return False

    def is_provisional(self, first: dt.date, last: dt.date) -> bool:
        """Say whether any date from first to last (either order, inclusive) lies in an uncovered year."""
        low, high = sorted((first, last))
        return any(year not in self.covered_years for year in range(low.year, high.year + 1))

    def add_working_days(self, start: dt.date, n: int) -> Deadline:
        """Return the n-th working day strictly after start (n ≥ 1); start itself need not be a working day."""
        if n < 1:
            raise ValueError("add_working_days counts at least one working day")
        day, left = start, n
        while left:
            day += ONE_DAY
            if self.is_workday(day):
                left -= 1
        return Deadline(day, self.is_provisional(start + ONE_DAY, day))

    def working_day_on_or_after(self, day: dt.date) -> Deadline:
        """Return day if it is a working day, else the first working day after it."""
        found = day
        while not self.is_workday(found):
            found += ONE_DAY
        return Deadline(found, self.is_provisional(day, found))

    def working_days_between(self, a: dt.date, b: dt.date) -> WorkingDayCount:
        """Count the working days d with a < d ≤ b; when b is before a, the count is negative (b < d ≤ a)."""
        if b < a:
            back = self.working_days_between(b, a)
            return WorkingDayCount(-back.days, back.provisional)
        if a == b:
            return WorkingDayCount(0, False)
        days = sum(1 for i in range(1, (b - a).days + 1) if self.is_workday(a + dt.timedelta(days=i)))
        return WorkingDayCount(days, self.is_provisional(a + ONE_DAY, b))

    def add_half_working_days(self, start: dt.datetime, halves: int, hours: OfficeHours) -> TimedDeadline:
        """Return the instant a number of half working days (office-hour sessions) after an aware start."""
        # Each session (morning, afternoon) of a working day is one half working day. Let S be the
        # session that contains start, or else the first session that opens after it, and let the
        # offset be the time from S's opening to start (zero when start is outside every session).
        # The deadline lies the same offset into the session `halves` sessions after S, but never
        # past that session's close. An offset of zero gives the close of the session just before
        # instead of the opening of that one: the same working time, shown as a close of business.
        if start.tzinfo is None:
            raise ValueError("add_half_working_days needs an aware datetime")
        if halves < 1:
            raise ValueError("add_half_working_days counts at least one half working day")
        local = start.astimezone(CST)
        day, index, offset = self._locate(local, hours)
        for _ in range(halves - 1):
            day, index = self._next_session(day, index)
        if offset:
            day, index = self._next_session(day, index)
            opens, closes = hours.sessions(day)[index]
            at = min(opens + offset, closes)
        else:
            at = hours.sessions(day)[index][1]
        return TimedDeadline(at, self.is_provisional(local.date(), at.date()))

    def _locate(self, local: dt.datetime, hours: OfficeHours) -> tuple[dt.date, int, dt.timedelta]:
        day = local.date()
        while True:
            if self.is_workday(day):
                for index, (opens, closes) in enumerate(hours.sessions(day)):
                    if local < closes:
                        return day, index, max(local - opens, dt.timedelta(0))
            day += ONE_DAY

    def _next_session(self, day: dt.date, index: int) -> tuple[dt.date, int]:
        if index == 0:
            return day, 1
        return self.add_working_days(day, 1).day, 0


# The State Council publishes next year's schedule between late October and December (the 2024
# notice came out on 2023-10-25, the 2026 one on 2025-11-04), so next year is expected from 1 November.
NEXT_YEAR_DUE = (11, 1)


def missing_years(covered: Iterable[int], today: dt.date) -> list[int]:
    """List the years that should be imported by today but are not: this year, and next year from 1 November."""
    due = [today.year]
    if (today.month, today.day) >= NEXT_YEAR_DUE:
        due.append(today.year + 1)
    have = set(covered)
    return [year for year in due if year not in have]


def add_months(day: dt.date, n: int) -> dt.date:
    """Add n calendar months (n may be negative), clamping to the month's last day: 2024-01-31 + 1 → 2024-02-29."""
    index = day.year * 12 + day.month - 1 + n
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, monthrange(year, month)[1]))


# --- import files ---

IMPORT_HEADER = ("date", "kind", "name_zh", "name_en")
MAX_NAME = 100
MAX_SOURCE = 200
_SOURCE_RE = re.compile(r"^#\s*source\s*[:：]\s*(.*)$", re.IGNORECASE)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class YearSchedule:
    """Hold one year's official schedule, validated, ready to store."""

    year: int
    source: str
    days: tuple[SpecialDay, ...]


def parse_schedule(text: str, *, source: str = "") -> YearSchedule:
    """Read and check a one-year schedule file, refusing the whole file with every bad line if anything is wrong."""
    # The file is CSV, one row per line: the header date,kind,name_zh,name_en, then one row per holiday
    # or make-up working day. Blank lines and lines starting with # are skipped; a line "# source: …"
    # names the State Council notice unless the source argument does.
    errors: list[dict] = []

    def error(line: int | None, zh: str, en: str) -> None:
        errors.append({"line": line, "message": zh, "message_en": en})

    file_source = ""
    header_seen = False
    year: int | None = None
    year_line = 0
    seen: dict[dt.date, tuple[int, DayKind | None]] = {}
    days: list[SpecialDay] = []
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            match = _SOURCE_RE.match(line)
            if match and not file_source:
                file_source = match.group(1).strip()
            continue
        row = [cell.strip() for cell in next(csv.reader([line]))]
        if not header_seen:
            header_seen = True
            if tuple(cell.lower() for cell in row) != IMPORT_HEADER:
                error(number, f"第一行应为表头 {','.join(IMPORT_HEADER)}",
                      f"the first row must be the header {','.join(IMPORT_HEADER)}")
                break
            continue
        if len(row) != len(IMPORT_HEADER):
            error(number, f"应有{len(IMPORT_HEADER)}列，实有{len(row)}列",
                  f"expected {len(IMPORT_HEADER)} columns, found {len(row)}")
            continue
        text_date, text_kind, name_zh, name_en = row
        day = _parse_date(text_date)
        if day is None:
            error(number, f"日期“{text_date}”无效，应写作 YYYY-MM-DD", f"the date {text_date!r} is not a valid YYYY-MM-DD date")
        try:
            kind: DayKind | None = DayKind(text_kind)
        except ValueError:
            kind = None
            error(number, f"类型“{text_kind}”无效，应为 holiday 或 makeup_workday",
                  f"the kind {text_kind!r} must be holiday or makeup_workday")
        if kind is DayKind.HOLIDAY and not name_zh:
            error(number, "放假日须填写节日名称（name_zh）", "a holiday needs its name (name_zh)")
        if len(name_zh) > MAX_NAME or len(name_en) > MAX_NAME:
            error(number, f"名称不能超过{MAX_NAME}字", f"names are at most {MAX_NAME} characters")
        if day is None:
            continue
        if year is None:
            year, year_line = day.year, number
        elif day.year != year:
            error(number, f"日期{day}不属于第{year_line}行确定的{year}年；一个文件只能导入一年",
                  f"{day} is not in {year}, the year set by line {year_line}; a file holds one year")
        if kind is DayKind.MAKEUP_WORKDAY and day.weekday() < 5:
            error(number, f"{day}不是周六或周日，不能作为调休上班日", f"{day} is not a Saturday or Sunday, so it cannot be a make-up working day")
        if day in seen:
            first_line, first_kind = seen[day]
            if kind is not None and first_kind is not None and kind is not first_kind:
                error(number, f"{day}在第{first_line}行已有不同类型：同一天不能既放假又调休上班",
                      f"{day} already has another kind on line {first_line}: a day cannot be both a holiday and a make-up working day")
            else:
                error(number, f"{day}与第{first_line}行重复", f"{day} repeats line {first_line}")
            continue
        seen[day] = (number, kind)
        if kind is not None:
            days.append(SpecialDay(day, kind, name_zh, name_en))
    if not header_seen:
        error(None, "文件为空：没有表头，也没有日期", "the file is empty: no header and no dates")
    elif year is None and not errors:
        error(None, "文件中没有任何日期", "the file lists no dates")
    chosen = source.strip() or file_source
    if not chosen:
        error(None, "请注明来源：在文件中写“# source: 国务院办公厅通知名称”，或使用 --source 选项",
              "name the source: a line '# source: <State Council notice>' in the file, or the --source option")
    elif len(chosen) > MAX_SOURCE:
        error(None, f"来源不能超过{MAX_SOURCE}字", f"the source is at most {MAX_SOURCE} characters")
    if errors or year is None:
        raise CalendarImportInvalid(f"文件有{len(errors)}处错误，未导入任何数据",
                                    f"The file has {len(errors)} error(s); nothing was imported", errors=errors)
    return YearSchedule(year, chosen, tuple(sorted(days, key=lambda d: d.day)))


def _parse_date(text: str) -> dt.date | None:
    if not _DATE_RE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None
