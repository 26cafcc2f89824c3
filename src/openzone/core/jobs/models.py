"""Tables owned by jobs: queued work, recurring schedules and worker heartbeats."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from openzone.db import Base, UTCDateTime, created_at, uuid_pk


class Job(Base):
    """Hold one piece of timed work until a worker has done it."""

    __tablename__ = "jobs_job"
    __table_args__ = (Index("ix_jobs_job_due", "status", "run_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, running, done, failed
    run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = created_at()


class Schedule(Base):
    """Say when a recurring job is next due."""

    __tablename__ = "jobs_schedule"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    interval_seconds: Mapped[int] = mapped_column(Integer)
    next_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WorkerBeat(Base):
    """Record that a worker process is alive."""

    __tablename__ = "jobs_worker"

    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
