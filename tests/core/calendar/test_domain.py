"""Working days, half days and months on the official schedule (State Council notices 2024–2026), and import files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openzone.core.calendar import domain
from openzone.core.calendar.domain import (
    CalendarDataMissing,
    CalendarImportInvalid,
    CalendarTable,
    DayKind,
    OfficeHours,
    SpecialDay,
)
from openzone.kit.time import CST

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "calendar-import-example.csv"
PACKAGE_YEARS = range(2004, 2027)


def _package_days(year: int | None = None) -> list[SpecialDay]:
    days = [SpecialDay(d, kind, domain.HOLIDAY_NAMES[name], name)
            for table, kind in ((chinese_calendar.holidays, DayKind.HOLIDAY), (chinese_calendar.workdays, DayKind.MAKEUP_WORKDAY))
            for d, name in table.items() if year is None or d.year == year]
    return sorted(days, key=lambda d: d.day)


TABLE = CalendarTable.build(PACKAGE_YEARS, _package_days())
PROVISIONAL = CalendarTable.build(PACKAGE_YEARS, _package_days(), provisional=True)
HOURS = OfficeHours.parse("09:00-12:00", "13:30-17:30")
D = dt.date.fromisoformat


def at(text: str) -> dt.datetime:
    """Return a China Standard Time instant from 'YYYY-MM-DD HH:MM'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST)


def test_every_day_2004_to_2026_agrees_with_the_package():
    day = dt.date(2004, 1, 1)
    while day.year <= 2026:
        assert TABLE.is_workday(day) is chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)


@pytest.mark.parametrize(("day", "workday"), [
    ("2026-02-14", True),  # Saturday worked before Spring Festival (国务院办公厅 2026 notice, item 2)
    ("2026-02-16", False),  # Monday inside Spring Festival
    ("2026-02-28", True),  # Saturday worked after Spring Festival
    ("2026-03-07", False),  # ordinary Saturday
    ("2026-03-09", True),  # ordinary Monday
    ("2026-10-10", True),  # Saturday worked after National Day
    ("2025-10-08", False),  # day off in lieu, National Day 2025
    ("2025-10-11", True),  # Saturday worked after National Day 2025
    ("2024-09-29", True),  # Sunday worked before National Day 2024
    ("2015-09-03", False),  # the one-off anti-fascist victory anniversary holiday
])
def test_official_days(day, workday):
    assert TABLE.is_workday(D(day)) is workday


@pytest.mark.parametrize(("start", "n", "expected"), [
    ("2025-09-30", 1, "2025-10-09"),  # National Day and Mid-autumn 2025: 10-01..08 off
    ("2025-09-30", 3, "2025-10-11"),  # the third is the make-up Saturday
    ("2026-02-13", 1, "2026-02-14"),  # Friday before Spring Festival 2026: the Saturday is worked
    ("2026-02-13", 2, "2026-02-24"),  # then 02-15..23 are off
    ("2024-09-27", 3, "2024-10-08"),  # "within 3 working days" from Friday 2024-09-27: Sun 09-29, Mon 09-30, Tue 10-08
    ("2026-04-30", 3, "2026-05-08"),  # 旅行社条例 art. 13 deposit: 3 working days from a licence on 2026-04-30
    ("2026-09-21", 20, "2026-10-26"),  # 旅行社条例 art. 7 decision: 20 working days across Mid-autumn and National Day
    ("2025-12-31", 1, "2026-01-04"),  # New Year 2026: 01-01..03 off, Sunday 01-04 worked
    ("2026-12-30", 1, "2026-12-31"),
    ("2003-12-31", 1, "2004-01-02"),  # the start day itself is never examined, so its year need not be covered
])
def test_add_working_days(start, n, expected):
    deadline = TABLE.add_working_days(D(start), n)
    assert deadline == domain.Deadline(D(expected), provisional=False)


