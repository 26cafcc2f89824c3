"""Standard numbers per domain-rules §8, statuses and the joint-drafting rules, as pure functions."""

from __future__ import annotations

import datetime as dt

import pytest

from openzone.services.standards import domain
from openzone.services.standards.domain import InvalidStandardNumber, Stage, StandardNumber, Status, parse_number


@pytest.mark.parametrize(("typed", "normal"), [
    # The verified examples of domain-rules §8, typeset and typed.
    ("DB11/T 3022—2019", "DB11/T 3022—2019"),
    ("DB12/T 3022—2019", "DB12/T 3022—2019"),
    ("DB11/T 3043—2024", "DB11/T 3043—2024"),
    ("DB12/T 557—2015", "DB12/T 557—2015"),
    ("DB11/T 3022-2019", "DB11/T 3022—2019"),
    ("DB11/T3022-2019", "DB11/T 3022—2019"),
    ("DB11/T 3022 - 2019", "DB11/T 3022—2019"),
    ("DB11/T 3022–2019", "DB11/T 3022—2019"),
    ("DB11/T  3022 —2019", "DB11/T 3022—2019"),
    ("db11/t 3022-2019", "DB11/T 3022—2019"),
    ("DB11 / T 3022-2019", "DB11/T 3022—2019"),
    (" DB13/T 3022—2019 ", "DB13/T 3022—2019"),
    ("ＤＢ１２／Ｔ　３０２２－２０１９", "DB12/T 3022—2019"),
    ("DB11/T 3022－2019", "DB11/T 3022—2019"),
    # Mandatory local technical rules carry no /T (domain-rules §8: DB11/1740-2020 住宅设计规范).
    ("DB11/1740-2020", "DB11/1740—2020"),
    ("DB11/1740—2020", "DB11/1740—2020"),
    ("DB11 / 1740 - 2020", "DB11/1740—2020"),
    # Hebei engineering-construction standards (RECALLED form).
    ("DB13(J)/T 8001—2020", "DB13(J)/T 8001—2020"),
    ("DB13（J）/T 8001-2020", "DB13(J)/T 8001—2020"),
    ("DB13(J)/8001-2020", "DB13(J)/8001—2020"),
    # City codes: "DB" + four digits.
    ("DB1101/T 12-2020", "DB1101/T 12—2020"),
    ("DB11/T 1.1-2020", "DB11/T 1.1—2020"),
])
def test_valid_numbers_normalise_to_the_official_form(typed, normal):
    assert parse_number(typed).text == normal


@pytest.mark.parametrize(("typed", "code"), [
    ("", "required"),
    ("   ", "required"),
    ("GB/T 1.1-2020", "prefix"),
    ("T/CECS 1-2020", "prefix"),
    ("DB11 3022-2019", "separator"),
    ("DB11T 3022-2019", "format"),
    ("DB1/T 3022-2019", "issuer"),
    ("DB111/T 3022-2019", "issuer"),
    ("DB99/T 3022-2019", "issuer"),
    ("DB1100/T 1-2020", "issuer"),
    ("DB11(J)/T 3022-2019", "engineering"),
    ("DB12(J)/T 3022-2019", "engineering"),
    ("DB11/T 0322-2019", "sequence"),
    ("DB11/T 3022", "dash"),
    ("DB11/T 3022 2019", "dash"),
    ("DB11/T 3022--2019", "dash"),
    ("DB11/T 3022—19", "year"),
    ("DB11/T 3022—20190", "year"),
    ("DB11/T 3022—1900", "year"),
    ("DB11/T 3022—2019年", "format"),
    ("DB11/T 三〇二二—2019", "format"),
    ("DB11/T 3022—2019 停车场", "format"),
    ("DB11/TT 3022-2019", "format"),
    ("DB11/T 3022—2019" + "0" * 40, "length"),
])
def test_invalid_numbers_say_what_is_wrong_in_both_languages(typed, code):
    with pytest.raises(InvalidStandardNumber) as caught:
        parse_number(typed)
    problem = caught.value
    assert problem.status == 422
    assert problem.errors[0]["code"] == code
    assert problem.detail and problem.detail_en and "不是有效的地方标准编号" in problem.detail


def test_a_number_knows_its_region_code_and_joint_range():
    number = parse_number("DB11/T 3022—2019")
    assert number.region == "11" and number.code == "DB11/T" and number.year == 2019
    assert domain.region_of(number) is domain.Region.BEIJING
    assert number.joint_sequence and not parse_number("DB12/T 557—2015").joint_sequence
    assert domain.region_of(parse_number("DB31/T 1-2020")) is None
    assert number.ascii == "DB11/T 3022-2019"


