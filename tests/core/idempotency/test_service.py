"""Retries with one Idempotency-Key get the first response; other uses of the key are refused clearly."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import select

from openzone.core import idempotency
from openzone.core.idempotency import service
from openzone.core.identity import Principal
from openzone.db import transaction
from openzone.kit.errors import Conflict
from openzone.kit.time import utcnow


class Counter:
    """Count how often the work ran and answer with a fresh id each time."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict:
        self.calls += 1
        return {"id": str(uuid.uuid4()), "call": self.calls}


def person() -> Principal:
    return Principal(person_id=uuid.uuid4(), name="测试")


def call(session, who, key, request, work, scope="test.create"):
    return idempotency.respond(session, who, key, scope=scope, request=request, status_code=201, produce=work)


def test_without_a_key_the_work_runs_every_time(session):
    work, who = Counter(), person()
    first, second = call(session, who, None, {"a": 1}, work), call(session, who, None, {"a": 1}, work)
    assert work.calls == 2 and first.status_code == second.status_code == 201
    assert idempotency.REPLAYED not in second.headers


def test_a_retry_with_the_same_key_and_body_replays_the_first_response(session):
    work, who = Counter(), person()
    first = call(session, who, "k-1", {"a": 1}, work)
    again = call(session, who, "k-1", {"a": 1}, work)
    assert work.calls == 1
    assert again.status_code == 201 and again.body == first.body
    assert again.headers[idempotency.REPLAYED] == "true"
    assert json.loads(again.body)["call"] == 1


def test_the_same_key_with_another_body_is_refused(session):
    work, who = Counter(), person()
    call(session, who, "k-2", {"a": 1}, work)
    with pytest.raises(idempotency.IdempotencyKeyReused) as caught:
        call(session, who, "k-2", {"a": 2}, work)
    assert caught.value.status == 422 and caught.value.type == "idempotency-key-reused"
    assert work.calls == 1


def test_keys_belong_to_one_principal_and_one_scope(session):
    work = Counter()
    token = Principal(person_id=uuid.uuid4(), name="令牌", token_id=uuid.uuid4(), token_org_id=uuid.uuid4())
    call(session, person(), "shared", {"a": 1}, work)
    call(session, person(), "shared", {"a": 1}, work)
    call(session, token, "shared", {"a": 1}, work)
    call(session, token, "shared", {"a": 1}, work, scope="test.other")
    assert work.calls == 4


@pytest.mark.parametrize("key", ["", "订单", "x" * 256])
def test_an_invalid_key_is_a_clear_problem_and_no_work(session, key):
    work = Counter()
    with pytest.raises(idempotency.IdempotencyKeyInvalid) as caught:
        call(session, person(), key, {}, work)
    assert caught.value.errors == [{"field": "Idempotency-Key", "code": "invalid"}]
    assert work.calls == 0


def test_failed_work_stores_nothing_so_the_retry_runs(session):
    who = Principal(person_id=uuid.uuid4(), name="测试")

    def failing() -> dict:
        raise Conflict("已存在", "Exists")

    with pytest.raises(Conflict), session.begin_nested():
        call(session, who, "k-3", {"a": 1}, failing)
    work = Counter()
    call(session, who, "k-3", {"a": 1}, work)
    assert work.calls == 1


def test_an_expired_key_runs_the_work_again_and_purge_deletes_only_expired(session):
    work, who = Counter(), person()
    call(session, who, "old", {"a": 1}, work)
    call(session, who, "new", {"a": 1}, work)
    old = session.scalar(select(idempotency.StoredResponse).where(idempotency.StoredResponse.key == "old",
                                                                   idempotency.StoredResponse.principal == f"person:{who.person_id}"))
    old.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.flush()
    assert json.loads(call(session, who, "old", {"a": 1}, work).body)["call"] == 3
    stale = session.scalar(select(idempotency.StoredResponse).where(idempotency.StoredResponse.key == "new",
                                                                     idempotency.StoredResponse.principal == f"person:{who.person_id}"))
    stale.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.flush()
    assert idempotency.purge(session) >= 1
    assert session.get(idempotency.StoredResponse, stale.id) is None
    assert call(session, who, "old", {"a": 1}, work).headers[idempotency.REPLAYED] == "true"


def test_a_key_claimed_by_a_transaction_that_won_the_race_is_replayed_or_in_flight(session):
    who = f"person:{uuid.uuid4()}"
    digest = idempotency.fingerprint("test.race", {"a": 1})
    row, fresh = service.reserve(session, principal=who, scope="test.race", key="r", request_sha256=digest)
    assert fresh
    # A second claim hits the unique constraint, as a concurrent request's insert does on PostgreSQL.
    with pytest.raises(idempotency.IdempotencyKeyInFlight):
        service.reserve(session, principal=who, scope="test.race", key="r", request_sha256=digest)
    service.complete(session, row, status_code=201, body=b'{"ok":true}')
    earlier, fresh = service.reserve(session, principal=who, scope="test.race", key="r", request_sha256=digest)
    assert not fresh and earlier.body == b'{"ok":true}'
    with pytest.raises(idempotency.IdempotencyKeyReused):
        service.reserve(session, principal=who, scope="test.race", key="r",
                        request_sha256=idempotency.fingerprint("test.race", {"a": 2}))


def test_the_stored_response_commits_with_the_work_and_survives_for_the_next_request(database):
    who, work = person(), Counter()
    with transaction() as first:
        call(first, who, "committed", {"a": 1}, work)
    with transaction() as second:
        again = call(second, who, "committed", {"a": 1}, work)
    assert work.calls == 1 and again.headers[idempotency.REPLAYED] == "true"
