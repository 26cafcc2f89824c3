"""Travel-licensing rules as pure functions: conditions, credit checks, bars, grading, the weighted draw."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest

from openzone.services.travel_licensing import domain
from openzone.services.travel_licensing.domain import CreditFacts, Manager, Tenure

GOOD = domain.ApplicationData(
    name="北京测试国际旅行社有限公司", uscc="91110105MA00000000", legal_rep_name="张三", premises_address="北京市朝阳区示例路1号",
    tenure=Tenure.LEASED, lease_months=24, phone_lines=2, has_fax=True, has_copier=True, has_computer=True,
    capital_fen=300_000 * 100, staff_count=15, guide_count=3, managers=(Manager("李四", "经理", 5),))


def test_an_applicant_meeting_every_condition_has_no_failures():
    assert domain.condition_failures(GOOD) == []


@pytest.mark.parametrize(("change", "code"), [
    ({"capital_fen": 299_999 * 100}, "capital"),
    ({"lease_months": 11}, "premises"),
    ({"phone_lines": 1}, "facilities"),
    ({"has_fax": False}, "facilities"),
    ({"managers": ()}, "managers"),
    ({"staff_count": 16, "guide_count": 3}, "guides"),
    ({"business_scope": ("domestic", "inbound", "outbound")}, "scope"),
])
def test_each_condition_is_checked_with_its_citation(change, code):
    failures = domain.condition_failures(dataclasses.replace(GOOD, **change))
    assert [f.code for f in failures] == [code]
    assert failures[0].citation


def test_guides_are_20_percent_of_staff_and_at_least_3():
    assert [domain.min_guides(n) for n in (1, 15, 16, 20, 21)] == [3, 3, 4, 4, 5]


def test_an_owned_premises_needs_no_lease():
    assert domain.condition_failures(dataclasses.replace(GOOD, tenure=Tenure.OWNED, lease_months=0)) == []


def test_credit_sends_an_applicant_to_the_ordinary_route():
    today = dt.date(2026, 6, 1)
    assert domain.commitment_failures(CreditFacts(), today=today, bar_years=3) == []
    codes = [f.code for f in domain.commitment_failures(
        CreditFacts(serious_record=True, false_commitment=True, last_serious_breach_on=dt.date(2023, 6, 2)),
        today=today, bar_years=3)]
    assert codes == ["serious_record", "false_commitment", "serious_breach_bar"]
    assert domain.commitment_failures(CreditFacts(last_serious_breach_on=dt.date(2023, 6, 1)), today=today,
                                      bar_years=3) == []


def test_personal_bars_run_5_and_3_years_with_their_citations():
    revoked = dt.date(2024, 2, 29)
    assert domain.bar_until(domain.BarKind.HEAD, revoked) == dt.date(2029, 2, 28)
    assert domain.bar_until(domain.BarKind.WORK, revoked) == dt.date(2027, 2, 28)
    assert domain.BAR_RULES[domain.BarKind.HEAD][1] == "旅行社条例第六十四条"
    assert domain.BAR_RULES[domain.BarKind.WORK][1] == "旅游法第一百零三条"


def test_breaches_are_graded_with_legal_basis_and_consequence():
    rule, cls, consequence = domain.grade("deposit_late")
    assert (rule.basis, cls, consequence) == ("旅行社条例第四十八条", domain.RecordClass.MINOR, domain.Consequence.RECORD)
    assert domain.grade("deposit_not_rectified")[2] is domain.Consequence.REVOKE
    assert domain.grade("itinerary", "serious")[2] is domain.Consequence.REVOKE
    with pytest.raises(domain.InvalidGrade):
        domain.grade("late_filing", "serious")


def test_the_draw_is_reproducible_from_its_seed_and_weighted_by_standing():
    firms = [(uuid.UUID(int=i), "poor" if i < 10 else "good") for i in range(100)]
    inspectors = [uuid.UUID(int=1000 + i) for i in range(6)]
    weights = {"good": 1, "watch": 2, "poor": 4}
    first = domain.draw(42, firms, inspectors, count=10, weights=weights)
    assert first == domain.draw(42, list(reversed(firms)), list(reversed(inspectors)), count=10, weights=weights)
    assert first != domain.draw(43, firms, inspectors, count=10, weights=weights)
    assert all(len(set(s.inspectors)) == 2 for s in first.selections)
    poor = sum(s.standing == "poor" for seed in range(200)
               for s in domain.draw(seed, firms, inspectors, count=10, weights=weights).selections)
    # Unweighted, 10% of picks would be poor; weighted 4:1 the share is far higher.
    assert poor / 2000 > 0.2
    with pytest.raises(domain.NotEnoughInspectors):
        domain.draw(1, firms, inspectors[:1], count=1, weights=weights)