@pytest.mark.parametrize("n", [0, -1])
def test_add_working_days_counts_at_least_one(n):
    with pytest.raises(ValueError):
        TABLE.add_working_days(D("2026-03-02"), n)


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("2025-09-30", "2025-10-09", 1),
    ("2026-02-13", "2026-02-28", 6),  # 02-14, 02-24..27, 02-28
    ("2024-09-30", "2024-10-31", 19),  # October 2024 with its make-up Saturday 10-12
    ("2026-03-02", "2026-03-02", 0),
    ("2026-02-28", "2026-02-13", -6),
])
def test_working_days_between(a, b, expected):
    assert TABLE.working_days_between(D(a), D(b)) == domain.WorkingDayCount(expected, False)


def test_working_day_on_or_after():
    assert TABLE.working_day_on_or_after(D("2025-10-01")).day == D("2025-10-09")
    assert TABLE.working_day_on_or_after(D("2025-10-09")).day == D("2025-10-09")
    assert TABLE.working_day_on_or_after(D("2026-02-14")).day == D("2026-02-14")


def test_special_days_carry_their_names():
    assert TABLE.special_day(D("2026-02-14")) == SpecialDay(D("2026-02-14"), DayKind.MAKEUP_WORKDAY, "春节", "Spring Festival")
    assert TABLE.special_day(D("2026-03-09")) is None


def test_a_year_without_data_fails_loudly():
    with pytest.raises(CalendarDataMissing) as err:
        TABLE.add_working_days(D("2026-12-30"), 2)
    problem = err.value
    assert problem.year == 2027 and problem.status == 409
    assert problem.detail == "2027年工作日历未导入"
    assert problem.detail_en == "The 2027 working-day calendar has not been imported"
    body = problem.to_dict()
    assert body["type"] == "/problems/calendar-data-missing" and body["year"] == 2027
    with pytest.raises(CalendarDataMissing):
        TABLE.is_workday(D("2003-06-02"))
    with pytest.raises(CalendarDataMissing):
        TABLE.working_days_between(D("2026-12-01"), D("2027-01-10"))


def test_provisional_mode_counts_monday_to_friday_and_says_so():
    assert PROVISIONAL.add_working_days(D("2026-12-30"), 2) == domain.Deadline(D("2027-01-01"), provisional=True)
    assert PROVISIONAL.add_working_days(D("2026-12-28"), 2) == domain.Deadline(D("2026-12-30"), provisional=False)
    assert PROVISIONAL.working_days_between(D("2026-12-31"), D("2027-01-08")) == domain.WorkingDayCount(6, True)
    assert PROVISIONAL.working_day_on_or_after(D("2027-01-02")) == domain.Deadline(D("2027-01-04"), True)


@pytest.mark.parametrize(("day", "n", "expected"), [
    ("2024-01-31", 1, "2024-02-29"),
    ("2023-01-31", 1, "2023-02-28"),
    ("2024-02-29", 12, "2025-02-28"),
    ("2024-03-31", -1, "2024-02-29"),
    ("2024-05-31", 1, "2024-06-30"),
    ("2024-12-15", 1, "2025-01-15"),
    ("2024-01-15", -13, "2022-12-15"),
    ("2024-01-15", 0, "2024-01-15"),
])
def test_add_months_clamps_to_the_end_of_the_month(day, n, expected):
    assert domain.add_months(D(day), n) == D(expected)


# --- half working days: 上午 09:00–12:00 and 下午 13:30–17:30 are one half working day each ---

