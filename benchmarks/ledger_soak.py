"""Kill the ledger integrator with SIGKILL again and again while writers append, then prove nothing was lost or repeated.

Usage: .venv/bin/python benchmarks/ledger_soak.py [--cycles 100] [--max-seconds 900] [--database-url URL]

Without --database-url the soak uses a fresh SQLite file in a temporary directory (and its own ./var there). Each
cycle preloads a backlog, starts one or two integrators (`python -m openzone.core.ledger.cli integrate --loop`, the command behind
`openzone ledger integrate`), lets them run for a random moment while two writer processes keep calling
ledger.record(...), and kills them with SIGKILL. After every cycle the integrated indices must be exactly 0..n-1 and
match the state row; at the end a clean run drains the backlog and the whole log is checked: every committed entry
has one index, the newest root equals the RFC 9162 root recomputed from the entries, every checkpoint verifies and is
consistent with the later ones, and `ledger audit` finds no difference.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _env(url: str, var_dir: str) -> dict[str, str]:
    return {**os.environ, "OPENZONE_DATABASE_URL": url, "OPENZONE_VAR_DIR": var_dir, "PYTHONUNBUFFERED": "1"}


def writer() -> None:
    """Append entries in small transactions until SIGTERM, then print how many were committed."""
    from openzone.core import ledger
    from openzone.db import transaction

    stopping = False

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    rng = random.Random()
    committed = 0
    print("writer ready", flush=True)
    while not stopping:
        with transaction() as session:
            for _ in range(25):
                ledger.record(session, "soak.appended", actor_org_id=None,
                              data={"pid": os.getpid(), "n": committed, "r": rng.getrandbits(48)})
        committed += 25
        time.sleep(0.005)
    print(f"committed {committed}", flush=True)


def _preload(count: int) -> None:
    import uuid

    from openzone.core import ledger
    from openzone.db import transaction

    for start in range(0, count, 20_000):
        with transaction() as session:
            for i in range(start, min(count, start + 20_000)):
                ledger.record(session, "soak.preloaded", actor_org_id=None, data={"n": i, "nonce": uuid.uuid4().hex})


def _quick_check() -> tuple[int, int, int]:
    """Check that the indices below the newest checkpoint's size are exactly 0..size-1; return counts."""
    from sqlalchemy import func, select

    from openzone.core import ledger
    from openzone.db import transaction

    with transaction() as session:
        # The size first: on PostgreSQL each statement sees the latest commits, and a live integrator may commit a
        # bigger tree between two statements; entries below a signed size never change.
        size = ledger.tree_size(session)
        leaf = ledger.Leaf
        integrated, low, high = session.execute(select(func.count(leaf.leaf_index), func.min(leaf.leaf_index),
                                                       func.max(leaf.leaf_index))
                                                .where(leaf.leaf_index < size)).one()
        pending = ledger.pending_count(session)
        checkpoints = session.scalar(select(func.count()).select_from(ledger.PublishedCheckpoint))
    if integrated != size or (integrated and (low, high) != (0, size - 1)):
        raise SystemExit(f"INVARIANT BROKEN: {integrated} indexed entries below {size}, indices {low}..{high}")
    return size, pending, checkpoints


def _full_check() -> dict[str, object]:
    """Check every durability invariant over the whole log and return what was checked."""
    import itertools

    from sqlalchemy import func, select

    from openzone.core import ledger
    from openzone.core.ledger import merkle, note
    from openzone.db import transaction

    verifier = note.parse_vkey(ledger.log_vkey())
    with transaction() as session:
        rows = session.execute(select(ledger.Leaf.leaf_index, ledger.Entry.body)
                               .join(ledger.Entry, ledger.Entry.seq == ledger.Leaf.seq)
                               .order_by(ledger.Leaf.leaf_index)).all()
        if session.scalar(select(func.count()).select_from(ledger.Entry)) != len(rows):
            raise SystemExit("INVARIANT BROKEN: entries left without an index after the final run")
        if [r.leaf_index for r in rows] != list(range(len(rows))):
            raise SystemExit("INVARIANT BROKEN: indices are not exactly 0..n-1")
        root = merkle.root_from_leaves([merkle.leaf_hash(bytes(r.body)) for r in rows])
        latest = ledger.latest_checkpoint(session)
        if latest.size != len(rows) or bytes(latest.root) != root:
            raise SystemExit("INVARIANT BROKEN: the newest checkpoint is not the root recomputed from the entries")
        checkpoints = session.execute(select(ledger.PublishedCheckpoint.size, ledger.PublishedCheckpoint.root,
                                             ledger.PublishedCheckpoint.note)
                                      .order_by(ledger.PublishedCheckpoint.size)).all()
        for size, cp_root, signed in checkpoints:
            parsed = note.parse_checkpoint(note.open_note(signed.encode(), [verifier]).text)
            if (parsed.size, parsed.root) != (size, bytes(cp_root)):
                raise SystemExit(f"INVARIANT BROKEN: checkpoint {size} does not state its own size and root")
        # Consistency is transitive: consecutive pairs and every checkpoint against the newest cover every pair.
        pairs = list(itertools.pairwise(checkpoints)) + [(a, checkpoints[-1]) for a in checkpoints[:-1]]
        for (old, old_root, _), (new, new_root, _) in pairs:
            merkle.verify_consistency(old, new, ledger.consistency_proof(session, old, new), bytes(old_root),
                                      bytes(new_root))
    report = ledger.audit(transaction)
    if not report.ok:
        raise SystemExit("AUDIT FAILED:\n" + "\n".join(report.differences))
    return {"entries": len(rows), "checkpoints": len(checkpoints), "consistency_pairs": len(pairs),
            "audit_tiles": report.tiles}


