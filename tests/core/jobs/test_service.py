"""Jobs on a real database: queue, lease, retry with backoff, recurring schedules, several workers."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

import pytest
from sqlalchemy import func, select, text

from openzone.core import jobs
from openzone.core.jobs.models import Job, Schedule
from openzone.db import get_engine, transaction
from openzone.kit.time import utcnow
from openzone.web.pages import healthz

RAN: list[str] = []


@jobs.handler("test.record")
def _record(session, payload):
    RAN.append(payload["tag"])


@jobs.handler("test.fail")
def _fail(session, payload):
    raise RuntimeError("boom")


@jobs.handler("test.tick", every=dt.timedelta(hours=1))
def _tick(session, payload):
    RAN.append("tick")


CALLED_OUT: list[str] = []


@jobs.handler("test.call_out", calls_out=True)
def _call_out(transaction_factory, payload):
    # The other side of the call (a server on the same SQLite file) must be able to write while this job waits for
    # it: a write from another thread has to finish well within SQLite's 10 s busy timeout.
    done = threading.Event()

    def other_side():
        with transaction_factory() as session:
            jobs.enqueue(session, "test.record", {"tag": "other-side-" + payload["tag"]})
        done.set()

    thread = threading.Thread(target=other_side)
    thread.start()
    thread.join(timeout=5)
    if not done.is_set():
        raise RuntimeError("the other side could not write while the job waited")
    if payload.get("fail"):
        raise RuntimeError("the other side refused")
    CALLED_OUT.append(payload["tag"])


def _queue(kind, **payload):
    with transaction() as session:
        return jobs.enqueue(session, kind, payload).id


def test_enqueue_refuses_an_unknown_kind(session):
    with pytest.raises(ValueError, match="no handler"):
        jobs.enqueue(session, "test.nobody", {})


def test_dedupe_key_queues_once(session):
    key = f"k-{uuid.uuid4()}"
    assert jobs.enqueue(session, "test.record", {"tag": "a"}, dedupe_key=key) is not None
    assert jobs.enqueue(session, "test.record", {"tag": "a"}, dedupe_key=key) is None


def test_a_due_job_runs_once_and_a_future_job_waits():
    tag = uuid.uuid4().hex
    job_id = _queue("test.record", tag=tag)
    with transaction() as session:
        later = jobs.enqueue(session, "test.record", {"tag": "later"}, run_at=utcnow() + dt.timedelta(hours=1)).id
    while jobs.run_once(transaction, "w1") > 0:
        pass
    assert RAN.count(tag) == 1
    with transaction() as session:
        assert session.get(Job, job_id).status == "done"
        assert session.get(Job, later).status == "pending"
        session.delete(session.get(Job, later))


def test_a_failing_job_backs_off_then_fails_for_good():
    job_id = _queue("test.fail")
    with transaction() as session:
        session.get(Job, job_id).max_attempts = 2
    jobs.run_once(transaction, "w1")
    with transaction() as session:
        job = session.get(Job, job_id)
        assert job.status == "pending" and "boom" in job.last_error
        assert job.run_at > utcnow() + dt.timedelta(seconds=20)
        job.run_at = utcnow()  # skip the wait
    jobs.run_once(transaction, "w1")
    with transaction() as session:
        assert session.get(Job, job_id).status == "failed"


def test_backoff_doubles_and_is_capped():
    assert [jobs.backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert jobs.backoff(30) == dt.timedelta(hours=1)


def test_a_lease_left_by_a_dead_worker_is_taken_over():
    tag = uuid.uuid4().hex
    job_id = _queue("test.record", tag=tag)
    with transaction() as session:
        assert job_id in jobs.claim(session, "dead-worker")
        session.get(Job, job_id).locked_until = utcnow() - dt.timedelta(seconds=1)
    jobs.run_once(transaction, "w2")
    assert RAN.count(tag) == 1


def test_recurring_jobs_are_scheduled_once_per_interval():
    with transaction() as session:
        session.execute(Schedule.__table__.delete().where(Schedule.name == "test.tick"))
    before = RAN.count("tick")
    jobs.run_once(transaction, "w1")
    jobs.run_once(transaction, "w1")
    assert RAN.count("tick") == before + 1
    with transaction() as session:
        assert session.get(Schedule, "test.tick").next_run_at > utcnow() + dt.timedelta(minutes=59)


def test_several_workers_never_run_a_job_twice():
    tags = [uuid.uuid4().hex for _ in range(40)]
    with transaction() as session:
        for tag in tags:
            jobs.enqueue(session, "test.record", {"tag": tag})
    errors = []

    def work(name):
        try:
            while jobs.run_once(transaction, name, limit=3) > 0:
                pass
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(t for t in RAN if t in set(tags)) == sorted(tags)
    with transaction() as session:
        assert session.scalar(select(func.count()).select_from(Job).where(Job.status == "running")) == 0


def test_heartbeat_is_what_healthz_reports(client):
    with transaction() as session:
        jobs.heartbeat(session, "w-health")
    body = client.get("/healthz").json()
    assert body == {"status": "ok", "database": "ok", "worker": "ok", "worker_heartbeat_at": body["worker_heartbeat_at"]}


def test_healthz_says_an_unmigrated_database_is_not_ready(tmp_path):
    # A database that answers but has none of our tables (before `openzone db upgrade`): 503 with the reason, no 500.
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    try:
        with transaction(url) as session:
            response = healthz(session)
            assert session.execute(text("SELECT 1")).scalar() == 1  # the request's transaction is still usable
    finally:
        get_engine(url).dispose()
    assert response.status_code == 503
    assert json.loads(response.body) == {"status": "degraded", "database": "not migrated", "worker": "stale",
                                         "worker_heartbeat_at": None}


def test_a_job_that_calls_out_holds_no_transaction_while_it_waits_and_is_done_after():
    tag = uuid.uuid4().hex
    job_id = _queue("test.call_out", tag=tag)
    jobs.run_once(transaction, "w1")
    assert CALLED_OUT.count(tag) == 1
    with transaction() as session:
        job = session.get(Job, job_id)
        assert job.status == "done" and job.finished_at is not None and job.attempts == 1
        assert session.scalar(select(func.count()).select_from(Job).where(
            Job.kind == "test.record", Job.payload["tag"].as_string() == "other-side-" + tag)) == 1


def test_a_job_that_calls_out_and_fails_is_retried_with_backoff():
    tag = uuid.uuid4().hex
    job_id = _queue("test.call_out", tag=tag, fail=True)
    jobs.run_once(transaction, "w1")
    with transaction() as session:
        job = session.get(Job, job_id)
        assert job.status == "pending" and "refused" in job.last_error and job.run_at > utcnow()
    assert tag not in CALLED_OUT


def test_a_job_that_calls_out_is_not_run_or_marked_done_without_its_lease():
    tag = uuid.uuid4().hex
    job_id = _queue("test.call_out", tag=tag)
    with transaction() as session:
        assert job_id in jobs.claim(session, "w-a")
    assert not jobs.run_calling_out(transaction, job_id, "w-b")
    with transaction() as session:
        assert session.get(Job, job_id).status == "running"
        with pytest.raises(ValueError, match="calls out"):
            jobs.run_job(session, job_id, "w-a")
    assert jobs.run_calling_out(transaction, job_id, "w-a")
    assert CALLED_OUT.count(tag) == 1


def test_the_status_of_a_deduplicated_job_can_be_asked(session):
    key = f"k-{uuid.uuid4()}"
    assert jobs.status(session, key) is None
    jobs.enqueue(session, "test.record", {"tag": "s"}, dedupe_key=key)
    assert jobs.status(session, key) == "pending"
