"""A separate, freshly migrated database for ledger tests that kill processes or tamper with committed rows."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from openzone import migrate
from openzone.core import ledger
from openzone.core.ledger import merkle, note
from openzone.core.ledger.models import Entry
from openzone.db import get_engine, transaction
from tests.conftest import DATABASE_URL, IS_POSTGRES

ROOT = Path(__file__).resolve().parents[3]


@contextmanager
def scratch_database() -> Iterator[str]:
    """Yield the URL of a new database migrated to head, dropped afterwards (a file on SQLite, a database on PostgreSQL)."""
    if IS_POSTGRES:
        name = f"openzone_scratch_{uuid.uuid4().hex[:12]}"
        admin = create_engine(DATABASE_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    else:
        admin = None
        folder = Path(tempfile.mkdtemp(prefix="openzone-scratch-"))
        url = f"sqlite:///{folder / 'scratch.db'}"
    migrate.upgrade(url)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        else:
            shutil.rmtree(folder, ignore_errors=True)


_serial = itertools.count()


def add_entries(url: str, count: int, *, event_type: str = "test.load") -> None:
    """Commit count pending entries through ledger.record in one transaction."""
    with transaction(url) as session:
        for _ in range(count):
            ledger.record(session, event_type, actor_org_id=None,
                          data={"serial": next(_serial), "nonce": uuid.uuid4().hex})


def cli(*args: str, url: str, **kwargs) -> subprocess.Popen:
    """Start `python -m openzone.cli ...` against a database, with unbuffered output."""
    env = {**os.environ, "OPENZONE_DATABASE_URL": url, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "openzone.cli", *args], cwd=ROOT, env=env, text=True, **kwargs)


def run_cli(*args: str, url: str) -> subprocess.CompletedProcess:
    """Run `python -m openzone.cli ...` against a database to the end and return its output."""
    proc = cli(*args, url=url, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def wait_for_line(proc: subprocess.Popen, marker: str) -> str:
    """Read a process's output until a line holds marker; fail if it exits first."""
    for line in proc.stdout:
        if marker in line:
            return line
    raise AssertionError(f"the process exited with {proc.wait()} before printing {marker!r}")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    """Send a signal to a process this test started, if it still runs, and wait for it."""
    if proc.poll() is None:
        proc.send_signal(sig)
    if proc.returncode is None or any(f and not f.closed for f in (proc.stdout, proc.stderr)):
        proc.communicate()
    return proc.returncode


@contextmanager
def started() -> Iterator[list[subprocess.Popen]]:
    """Collect the processes a test starts and kill any still running when it ends, pass or fail."""
    procs: list[subprocess.Popen] = []
    try:
        yield procs
    finally:
        for proc in procs:
            stop(proc, signal.SIGKILL)


def check_log(url: str, *, max_pairs: int = 20_000) -> dict[str, int]:
    """Assert every durability invariant of the log in a database and return its size and checkpoint count.

    Every entry has exactly one index, indices are 0..n-1, the newest root is the RFC 9162 root recomputed from the
    entries, every checkpoint verifies with the log key and is consistent with every later one, and audit passes.
    """
    verifier = note.parse_vkey(ledger.log_vkey())
    with transaction(url) as session:
        pending = ledger.pending_count(session)
        rows = session.execute(select(Entry.leaf_index, Entry.body, Entry.leaf_hash).order_by(Entry.leaf_index)).all()
        assert pending == 0, f"{pending} entries were left unintegrated"
        indices = [r.leaf_index for r in rows]
        assert indices == list(range(len(rows))), "indices are not exactly 0..n-1"
        assert session.scalar(select(func.count(func.distinct(Entry.seq)))) == len(rows)
        leaves = [merkle.leaf_hash(bytes(r.body)) for r in rows]
        assert [bytes(r.leaf_hash) for r in rows] == leaves
        latest = ledger.latest_checkpoint(session)
        assert latest.size == len(rows)
        assert bytes(latest.root) == merkle.root_from_leaves(leaves)
        checkpoints = session.execute(select(ledger.PublishedCheckpoint.size, ledger.PublishedCheckpoint.root,
                                             ledger.PublishedCheckpoint.note)
                                      .order_by(ledger.PublishedCheckpoint.size)).all()
        for size, root, signed in checkpoints:
            parsed = note.parse_checkpoint(note.open_note(signed.encode(), [verifier]).text)
            assert (parsed.size, parsed.root) == (size, bytes(root))
        pairs = [(a, b) for i, a in enumerate(checkpoints) for b in checkpoints[i + 1:]]
        # Consistency is transitive, so past max_pairs the consecutive pairs and the pairs with the newest suffice.
        if len(pairs) > max_pairs:
            pairs = list(itertools.pairwise(checkpoints)) + [(a, checkpoints[-1]) for a in checkpoints[:-1]]
        for (old, old_root, _), (new, new_root, _) in pairs:
            proof = ledger.consistency_proof(session, old, new)
            merkle.verify_consistency(old, new, proof, bytes(old_root), bytes(new_root))
    report = ledger.audit(lambda: transaction(url))
    assert report.ok, report.differences
    return {"size": len(rows), "checkpoints": len(checkpoints)}
