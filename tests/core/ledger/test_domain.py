"""Pure ledger rules: what an entry may hold and how commitments are made."""

from __future__ import annotations

import enum

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from openzone.core.ledger import domain
from openzone.core.ledger.domain import InvalidCommitment, InvalidEntry

# Known answer: salt 00 01 02 … 1f, kind "id_number", value "110105199001011234";
# checked with `(salt; printf id_number; NUL; printf 110105199001011234) | sha256sum`.
SALT = bytes(range(32))
VECTOR = "c1:7b600d6b5c3487a1f932c9cfb6043afb8e4df81726cc5bad7c1402045d09d385"


@pytest.mark.parametrize("event_type", ["e_license.retrieved", "consent.grant.used", "a.b", "x" * 30 + "." + "y" * 33])
def test_good_event_types_pass(event_type):
    assert domain.validate_event_type(event_type) == event_type


@pytest.mark.parametrize("event_type", ["retrieved", "E_license.retrieved", "e-license.retrieved", ".a", "a.", "a..b",
                                        "1a.b", "a.1b", "a.b ", "x" * 31 + "." + "y" * 33, "", None])
def test_bad_event_types_are_refused(event_type):
    with pytest.raises(InvalidEntry) as err:
        domain.validate_event_type(event_type)
    assert err.value.errors == [{"field": "event_type", "code": "format"}]


def test_digests_are_named_sha256_hex_values():
    good = {"document": "sha256:" + "ab" * 32}
    assert domain.validate_digests(good) == good
    assert domain.validate_digests(None) == {}
    for bad in ({"document": "sha256:" + "AB" * 32}, {"document": "ab" * 32}, {"document": "sha512:" + "ab" * 32},
                {"Document": "sha256:" + "ab" * 32}, {"document": "sha256:" + "ab" * 31}):
        with pytest.raises(InvalidEntry):
            domain.validate_digests(bad)
    with pytest.raises(InvalidEntry):
        domain.validate_digests({f"d{i}": "sha256:" + "ab" * 32 for i in range(domain.MAX_NAMED_ITEMS + 1)})


def test_commitments_have_the_c1_form():
    assert domain.validate_commitments({"holder": VECTOR}) == {"holder": VECTOR}
    for bad in ("c2:" + "ab" * 32, "sha256:" + "ab" * 32, "c1:" + "ab" * 31, "110105199001011234"):
        with pytest.raises(InvalidEntry):
            domain.validate_commitments({"holder": bad})


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def test_data_is_copied_into_plain_json_types():
    data = {"colour": Colour.RED, "level": Level.HIGH, "ok": True, "none": None, "list": [1, "a", [False]],
            "nested": {"n": -(2**53 - 1)}}
    plain = domain.plain_data(data)
    assert plain == {"colour": "red", "level": 3, "ok": True, "none": None, "list": [1, "a", [False]],
                     "nested": {"n": -(2**53 - 1)}}
    assert type(plain["colour"]) is str and type(plain["level"]) is int


@pytest.mark.parametrize(("value", "code"), [
    (1.5, "float"), (float("nan"), "float"), (2**53, "integer"), (-(2**53), "integer"), ((1, 2), "type"),
    ({1, 2}, "type"), (b"bytes", "type"), ({1: "a"}, "key"), ("\ud800", "unicode"),
])
def test_data_refuses_what_canonical_json_cannot_carry_exactly(value, code):
    with pytest.raises(InvalidEntry) as err:
        domain.canonical_data({"v": value})
    assert err.value.errors == [{"field": "data", "code": code}]


