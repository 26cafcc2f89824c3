"""`openzone worker` as a process: it outlives a lost database connection (a restart) and carries on."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import DATABASE_URL, IS_POSTGRES
from tests.core.ledger import scratch

NAME = "openzone-worker-test"


def _wait_for_line(proc: subprocess.Popen, marker: str, seconds: float = 30) -> None:
    """Read the process's output until a line holds marker; fail after some seconds (a stuck worker prints nothing)."""
    found = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            if marker in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(seconds), f"the worker did not print {marker!r}"


def _backends(admin) -> list[int]:
    """The worker's server connections (it names itself; this process has its own to the same database)."""
    with admin.connect() as conn:
        return list(conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                                 {"name": NAME}))


@pytest.mark.skipif(not IS_POSTGRES, reason="server connections ended from the server side")
def test_the_worker_outlives_a_lost_database_connection():
    admin = create_engine(DATABASE_URL)
    with scratch.scratch_database() as url:
        named = make_url(url).update_query_dict({"application_name": NAME}).render_as_string(hide_password=False)
        proc = scratch.cli("worker", url=named, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            _wait_for_line(proc, "started")
            seen: set[int] = set()
            for _ in range(3):
                # What a database restart does to the worker's connections, in its idle polls (1 s apart, never idle
                # long enough to be pinged before use) or in a job: each time it must connect afresh and go on.
                deadline = time.monotonic() + 20
                while not (now := set(_backends(admin)) - seen) and time.monotonic() < deadline:
                    assert proc.poll() is None, "the worker stopped"
                    time.sleep(0.1)
                assert now, "the worker did not connect again"
                seen |= now
                time.sleep(1.5)
                with admin.connect() as conn:
                    for pid in now:
                        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            deadline = time.monotonic() + 20
            while not set(_backends(admin)) - seen and time.monotonic() < deadline:
                time.sleep(0.1)
            assert set(_backends(admin)) - seen, "the worker did not connect again"
            assert proc.poll() is None  # and still running
        finally:
            proc.terminate()
            try:
                code = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            proc.stdout.close()
        assert code == 0  # and it stops cleanly on SIGTERM
    admin.dispose()
