"""Pure consent rules: binding, scope, the order of the checks and the pick among several grants."""

from __future__ import annotations

import datetime as dt
import uuid

from openzone.core.consent import domain
from openzone.core.consent.domain import Binding, GrantFacts, Reason, Request, Requester, ScopeLine, Status, UseMode

NOW = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
ORG = uuid.uuid4()


def facts(**overrides) -> GrantFacts:
    values = {"status": Status.ACTIVE, "binding": Binding(ORG), "purpose": "service-window",
              "scope": (ScopeLine("licence", "*", ("name", "number")),), "valid_from": NOW - dt.timedelta(hours=1),
              "valid_until": NOW + dt.timedelta(hours=1), "use_mode": UseMode.SINGLE, "max_uses": 1, "uses": 0}
    values.update(overrides)
    return GrantFacts(**values)


def ask(**overrides) -> Request:
    values = {"requester": Requester(ORG, hall="H1", window="A05"), "resource_kind": "licence", "resource_id": "L1",
              "fields": ("name",), "purpose": "service-window"}
    values.update(overrides)
    return Request(**values)


def test_a_standing_grant_allows_a_request_inside_its_scope():
    assert domain.check(facts(), ask(), NOW) is None


def test_each_refusal_has_its_reason():
    assert domain.check(facts(status=Status.PENDING), ask(), NOW) is Reason.MISSING
    assert domain.check(facts(status=Status.REVOKED), ask(), NOW) is Reason.REVOKED
    assert domain.check(facts(valid_until=NOW), ask(), NOW) is Reason.EXPIRED
    assert domain.check(facts(valid_from=NOW + dt.timedelta(seconds=1)), ask(), NOW) is Reason.NOT_YET_VALID
    assert domain.check(facts(uses=1), ask(), NOW) is Reason.USED
    assert domain.check(facts(binding=Binding(ORG, window="A06")), ask(), NOW) is Reason.REQUESTER
    assert domain.check(facts(binding=Binding(uuid.uuid4())), ask(), NOW) is Reason.REQUESTER
    assert domain.check(facts(), ask(fields=("name", "photo")), NOW) is Reason.SCOPE
    assert domain.check(facts(), ask(resource_kind="permit"), NOW) is Reason.SCOPE
    assert domain.check(facts(), ask(purpose="litigation"), NOW) is Reason.SCOPE
    periodic = facts(use_mode=UseMode.PERIODIC, max_uses=0, uses=40, frequency=domain.Frequency.DAY,
                     frequency_uses=2, uses_in_period=2)
    assert domain.check(periodic, ask(), NOW) is Reason.FREQUENCY


def test_a_revoked_grant_is_refused_as_revoked_even_when_also_expired():
    assert domain.check(facts(status=Status.REVOKED, valid_until=NOW - dt.timedelta(days=1)), ask(), NOW) is Reason.REVOKED


def test_a_periodic_grant_has_no_use_count_limit():
    assert domain.check(facts(use_mode=UseMode.PERIODIC, max_uses=0, uses=500), ask(), NOW) is None


def test_binding_narrows_only_where_it_names_something():
    clerk = uuid.uuid4()
    assert domain.binding_matches(Binding(ORG, hall="H1"), Requester(ORG, hall="H1", window="A09"))
    assert not domain.binding_matches(Binding(ORG, clerk_id=clerk), Requester(ORG, clerk_id=uuid.uuid4()))
    assert domain.binding_matches(Binding(ORG, clerk_id=clerk), Requester(ORG, clerk_id=clerk))


def test_a_specific_resource_line_does_not_cover_another_resource():
    scope = (ScopeLine("licence", "L1", ("name",)),)
    assert domain.scope_covers(scope, "licence", "L1", ["name"])
    assert not domain.scope_covers(scope, "licence", "L2", ["name"])


def test_the_grant_that_got_furthest_explains_the_refusal():
    assert domain.worst_to_best([Reason.REVOKED, Reason.SCOPE, Reason.EXPIRED]) is Reason.SCOPE
    assert domain.worst_to_best([]) is Reason.MISSING


def test_an_active_grant_past_its_end_shows_as_expired():
    assert domain.effective_status(Status.ACTIVE, NOW, NOW) is Status.EXPIRED
    assert domain.effective_status(Status.REVOKED, NOW, NOW) is Status.REVOKED


def test_scope_input_is_parsed_and_checked():
    problems = domain.Problems()
    lines = domain.parse_scope([{"kind": "licence", "fields": ["number", "name", "name"]}], problems)
    assert lines == (ScopeLine("licence", "*", ("name", "number")),) and not problems.items
    domain.parse_scope([{"kind": "Bad Kind", "fields": ["x"]}, {"kind": "ok", "fields": []}, "x"], problems)
    assert [p.code for p in problems.items] == ["kind", "fields", "type"]
    domain.parse_scope([], problems)
    assert problems.items[-1].code == "required"


def test_codes_must_have_exactly_the_digits():
    assert domain.code_is_well_formed("01234567", 8)
    assert not domain.code_is_well_formed("1234567", 8)
    assert not domain.code_is_well_formed("１２３４５６７８", 8)  # full-width digits are not ASCII


def test_place_codes_are_checked():
    problems = domain.Problems()
    assert domain.check_place(" A05 ", "window", problems) == "A05"
    assert domain.check_place("", "window", problems) is None
    domain.check_place("窗口 5", "window", problems)
    assert problems.items[0].field == "window"
