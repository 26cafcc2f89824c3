"""Crash safety: an integrator killed with SIGKILL mid-batch loses nothing, and many appenders and integrators may run at once."""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time

import pytest

from openzone.core import ledger
from openzone.db import transaction
from tests.core.ledger import scratch


@pytest.fixture
def scratch_db():
    with scratch.scratch_database() as url:
        yield url


@pytest.fixture
def procs():
    with scratch.started() as started:
        yield started


def _integrator(url: str, *args: str) -> subprocess.Popen:
    return scratch.cli("ledger", "integrate", "--loop", *args, url=url, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)


def test_an_integrator_killed_mid_batch_loses_and_repeats_nothing(scratch_db, procs):
    rng = random.Random()
    scratch.add_entries(scratch_db, 40_000)
    for _ in range(3):
        proc = _integrator(scratch_db, "--batch", "5000", "--delay", "0.05")
        procs.append(proc)
        scratch.wait_for_line(proc, "checkpoint")
        # Each batch runs in one transaction of tens of milliseconds, so a random moment usually falls inside one.
        time.sleep(rng.uniform(0.0, 0.25))
        assert scratch.stop(proc, signal.SIGKILL) == -signal.SIGKILL
        # Entries appended between crashes must be integrated too.
        scratch.add_entries(scratch_db, 2_000)
    with transaction(scratch_db) as session:
        assert ledger.pending_count(session) > 0, "the crashes should leave work for the next run"
    result = scratch.run_cli("ledger", "integrate", "--batch", "5000", url=scratch_db)
    assert result.returncode == 0, result.stderr
    assert scratch.check_log(scratch_db)["size"] == 46_000


def test_several_appenders_and_integrators_at_once_keep_the_log_exact(scratch_db, procs):
    for _ in range(2):
        procs.append(_integrator(scratch_db, "--batch", "300", "--delay", "0.02"))
    for proc in procs:
        scratch.wait_for_line(proc, "integrator started")
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            for round_ in range(15):
                with transaction(scratch_db) as session:
                    for i in range(20):
                        ledger.record(session, "test.concurrent", actor_org_id=None,
                                      data={"worker": worker, "round": round_, "i": i})
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    writers = [threading.Thread(target=append, args=(w,)) for w in range(4)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    for proc in procs:
        assert scratch.stop(proc) == 0
    assert errors == []
    result = scratch.run_cli("ledger", "integrate", url=scratch_db)
    assert result.returncode == 0, result.stderr
    assert scratch.check_log(scratch_db)["size"] == 4 * 15 * 20