@pytest.mark.parametrize(("start", "halves", "expected"), [
    ("2026-03-02 10:00", 1, "2026-03-02 14:30"),  # one hour into the morning → one hour into the afternoon
    ("2026-03-02 10:00", 2, "2026-03-03 10:00"),
    ("2026-03-02 16:00", 1, "2026-03-03 11:30"),  # 2½ hours into the afternoon → 2½ hours into next morning
    ("2026-03-02 17:00", 1, "2026-03-03 12:00"),  # 3½ hours does not fit a 3-hour morning: its close
    ("2026-03-02 08:00", 1, "2026-03-02 12:00"),  # before hours: the whole morning
    ("2026-03-02 08:00", 2, "2026-03-02 17:30"),
    ("2026-03-02 09:00", 1, "2026-03-02 12:00"),  # at the opening: offset zero
    ("2026-03-02 12:00", 1, "2026-03-02 17:30"),  # the morning has closed: the whole afternoon
    ("2026-03-02 12:30", 1, "2026-03-02 17:30"),
    ("2026-03-02 18:00", 1, "2026-03-03 12:00"),
    ("2026-02-13 15:00", 1, "2026-02-14 10:30"),  # Friday afternoon → the make-up Saturday morning
    ("2026-02-14 14:00", 1, "2026-02-24 09:30"),  # across Spring Festival 2026
    ("2026-10-01 10:00", 1, "2026-10-08 12:00"),  # from a holiday: the first session after it
    ("2026-03-06 14:00", 1, "2026-03-09 09:30"),  # Friday afternoon → Monday morning
])
def test_add_half_working_days(start, halves, expected):
    deadline = TABLE.add_half_working_days(at(start), halves, HOURS)
    assert deadline == domain.TimedDeadline(at(expected), provisional=False)
    assert deadline.day == at(expected).date()


def test_half_working_days_accept_any_time_zone_and_answer_in_china_time():
    deadline = TABLE.add_half_working_days(dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC), 1, HOURS)
    assert deadline.at == at("2026-03-02 14:30") and deadline.at.utcoffset() == dt.timedelta(hours=8)


def test_half_working_days_refuse_naive_times_and_zero():
    with pytest.raises(ValueError):
        TABLE.add_half_working_days(dt.datetime(2026, 3, 2, 10, 0), 1, HOURS)
    with pytest.raises(ValueError):
        TABLE.add_half_working_days(at("2026-03-02 10:00"), 0, HOURS)
    with pytest.raises(CalendarDataMissing):
        TABLE.add_half_working_days(at("2026-12-31 16:00"), 1, HOURS)
    assert PROVISIONAL.add_half_working_days(at("2026-12-31 16:00"), 1, HOURS) == domain.TimedDeadline(
        at("2027-01-01 11:30"), provisional=True)


@pytest.mark.parametrize(("morning", "afternoon"), [
    ("9-12", "13:30-17:30"), ("12:00-09:00", "13:30-17:30"), ("09:00-14:00", "13:30-17:30"), ("09:00-12:00", "25:00-26:00"),
])
def test_bad_office_hours_are_refused(morning, afternoon):
    with pytest.raises(ValueError):
        OfficeHours.parse(morning, afternoon)


# --- properties ---

covered_dates = st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2026, 3, 31))


@given(covered_dates, st.integers(min_value=1, max_value=150))
def test_adding_then_counting_gives_back_n(start, n):
    deadline = TABLE.add_working_days(start, n)
    assert TABLE.is_workday(deadline.day)
    assert TABLE.working_days_between(start, deadline.day).days == n
    assert TABLE.add_working_days(start, n + 1).day > deadline.day
    assert not deadline.provisional


@given(st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2030, 12, 31)), st.integers(min_value=1, max_value=300))
def test_provisional_results_are_marked_exactly_when_they_touch_an_uncovered_year(start, n):
    deadline = PROVISIONAL.add_working_days(start, n)
    assert PROVISIONAL.working_days_between(start, deadline.day).days == n
    assert deadline.provisional is (deadline.day.year > 2026)


@given(covered_dates, covered_dates, covered_dates)
def test_counting_is_additive_and_antisymmetric(a, b, c):
    ab, bc, ac = (TABLE.working_days_between(x, y).days for x, y in ((a, b), (b, c), (a, c)))
    assert ab + bc == ac
    assert TABLE.working_days_between(b, a).days == -ab