def test_data_may_not_nest_without_end():
    deep: list = []
    for _ in range(domain.MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(InvalidEntry) as err:
        domain.canonical_data({"deep": deep})
    assert err.value.errors[0]["code"] == "depth"


@pytest.mark.parametrize(("data", "found"), [
    ({"note": "身份证号110105199001011237"}, None),  # wrong check digit: not an ID number
    ({"note": "身份证号11010519900101123X"}, None),
    ({"note": "身份证号11010519491231002X"}, "id_number"),
    ({"list": ["x", {"deep": "110105194912310021 "}]}, None),
    ({"list": ["x", {"deep": "11010519491231002x"}]}, "id_number"),
    ({"11010519491231002X": 1}, "id_number"),
    ({"note": "联系电话13812345678"}, "mobile"),
    ({"note": "编号 138123456789"}, None),
    ({"digest": "a13812345678b"}, None),
    ({"amount_fen": 13812345678}, None),
    ({"uscc": "91350100M000100Y43"}, None),
])
def test_personal_identifiers_in_clear_are_found(data, found):
    assert domain.personal_identifier_in(data) == found


def test_an_entry_with_an_identifier_in_clear_is_refused():
    with pytest.raises(InvalidEntry) as err:
        domain.refuse_personal_identifiers({"holder": "11010519491231002X"})
    assert err.value.errors == [{"field": "data", "code": "personal_data"}]
    assert "ledger.commit" in err.value.detail_en


def test_the_entry_body_has_exactly_the_version_1_fields():
    body = domain.entry_body(event_type="a.b", time="2026-01-02T03:04:05.678Z", actor=None, digests={},
                             commitments={}, data={})
    assert body == {"v": 1, "type": "a.b", "time": "2026-01-02T03:04:05.678Z", "actor": None, "digests": {},
                    "commitments": {}, "data": {}}


def test_a_commitment_matches_the_known_answer():
    assert domain.commitment_of("id_number", SALT, "110105199001011234") == VECTOR


def test_the_kind_is_bound_into_the_commitment():
    assert domain.commitment_of("phone", SALT, "110105199001011234") != VECTOR
    assert domain.check_opening(VECTOR, kind="id_number", salt=SALT, value="110105199001011234")
    assert not domain.check_opening(VECTOR, kind="phone", salt=SALT, value="110105199001011234")
    assert not domain.check_opening(VECTOR, kind="id_number", salt=SALT, value="110105199001011235")
    assert not domain.check_opening(VECTOR, kind="id_number", salt=SALT[:31], value="110105199001011234")
    assert not domain.check_opening(VECTOR.upper(), kind="id_number", salt=SALT, value="110105199001011234")


def test_commitment_kinds_are_identifiers():
    assert domain.validate_kind("id_number") == "id_number"
    for bad in ("ID", "id number", "", "a\x00b", "x" * 33):
        with pytest.raises(InvalidCommitment):
            domain.validate_kind(bad)
    with pytest.raises(ValueError):
        domain.commitment_of("id_number", b"short", "v")


# Strings that stress RFC 8785 and the orjson fast path: every kind of control escape, quotes, solidus, backslashes,
# U+2028/2029, DEL, BMP private use (U+E000 and up) and astral characters, whose order differs between code points and
# UTF-16 code units.
_tricky = st.text(alphabet=st.sampled_from(
    ["a", "Z", "0", '"', "\\", "/", "\n", "\t", "\b", "\f", "\r", "\x00", "\x01", "\x0b", "\x1f", "\x7f", "\u2028",
     "\u2029", "é", "中", "\ue000", "\uff46", "\uffff", "\U0001f600", "\U00010000"]), max_size=6)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-domain.MAX_SAFE_INTEGER, domain.MAX_SAFE_INTEGER) | _tricky,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_tricky, inner, max_size=4), max_leaves=20)


@given(st.dictionaries(_tricky, _json, max_size=6))
def test_the_fast_canonical_form_equals_rfc8785_byte_for_byte(data):
    assert domain.canonical_data(data) == rfc8785.dumps(data)


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True), st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
                       max_size=3), st.dictionaries(_tricky, _json, max_size=4), st.none() | st.uuids())
def test_an_entry_is_written_exactly_as_rfc8785_writes_its_body(names, data, actor):
    digests = {k: "sha256:" + v for k, v in names.items()}
    commitments = {k: "c1:" + v for k, v in names.items()}
    fields = {"event_type": "test.event", "time": "2026-11-27T08:30:00.123Z", "actor": str(actor) if actor else None,
              "digests": digests, "commitments": commitments}
    assert domain.entry_bytes_v1(**fields, data=domain.canonical_data(data)) == \
        rfc8785.dumps(domain.entry_body(**fields, data=data))


def test_subclasses_of_plain_types_are_written_as_their_plain_values():
    data = {"colour": Colour.RED, "level": Level.HIGH, "nested": [{"k": Level.HIGH}]}
    assert domain.canonical_data(data) == b'{"colour":"red","level":3,"nested":[{"k":3}]}'


def test_a_personal_identifier_is_refused_wherever_it_hides():
    for data in ({"k": ["x", {"deeper": "请联系13812345678"}]}, {"11010519491231002X": 1}):
        with pytest.raises(InvalidEntry) as err:
            domain.canonical_data(data)
        assert err.value.errors == [{"field": "data", "code": "personal_data"}]