def soak(args: argparse.Namespace) -> None:
    """Run the kill-and-restart cycles and print a summary."""
    from openzone import migrate

    url, var_dir = os.environ["OPENZONE_DATABASE_URL"], os.environ["OPENZONE_VAR_DIR"]
    migrate.upgrade()
    _preload(args.backlog)
    env = _env(url, var_dir)
    writers = [subprocess.Popen([sys.executable, __file__, "--writer"], cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE) for _ in range(args.writers)]
    for proc in writers:
        proc.stdout.readline()
    rng = random.Random(args.seed)
    started = time.monotonic()
    kills = kills_with_backlog = cycles = 0
    preloaded = args.backlog
    integrator = [sys.executable, "-m", "openzone.core.ledger.cli", "integrate", "--loop", "--batch", str(args.batch),
                  "--delay", "0.05"]
    try:
        while cycles < args.cycles and time.monotonic() - started < args.max_seconds:
            # A fresh backlog each cycle keeps the integrator inside full batches, so most kills land mid-transaction.
            _preload(args.per_cycle)
            preloaded += args.per_cycle
            procs = [subprocess.Popen(integrator, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL) for _ in range(rng.choice((1, 1, 2)))]
            for proc in procs:
                for line in proc.stdout:
                    if "integrator started" in line:
                        break
            for proc in procs:
                time.sleep(rng.uniform(0.0, args.max_run))
                _, pending, _ = _quick_check()
                proc.kill()
                proc.communicate()
                kills += 1
                kills_with_backlog += pending > 0
            cycles += 1
            size, pending, checkpoints = _quick_check()
            if cycles % 10 == 0:
                print(f"cycle {cycles}: tree size {size}, pending {pending}, checkpoints {checkpoints}, "
                      f"{time.monotonic() - started:.0f} s", flush=True)
    finally:
        appended = 0
        for proc in writers:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate()
            appended += int(out.split()[-1]) if out.split() else 0
    drain_started = time.monotonic()
    final = subprocess.run([*integrator[:3], "integrate", "--batch", str(args.batch)], cwd=ROOT, env=env,
                           capture_output=True, text=True)
    if final.returncode != 0:
        raise SystemExit(f"the final integration failed:\n{final.stdout}\n{final.stderr}")
    drain_seconds = time.monotonic() - drain_started
    checked = _full_check()
    expected = preloaded + appended
    if checked["entries"] != expected:
        raise SystemExit(f"INVARIANT BROKEN: {expected} entries were committed but {checked['entries']} are in the log")
    print("ledger soak: PASSED")
    print(f"  database            {url.split('@')[-1]}")
    print(f"  cycles              {cycles} ({kills} SIGKILLs, {kills_with_backlog} with entries still pending)")
    print(f"  time                {time.monotonic() - started:.0f} s (final drain {drain_seconds:.1f} s)")
    print(f"  entries             {expected} committed ({preloaded} preloaded, {appended} appended during the "
          f"kills by {args.writers} writers), {checked['entries']} integrated exactly once")
    print(f"  checkpoints         {checked['checkpoints']}, {checked['consistency_pairs']} consistency proofs verified")
    print(f"  audit               no difference ({checked['audit_tiles']} tiles compared)")


def main() -> None:
    """Parse the arguments and run the soak (or, with --writer, one writer process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--backlog", type=int, default=20_000, help="entries preloaded before the first cycle")
    parser.add_argument("--per-cycle", type=int, default=10_000, help="entries preloaded before each cycle")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--max-run", type=float, default=1.0, help="longest run before a kill, in seconds")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        writer()
        return
    if not os.environ.get("OPENZONE_SOAK_CHILD"):
        tmp = Path(tempfile.mkdtemp(prefix="openzone-soak-"))
        url = args.database_url or f"sqlite:///{tmp / 'soak.db'}"
        env = {**_env(url, str(tmp / "var")), "OPENZONE_SOAK_CHILD": "1"}
        # Re-run in a child so that settings and engines see the soak's database from the first import.
        raise SystemExit(subprocess.run([sys.executable, __file__, *sys.argv[1:]], env=env).returncode)
    soak(args)


if __name__ == "__main__":
    main()
