"""Calendar use cases on a real database: the seeded table, imports, coverage and the missing-year job."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from openzone.core import calendar, jobs, notify
from openzone.core.calendar.models import CalendarDay, CalendarYear
from openzone.kit.time import CST, today_cst
from tests import builders

D = dt.date.fromisoformat
SYNTHETIC_2027 = """# source: 测试用2027年安排（非官方）
date,kind,name_zh,name_en
2027-01-01,holiday,元旦,New Year's Day
2027-01-02,holiday,元旦,New Year's Day
2027-01-03,holiday,元旦,New Year's Day
2027-01-09,makeup_workday,元旦,New Year's Day
"""


def test_the_seed_covers_2004_to_2026_and_is_idempotent(session):
    assert calendar.covered_years(session) == list(range(2004, 2027))
    assert calendar.seed_from_package(session) == []
    summary = {y.year: y for y in calendar.year_summaries(session)}
    assert (summary[2026].holidays, summary[2026].makeup_workdays) == (33, 6)
    assert summary[2026].source == f"chinese-calendar {chinese_calendar.__version__}"
    assert len(calendar.special_days(session, 2026)) == 39


def test_the_stored_table_agrees_with_the_package(session):
    table = calendar.load_table(session)
    day = dt.date(2024, 1, 1)
    while day.year <= 2026:
        assert table.is_workday(day) is chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)


def test_deadlines_through_the_service(session):
    assert calendar.add_working_days(session, D("2025-09-30"), 1) == calendar.Deadline(D("2025-10-09"), False)
    assert calendar.working_days_between(session, D("2026-02-13"), D("2026-02-28")) == calendar.WorkingDayCount(6, False)
    assert calendar.working_day_on_or_after(session, D("2026-10-01")).day == D("2026-10-08")
    assert calendar.is_workday(session, D("2026-02-14")) is True
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=CST)
    assert calendar.add_half_working_days(session, start, 1).at == dt.datetime(2026, 3, 2, 14, 30, tzinfo=CST)


def test_an_uncovered_year_fails_loudly_unless_provisional(session):
    with pytest.raises(calendar.CalendarDataMissing) as err:
        calendar.add_working_days(session, D("2026-12-31"), 1, provisional=False)
    assert err.value.year == 2027
    deadline = calendar.add_working_days(session, D("2026-12-31"), 1, provisional=True)
    assert deadline == calendar.Deadline(D("2027-01-01"), provisional=True)
    with pytest.raises(calendar.CalendarDataMissing):
        calendar.special_days(session, 2027)


def test_importing_a_year_makes_it_count_at_once(session):
    with pytest.raises(calendar.CalendarDataMissing):
        calendar.add_working_days(session, D("2026-12-31"), 1, provisional=False)
    with session.begin_nested() as savepoint:
        year = calendar.import_csv(session, SYNTHETIC_2027)
        assert (year.year, year.holidays, year.makeup_workdays) == (2027, 3, 1)
        assert year.source == "测试用2027年安排（非官方）"
        # 01-01..03 off, Monday 01-04 is the first working day; Saturday 01-09 is worked.
        assert calendar.add_working_days(session, D("2026-12-31"), 1, provisional=False).day == D("2027-01-04")
        assert calendar.add_working_days(session, D("2027-01-08"), 1, provisional=False).day == D("2027-01-09")
        assert 2027 in calendar.covered_years(session)
        savepoint.rollback()
    # The cached table notices the import is gone.
    with pytest.raises(calendar.CalendarDataMissing):
        calendar.add_working_days(session, D("2026-12-31"), 1, provisional=False)


def test_a_covered_year_is_replaced_only_on_request(session):
    text = "# source: 更正后的2026年安排\ndate,kind,name_zh,name_en\n2026-01-01,holiday,元旦,New Year's Day\n"
    with pytest.raises(calendar.CalendarYearExists) as err:
        calendar.import_csv(session, text)
    assert err.value.status == 409 and "--replace" in err.value.detail
    assert len(calendar.special_days(session, 2026)) == 39
    year = calendar.import_csv(session, text, replace=True)
    assert (year.holidays, year.makeup_workdays, year.source) == (1, 0, "更正后的2026年安排")
    assert [d.day for d in calendar.special_days(session, 2026)] == [D("2026-01-01")]
    # Saturday 2026-02-14 is an ordinary rest day now that the replaced schedule does not list it.
    assert calendar.is_workday(session, D("2026-02-14")) is False
    assert session.get(CalendarYear, 2026).source == "更正后的2026年安排"


def test_a_bad_file_writes_nothing(session):
    with pytest.raises(calendar.CalendarImportInvalid):
        calendar.import_csv(session, SYNTHETIC_2027 + "2027-01-06,makeup_workday,元旦,New Year's Day\n")
    assert 2027 not in calendar.covered_years(session)
    assert session.scalar(select(CalendarDay.day).where(CalendarDay.day >= D("2027-01-01"))) is None


def test_the_database_refuses_a_day_whose_flag_contradicts_its_kind(session):
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(CalendarDay(day=D("2031-01-04"), is_workday=False, kind="makeup_workday", source="x"))
        session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(CalendarDay(day=D("2031-01-05"), is_workday=False, kind="rest", source="x"))
        session.flush()


@pytest.mark.parametrize(("today", "missing"), [
    ("2026-11-27", [2027]),
    ("2026-01-10", []),
    ("2026-10-31", []),  # next year's notice is not expected before November
    ("2026-11-01", [2027]),
    ("2028-03-01", [2028]),
    ("2028-11-01", [2028, 2029]),
])
def test_missing_years_are_this_year_and_next_year_from_november(session, today, missing):
    assert calendar.missing_years(session, today=D(today)) == missing


def _subjects(session, person_id):
    return [m.subject for m in notify.inbox(session, person_id).items]


def test_platform_administrators_hear_once_per_missing_year(session):
    admin = builders.create_person(session, is_platform_admin=True)
    other_admin = builders.create_person(session, is_platform_admin=True)
    gone = builders.create_person(session, is_platform_admin=True)
    gone.active = False
    staff = builders.create_person(session)
    session.flush()
    assert calendar.notify_missing_years(session, today=D("2026-11-27")) == [2027]
    assert calendar.notify_missing_years(session, today=D("2026-12-01")) == [2027]
    assert _subjects(session, admin.id) == ["2027年工作日历未导入"]
    assert _subjects(session, other_admin.id) == ["2027年工作日历未导入"]
    assert _subjects(session, gone.id) == [] and _subjects(session, staff.id) == []
    message = notify.inbox(session, admin.id).items[0]
    assert message.subject_en == "The 2027 working-day calendar has not been imported"
    assert "openzone calendar import" in message.body
    assert calendar.notify_missing_years(session, today=D("2026-10-31")) == []


def test_the_daily_job_runs_through_the_job_table(session):
    admin = builders.create_person(session, is_platform_admin=True)
    assert "calendar.check" in jobs.registered_kinds()
    job = jobs.enqueue(session, "calendar.check")
    job.status, job.locked_by = "running", "test-worker"
    session.flush()
    assert jobs.run_job(session, job.id, "test-worker")
    assert job.status == "done"
    expected = [f"{year}年工作日历未导入" for year in calendar.missing_years(session, today=today_cst())]
    assert sorted(_subjects(session, admin.id)) == sorted(expected)
