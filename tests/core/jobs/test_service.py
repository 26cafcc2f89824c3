"""Jobs on a real database: queue, lease, retry with backoff, recurring schedules, several workers."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from sqlalchemy import func, select

from openzone.core import jobs
from openzone.core.jobs.models import Job, Schedule
from openzone.db import transaction
from openzone.kit.time import utcnow

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