@given(st.datetimes(min_value=dt.datetime(2004, 1, 1), max_value=dt.datetime(2026, 6, 30)), st.integers(min_value=1, max_value=40))
def test_a_half_day_deadline_falls_inside_a_session_of_a_working_day(start, halves):
    start = start.replace(tzinfo=CST)
    deadline = TABLE.add_half_working_days(start, halves, HOURS)
    assert deadline.at > start
    assert TABLE.is_workday(deadline.day)
    assert any(opens < deadline.at <= closes for opens, closes in HOURS.sessions(deadline.day))
    assert TABLE.add_half_working_days(start, halves + 1, HOURS).at > deadline.at


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)), st.integers(min_value=-600, max_value=600))
def test_add_months_moves_the_month_and_never_overshoots_the_day(day, n):
    result = domain.add_months(day, n)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == n
    assert result.day == day.day or (result.day < day.day and (result + dt.timedelta(days=1)).day == 1)


# --- import files ---

def test_the_example_file_is_the_official_2026_schedule():
    schedule = domain.parse_schedule(EXAMPLE.read_text(encoding="utf-8"))
    assert schedule.year == 2026
    assert schedule.source == "国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日）"
    assert list(schedule.days) == _package_days(2026)


def test_the_source_option_wins_and_a_bom_and_a_full_width_colon_are_accepted():
    text = "\ufeff# source：国办通知\ndate,kind,name_zh,name_en\n2027-01-01,holiday,元旦,New Year's Day\n"
    assert domain.parse_schedule(text).source == "国办通知"
    assert domain.parse_schedule(text, source=" 另一个来源 ").source == "另一个来源"


def test_a_bad_file_is_refused_whole_with_every_bad_line():
    text = "\n".join([
        "# source: 测试",
        "date,kind,name_zh,name_en",
        "2027-01-02,holiday,元旦,New Year's Day",  # line 3: fine (a Saturday), sets the year
        "2027-02-30,holiday,春节,Spring Festival",  # 4: no such date
        "2027-02-06,rest,春节,Spring Festival",  # 5: unknown kind
        "2027-02-08,holiday,,",  # 6: holiday without a name
        "2027-02-10,makeup_workday,春节,Spring Festival",  # 7: a Wednesday cannot be a make-up day
        "2028-01-01,holiday,元旦,New Year's Day",  # 8: another year
        "2027-01-02,holiday,元旦,New Year's Day",  # 9: repeats line 3
        "2027-01-02,makeup_workday,元旦,New Year's Day",  # 10: a holiday cannot also be worked
        "2027-01-03,holiday",  # 11: too few columns
        "20270101,holiday,元旦,New Year's Day",  # 12: not YYYY-MM-DD
    ])
    with pytest.raises(CalendarImportInvalid) as err:
        domain.parse_schedule(text)
    problem = err.value
    assert problem.status == 422 and "未导入任何数据" in problem.detail
    lines = [e["line"] for e in problem.errors]
    assert lines == [4, 5, 6, 7, 8, 9, 10, 11, 12]
    messages = {e["line"]: e["message"] for e in problem.errors}
    assert "2027-02-30" in messages[4] and "makeup_workday" in messages[5] and "name_zh" in messages[6]
    assert "周六或周日" in messages[7] and "第3行" in messages[8] and "重复" in messages[9]
    assert "既放假又调休上班" in messages[10] and "4列" in messages[11]
    assert all(e["message_en"] for e in problem.errors)


@pytest.mark.parametrize(("text", "needle"), [
    ("", "文件为空"),
    ("# source: x\n", "文件为空"),
    ("# source: x\ndate,kind,name_zh,name_en\n", "没有任何日期"),
    ("# source: x\nday,kind\n2027-01-01,holiday\n", "表头"),
    ("date,kind,name_zh,name_en\n2027-01-01,holiday,元旦,New Year's Day\n", "来源"),
    (f"# source: {'长' * 201}\ndate,kind,name_zh,name_en\n2027-01-01,holiday,元旦,\n", "来源不能超过"),
])
def test_files_missing_a_part_are_refused(text, needle):
    with pytest.raises(CalendarImportInvalid) as err:
        domain.parse_schedule(text)
    assert any(needle in e["message"] for e in err.value.errors)
