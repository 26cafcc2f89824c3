"""Timed work in a table, run by `openzone worker`: deadlines, reminders, deliveries, checkpoints."""

from openzone.core.jobs.service import (
    backoff,
    claim,
    enqueue,
    enqueue_unique,
    handler,
    heartbeat,
    last_heartbeat,
    record_failure,
    registered_kinds,
    run_calling_out,
    run_job,
    run_once,
    schedule_recurring,
    status,
    worker_name,
)

__all__ = [
    "backoff",
    "claim",
    "enqueue",
    "enqueue_unique",
    "handler",
    "heartbeat",
    "last_heartbeat",
    "record_failure",
    "registered_kinds",
    "run_calling_out",
    "run_job",
    "run_once",
    "schedule_recurring",
    "status",
    "worker_name",
]
