"""The `openzone calendar` commands against the test database (they commit, so 2027 is cleaned up after)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from openzone.cli import app
from openzone.core import calendar
from openzone.core.calendar.models import CalendarDay, CalendarYear
from openzone.db import transaction

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "calendar-import-example.csv"
SYNTHETIC_2027 = """# source: 测试用2027年安排（非官方）
date,kind,name_zh,name_en
2027-01-01,holiday,元旦,New Year's Day
2027-01-02,holiday,元旦,New Year's Day
2027-01-03,holiday,元旦,New Year's Day
2027-02-06,makeup_workday,春节,Spring Festival
"""


def flat(output: str) -> str:
    """Drop the spaces and line breaks Rich adds when it wraps, so phrases can be found."""
    return "".join(output.split())


def covered() -> list[int]:
    with transaction() as session:
        return calendar.covered_years(session)


@pytest.fixture
def clean_2027():
    """Remove whatever a test imported for 2027."""
    yield
    with transaction() as session:
        session.execute(delete(CalendarDay).where(CalendarDay.day.between(dt.date(2027, 1, 1), dt.date(2027, 12, 31))))
        session.execute(delete(CalendarYear).where(CalendarYear.year == 2027))


def test_import_a_year_then_list_and_check_it(tmp_path, clean_2027):
    path = tmp_path / "2027.csv"
    path.write_text(SYNTHETIC_2027, encoding="utf-8")
    result = runner.invoke(app, ["calendar", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "已导入2027年工作日历：放假3天，调休上班1天" in flat(result.output)
    assert 2027 in covered()

    listing = runner.invoke(app, ["calendar", "days", "2027"])
    assert listing.exit_code == 0, listing.output
    assert "2027-02-06" in listing.output and "调休上班" in listing.output

    check = runner.invoke(app, ["calendar", "check", "--strict", "--as-of", "2026-12-01"])
    assert check.exit_code == 0, check.output
    assert "2026年和2027年均已覆盖" in flat(check.output)

    again = runner.invoke(app, ["calendar", "import", str(path)])
    assert again.exit_code == 1 and "--replace" in flat(again.output)
    replaced = runner.invoke(app, ["calendar", "import", str(path), "--replace", "--source", "更正的来源"])
    assert replaced.exit_code == 0, replaced.output
    assert "更正的来源" in flat(replaced.output)


def test_a_bad_file_is_refused_line_by_line_and_nothing_is_written(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(SYNTHETIC_2027 + "2027-02-10,makeup_workday,春节,Spring Festival\n2027-13-01,holiday,春节,\n",
                    encoding="utf-8")
    result = runner.invoke(app, ["calendar", "import", str(path)])
    assert result.exit_code == 1
    out = flat(result.output)
    assert "文件有2处错误，未导入任何数据" in out
    assert "第7行·line7:2027-02-10不是周六或周日" in out
    assert "第8行·line8:日期“2027-13-01”无效" in out
    assert 2027 not in covered()


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(SYNTHETIC_2027.encode("gbk"))
    result = runner.invoke(app, ["calendar", "import", str(path)])
    assert result.exit_code == 1 and "UTF-8" in result.output
    assert 2027 not in covered()


def test_the_example_file_needs_replace_because_2026_is_seeded():
    result = runner.invoke(app, ["calendar", "import", str(EXAMPLE)])
    assert result.exit_code == 1
    assert "2026年工作日历已导入" in flat(result.output)


def test_check_warns_about_next_year_and_fails_only_when_strict():
    result = runner.invoke(app, ["calendar", "check", "--as-of", "2026-11-27"])
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "2026" in out and "chinese-calendar" in out
    assert "警告：2027年工作日历未导入" in out and "Warning:the2027working-daycalendarhasnotbeenimported" in out
    strict = runner.invoke(app, ["calendar", "check", "--strict", "--as-of", "2026-11-27"])
    assert strict.exit_code == 1
    quiet = runner.invoke(app, ["calendar", "check", "--strict", "--as-of", "2026-06-01"])
    assert quiet.exit_code == 0 and "警告" not in quiet.output


def test_check_refuses_a_bad_date():
    result = runner.invoke(app, ["calendar", "check", "--as-of", "2026-02-30"])
    assert result.exit_code == 2 and "2026-02-30" in result.output


def test_listing_an_uncovered_year_says_so():
    result = runner.invoke(app, ["calendar", "days", "2030"])
    assert result.exit_code == 1 and "2030年工作日历未导入" in result.output
