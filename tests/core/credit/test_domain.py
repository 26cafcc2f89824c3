"""Credit rules as pure functions: the rulebook by finding date, windows, repair conditions, standing."""

from __future__ import annotations

import datetime as dt

import pytest

from openzone.core.credit import domain
from openzone.core.credit.domain import RecordClass

R2023 = domain.rulebook_2023((3, 12), (12, 36))


def test_the_2025_measures_govern_findings_from_1_april_2026_and_the_2023_rules_before():
    assert domain.rulebook_for(dt.date(2026, 4, 1), RecordClass.GENERAL, rules_2023=R2023) is domain.RULES_2025
    assert domain.rulebook_for(dt.date(2026, 3, 31), RecordClass.GENERAL, rules_2023=R2023) is R2023
    assert domain.rulebook_for(dt.date(2023, 5, 1), RecordClass.SERIOUS, rules_2023=R2023) is R2023
    assert domain.rulebook_for(dt.date(2021, 1, 5), RecordClass.SERIOUS, rules_2023=R2023) is domain.RULES_2019
    assert domain.RULES_2025.verified and not R2023.verified


def test_a_finding_no_rulebook_covers_is_a_clear_error():
    with pytest.raises(domain.NoRulebook):
        domain.rulebook_for(dt.date(2021, 1, 5), RecordClass.GENERAL, rules_2023=R2023)
    with pytest.raises(domain.NoRulebook):
        domain.rulebook_for(dt.date(2018, 1, 5), RecordClass.SERIOUS, rules_2023=R2023)


@pytest.mark.parametrize(("cls", "published", "repair", "until"), [
    (RecordClass.MINOR, False, dt.date(2026, 5, 10), dt.date(2026, 8, 10)),
    (RecordClass.GENERAL, True, dt.date(2026, 8, 10), dt.date(2027, 5, 10)),
    (RecordClass.SERIOUS, True, dt.date(2027, 5, 10), dt.date(2029, 5, 10)),
])
def test_windows_follow_the_2025_table(cls, published, repair, until):
    win = domain.window(dt.date(2026, 5, 10), cls, domain.RULES_2025)
    assert (win.published, win.repair_from, win.publish_until) == (published, repair, until)


def test_a_minor_record_is_published_only_when_a_regulator_says_so_and_for_at_most_3_months():
    win = domain.window(dt.date(2026, 5, 10), RecordClass.MINOR, domain.RULES_2025, minor_publish_months=2)
    assert win.published and win.publish_until == dt.date(2026, 7, 10)
    with pytest.raises(domain.InvalidFinding):
        domain.window(dt.date(2026, 5, 10), RecordClass.MINOR, domain.RULES_2025, minor_publish_months=4)


def test_months_clamp_to_the_end_of_a_short_month():
    assert domain.add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert domain.add_months(dt.date(2026, 11, 30), 3) == dt.date(2027, 2, 28)
    assert domain.add_months(dt.date(2026, 5, 10), 36) == dt.date(2029, 5, 10)


def test_repair_needs_every_condition():
    kw = {"repair_from": dt.date(2026, 8, 10), "obligations_fulfilled": True, "commitment_signed": True}
    assert domain.repair_failures(today=dt.date(2026, 8, 10), **kw) == []
    assert domain.repair_failures(today=dt.date(2026, 8, 9), **kw) == ["minimum"]
    assert domain.repair_failures(today=dt.date(2026, 9, 1), repair_from=dt.date(2026, 8, 10),
                                  obligations_fulfilled=False, commitment_signed=False) == ["obligations", "commitment"]


def test_standing_grades_by_the_worst_active_record():
    assert domain.standing([]) is domain.Standing.GOOD
    assert domain.standing([RecordClass.MINOR]) is domain.Standing.WATCH
    assert domain.standing([RecordClass.GENERAL, RecordClass.SERIOUS]) is domain.Standing.POOR
