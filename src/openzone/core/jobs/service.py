"""Queue, schedule and run timed work; several workers may share the table."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openzone.core.jobs.models import Job, Schedule, WorkerBeat
from openzone.kit.time import utcnow

log = logging.getLogger("openzone.jobs")

Handler = Callable[[Session, dict], None]
# A handler that calls out (HTTP to another deployment) gets the transaction factory instead of a session, so no
# database transaction, and on SQLite no write lock, is held while it waits for the other side.
OutsideHandler = Callable[[Callable, dict], None]


@dataclass(frozen=True)
class Recurring:
    """Describe a job kind that runs every interval."""

    kind: str
    interval: dt.timedelta


_handlers: dict[str, Handler] = {}
_calls_out: set[str] = set()
_recurring: dict[str, Recurring] = {}
LEASE = dt.timedelta(minutes=5)


def handler(kind: str, *, every: dt.timedelta | None = None, calls_out: bool = False) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of a kind, optionally recurring every interval.

    With calls_out the function is called as fn(transaction, payload) outside any transaction: it opens its own
    short transactions around a call to another system, and the job is marked done in a transaction of its own
    afterwards. Such a job runs at least once, so the call must be idempotent (an Idempotency-Key).
    """

    def register(fn: Handler) -> Handler:
        _handlers[kind] = fn
        if calls_out:
            _calls_out.add(kind)
        else:
            _calls_out.discard(kind)
        if every is not None:
            _recurring[kind] = Recurring(kind, every)
        return fn

    return register


def registered_kinds() -> list[str]:
    """List the job kinds this process can run."""
    return sorted(_handlers)


def enqueue(session: Session, kind: str, payload: dict | None = None, *, run_at: dt.datetime | None = None,
            dedupe_key: str | None = None, max_attempts: int = 5) -> Job | None:
    """Queue a job in the caller's transaction; with a dedupe key, a second identical job is not queued."""
    if kind not in _handlers:
        raise ValueError(f"no handler registered for job kind {kind!r}")
    if dedupe_key and session.scalar(select(Job.id).where(Job.dedupe_key == dedupe_key)):
        return None
    job = Job(kind=kind, payload=payload or {}, run_at=run_at or utcnow(), dedupe_key=dedupe_key,
              max_attempts=max_attempts)
    session.add(job)
    session.flush()
    return job


