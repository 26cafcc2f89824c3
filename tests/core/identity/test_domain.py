"""GB 32100-2015 credit codes, GB 11643-1999 ID numbers, masking and the second-factor rule."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openzone.core.identity import domain


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000802100433B"])
def test_published_credit_codes_validate(code):
    assert domain.uscc_error(code) is None


@pytest.mark.parametrize(("code", "error"), [
    ("91350100M000100Y4", "length"),
    ("91350100M000100Y44", "check"),
    ("91350100M000I00Y43", "charset"),  # I is not in the GB 32100 character set
    ("91350100m000100y43", "charset"),  # lower case is folded by normalise_uscc, not by the check
])
def test_bad_credit_codes_say_why(code, error):
    assert domain.uscc_error(code) == error


@given(st.text(alphabet=domain.USCC_CHARS, min_size=17, max_size=17))
def test_every_17_characters_have_exactly_one_check_character(first17):
    good = first17 + domain.uscc_check_char(first17)
    assert domain.uscc_error(good) is None
    for c in domain.USCC_CHARS:
        if c != good[-1]:
            assert domain.uscc_error(first17 + c) == "check"


def test_the_standard_example_id_number_validates():
    # GB 11643-1999 Annex A gives 11010519491231002X.
    assert domain.id_number_error("11010519491231002X") is None


@pytest.mark.parametrize(("number", "error"), [
    ("1101051949123100", "length"),
    ("110105194912310021", "check"),
    ("110105194902300028", "date"),  # 30 February
    ("11010519491231002Y", "charset"),
])
def test_bad_id_numbers_say_why(number, error):
    assert domain.id_number_error(number) == error


def test_a_birth_date_in_the_future_is_refused():
    first17 = "11010520990101001"
    number = first17 + domain.id_check_char(first17)
    assert domain.id_number_error(number, today=dt.date(2026, 1, 1)) == "date"


def test_masking_keeps_six_and_four():
    assert domain.mask("11010519491231002X") == "110105********002X"
    assert domain.mask_phone("13912345678") == "139****5678"


def test_second_factor_is_for_admins_and_personal_data_staff_outside_demo_mode():
    assert domain.requires_second_factor(is_platform_admin=True, roles=set(), demo_mode=False)
    assert domain.requires_second_factor(is_platform_admin=False, roles={"clerk"}, demo_mode=False)
    assert domain.requires_second_factor(is_platform_admin=False, roles={"supervisor"}, demo_mode=False)
    assert not domain.requires_second_factor(is_platform_admin=False, roles={"staff", "org_admin"}, demo_mode=False)
    assert not domain.requires_second_factor(is_platform_admin=True, roles={"clerk"}, demo_mode=True)


@pytest.mark.parametrize(("password", "ok"), [("short1!", False), ("abcdefghijkl", False), ("12345678901", False),
                                               ("correct-horse-7", True)])
def test_password_rule(password, ok):
    assert (domain.password_error(password) is None) is ok