def test_three_numbers_of_one_joint_standard_may_share_or_differ_in_sequence():
    same = domain.check_numbers([parse_number(f"DB{r}/T 3022—2019") for r in (11, 12, 13)])
    assert same.follows_convention and same.regions == ("11", "12", "13")
    differ = domain.check_numbers([parse_number("DB11/T 3022—2019"), parse_number("DB13/T 5123—2019")])
    assert not differ.same_sequence and not differ.follows_convention


def test_one_issuer_cannot_number_a_standard_twice():
    with pytest.raises(InvalidStandardNumber):
        domain.check_numbers([parse_number("DB11/T 3022—2019"), parse_number("DB11/T 3023—2019")])
    with pytest.raises(InvalidStandardNumber):
        domain.check_numbers([])


def test_proposed_joint_numbers_share_the_sequence_within_3001_to_3999():
    numbers = domain.propose_numbers(3050, 2026)
    assert [n.text for n in numbers.values()] == ["DB11/T 3050—2026", "DB12/T 3050—2026", "DB13/T 3050—2026"]
    for bad in (3000, 4000, 22):
        with pytest.raises(InvalidStandardNumber):
            domain.propose_numbers(bad, 2026)


D = dt.date


@pytest.mark.parametrize(("day", "effective", "withdrawn", "replaced", "status"), [
    (D(2026, 1, 1), D(2026, 6, 1), None, False, Status.UPCOMING),
    (D(2026, 6, 1), D(2026, 6, 1), None, False, Status.CURRENT),
    (D(2026, 6, 1), None, None, False, Status.CURRENT),
    (D(2027, 1, 1), D(2026, 6, 1), D(2027, 1, 1), False, Status.ABOLISHED),
    (D(2027, 1, 1), D(2026, 6, 1), D(2027, 1, 1), True, Status.REPLACED),
    (D(2026, 12, 31), D(2026, 6, 1), D(2027, 1, 1), True, Status.CURRENT),
])
def test_status_follows_the_dates(day, effective, withdrawn, replaced, status):
    assert domain.status_on(day, effective_on=effective, withdrawn_on=withdrawn, replaced=replaced) is status


def test_dates_out_of_order_are_refused():
    with pytest.raises(domain.InvalidStandardDates):
        domain.check_dates(issued_on=D(2026, 2, 1), effective_on=D(2026, 1, 1), withdrawn_on=None)
    with pytest.raises(domain.InvalidStandardDates):
        domain.check_dates(issued_on=D(2026, 1, 1), effective_on=D(2026, 2, 1), withdrawn_on=D(2026, 1, 15))
    domain.check_dates(issued_on=D(2026, 1, 1), effective_on=D(2026, 2, 1), withdrawn_on=D(2030, 1, 1))


def test_labels_are_chinese_and_english():
    assert domain.STATUS_LABELS[Status.REPLACED] == ("被代替", "Replaced")
    assert [domain.STATUS_LABELS[s][0] for s in Status] == ["现行", "即将实施", "废止", "被代替"]
    assert domain.status_label("nonsense") == ("nonsense", "nonsense")


def test_the_stages_run_in_the_agreed_order():
    assert domain.next_stage(Stage.PROPOSAL) is Stage.JOINT_APPROVAL
    assert domain.next_stage(Stage.NUMBERING) is Stage.PUBLICATION
    with pytest.raises(domain.StageConflict):
        domain.next_stage(Stage.FEEDBACK)
    with pytest.raises(domain.StageConflict):
        domain.next_stage(Stage.REJECTED)


def test_all_three_regions_must_approve():
    assert not domain.all_regions_decided([("11", "approve"), ("12", "approve")])
    assert not domain.all_regions_decided([("11", "approve"), ("12", "approve"), ("13", "reject")])
    assert domain.all_regions_decided([("11", "approve"), ("12", "approve"), ("13", "approve")])


def test_public_comment_lasts_at_least_30_days():
    assert domain.comment_period_error(D(2026, 3, 1), D(2026, 3, 30)) == "short"
    assert domain.comment_period_error(D(2026, 3, 1), D(2026, 3, 31)) is None


def test_numbers_order_and_print():
    a, b = StandardNumber("DB11", "3022", 2019), StandardNumber("DB12", "3022", 2019)
    assert a < b and str(a) == "DB11/T 3022—2019"