def worker_name() -> str:
    """Name this worker process after its host and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"


def heartbeat(session: Session, worker_id: str) -> None:
    """Record that the worker is alive."""
    now = utcnow()
    beat = session.get(WorkerBeat, worker_id)
    if beat is None:
        session.add(WorkerBeat(worker_id=worker_id, started_at=now, heartbeat_at=now))
    else:
        beat.heartbeat_at = now
    session.flush()


def last_heartbeat(session: Session) -> dt.datetime | None:
    """Return the most recent heartbeat of any worker."""
    return session.scalar(select(func.max(WorkerBeat.heartbeat_at)))


def schedule_recurring(session: Session) -> int:
    """Queue every recurring job whose time has come; return how many were queued."""
    now = utcnow()
    for rec in _recurring.values():
        if session.get(Schedule, rec.kind) is None:
            session.add(Schedule(name=rec.kind, interval_seconds=int(rec.interval.total_seconds()), next_run_at=now))
    session.flush()
    due = session.scalars(select(Schedule).where(Schedule.next_run_at <= now, Schedule.name.in_(list(_recurring)))
                          .with_for_update(skip_locked=True)).all()
    queued = 0
    for sched in due:
        key = f"{sched.name}@{sched.next_run_at.isoformat()}"
        if enqueue(session, sched.name, {}, dedupe_key=key) is not None:
            queued += 1
        sched.last_run_at = now
        step = dt.timedelta(seconds=sched.interval_seconds)
        # Skip missed slots rather than run a backlog of identical checks.
        sched.next_run_at = max(sched.next_run_at + step, now + dt.timedelta(seconds=1))
    session.flush()
    return queued


def claim(session: Session, worker_id: str, *, limit: int = 10) -> list[uuid.UUID]:
    """Lease due jobs to this worker (SKIP LOCKED on PostgreSQL; SQLite's write lock serialises claims)."""
    now = utcnow()
    due = or_(Job.status == "pending", (Job.status == "running") & (Job.locked_until < now))
    jobs = session.scalars(select(Job).where(due, Job.run_at <= now, Job.kind.in_(list(_handlers)))
                           .order_by(Job.run_at).limit(limit).with_for_update(skip_locked=True)).all()
    for job in jobs:
        job.status = "running"
        job.locked_by = worker_id
        job.locked_until = now + LEASE
        job.attempts += 1
    session.flush()
    return [job.id for job in jobs]


def backoff(attempt: int) -> dt.timedelta:
    """Return the wait before retry number attempt: 30 s, 1 min, 2 min, … capped at one hour."""
    return dt.timedelta(seconds=min(3600, 30 * 2 ** max(0, attempt - 1)))


def run_job(session: Session, job_id: uuid.UUID, worker_id: str) -> bool:
    """Run one leased job in the caller's transaction; return False if the lease was lost."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.status != "running" or job.locked_by != worker_id:
        return False
    if job.kind in _calls_out:
        raise ValueError(f"job kind {job.kind!r} calls out: run it with run_calling_out")
    _handlers[job.kind](session, dict(job.payload))
    job.status = "done"
    job.finished_at = utcnow()
    job.locked_until = None
    session.flush()
    return True


def _leased_payload(session: Session, job_id: uuid.UUID, worker_id: str) -> dict | None:
    job = session.get(Job, job_id)
    if job is None or job.status != "running" or job.locked_by != worker_id:
        return None
    return dict(job.payload)


def _finish(session: Session, job_id: uuid.UUID, worker_id: str) -> bool:
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.status != "running" or job.locked_by != worker_id:
        return False
    job.status = "done"
    job.finished_at = utcnow()
    job.locked_until = None
    session.flush()
    return True


def run_calling_out(transaction: Callable, job_id: uuid.UUID, worker_id: str) -> bool:
    """Run one leased calls-out job with no transaction held during its call; return False if the lease was lost."""
    with transaction() as session:
        kind = session.scalar(select(Job.kind).where(Job.id == job_id))
        payload = _leased_payload(session, job_id, worker_id)
    if payload is None:
        return False
    _handlers[kind](transaction, payload)
    with transaction() as session:
        return _finish(session, job_id, worker_id)


def status(session: Session, dedupe_key: str) -> str | None:
    """Return the status of the job queued under a dedupe key (pending, running, done, failed), or None."""
    return session.scalar(select(Job.status).where(Job.dedupe_key == dedupe_key))


def record_failure(session: Session, job_id: uuid.UUID, error: BaseException) -> None:
    """Put a failed job back in the queue with backoff, or mark it failed after its last attempt."""
    job = session.get(Job, job_id)
    if job is None:
        return
    job.last_error = "".join(traceback.format_exception_only(type(error), error))[-2000:]
    job.locked_until = None
    if job.attempts >= job.max_attempts:
        job.status = "failed"
        job.finished_at = utcnow()
    else:
        job.status = "pending"
        job.run_at = utcnow() + backoff(job.attempts)
    session.flush()


def run_once(transaction: Callable, worker_id: str, *, limit: int = 10) -> int:
    """Do one round of work: beat, schedule, claim and run due jobs, each in its own transaction."""
    with transaction() as session:
        heartbeat(session, worker_id)
        schedule_recurring(session)
        leased = claim(session, worker_id, limit=limit)
        outside = {job_id for job_id in leased if session.get(Job, job_id).kind in _calls_out}
    for job_id in leased:
        try:
            if job_id in outside:
                run_calling_out(transaction, job_id, worker_id)
                continue
            with transaction() as session:
                run_job(session, job_id, worker_id)
        except Exception as exc:  # noqa: BLE001 - a failing job must not stop the worker
            log.warning("job %s failed: %s", job_id, exc)
            with transaction() as session:
                record_failure(session, job_id, exc)
    return len(leased)


def enqueue_unique(session: Session, kind: str, payload: dict, *, dedupe_key: str) -> Job | None:
    """Queue a job once per dedupe key even when two processes race to queue it."""
    try:
        with session.begin_nested():
            return enqueue(session, kind, payload, dedupe_key=dedupe_key)
    except IntegrityError:
        return None
