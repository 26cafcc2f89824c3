"""Helpers for witness tests: an in-memory log to make checkpoints and proofs, and real witness processes."""

from __future__ import annotations

import hashlib
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from openzone.core.ledger import merkle, note

ROOT = Path(__file__).resolve().parents[3]
# Long enough for a loaded machine to import the CLI; a witness that takes longer is broken, not slow.
START_TIMEOUT = 120


class MemoryLog:
    """Hold an in-memory log: entries, a signer, and checkpoints and proofs at any size."""

    def __init__(self, origin: str = "log.example.test/v1", signer: note.Signer | None = None) -> None:
        self.origin = origin
        self.signer = signer or note.generate_signer(origin)[0]
        self.leaves: list[bytes] = []

    def append(self, *entries: bytes) -> int:
        """Append entries and return the new size."""
        self.leaves.extend(merkle.leaf_hash(e) for e in entries)
        return len(self.leaves)

    def grow(self, count: int, tag: str = "e") -> int:
        """Append count numbered entries and return the new size."""
        start = len(self.leaves)
        return self.append(*(f"{tag}{start + i}".encode() for i in range(count)))

    def fork(self, at: int, tag: str = "forged") -> MemoryLog:
        """Return a log with the same key and the same first `at` entries, after which the history differs."""
        other = MemoryLog(self.origin, self.signer)
        other.leaves = self.leaves[:at]
        other.append(*(f"{tag}{i}".encode() for i in range(len(self.leaves) - at)))
        return other

    def root(self, size: int | None = None) -> bytes:
        """Return the RFC 9162 root at a size (the whole log by default)."""
        return merkle.root_from_leaves(self.leaves[: len(self.leaves) if size is None else size])

    def checkpoint(self, size: int | None = None, signers: Sequence[note.Signer] | None = None) -> bytes:
        """Return the signed checkpoint note at a size."""
        size = len(self.leaves) if size is None else size
        body = note.Checkpoint(self.origin, size, self.root(size)).body()
        return note.sign_note(body, list(signers or [self.signer]))

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        """Return the RFC 9162 consistency proof between two sizes."""
        new = len(self.leaves) if new is None else new
        tiles: dict[tuple[int, int], bytes] = {}
        tiles.update(merkle.append_leaves(0, self.leaves[:new], lambda level, idx: tiles[(level, idx)]))
        return merkle.consistency_proof(old, new, lambda level, idx: tiles[(level, idx)])


def make_key(directory: Path, name: str) -> tuple[Path, str]:
    """Write a witness key file and return its path and the witness's cosignature vkey."""
    signer, skey = note.generate_signer(name)
    path = directory / f"{hashlib.sha256(name.encode()).hexdigest()[:12]}.skey"
    path.write_text(skey + "\n")
    path.chmod(0o600)
    return path, note.as_cosigner(signer).vkey


@dataclass
class WitnessProcess:
    """Describe one witness process a test started."""

    name: str
    vkey: str
    url: str
    state: Path
    key: Path
    proc: subprocess.Popen

    @property
    def verifier(self) -> note.Verifier:
        """Return the witness's cosignature verifier."""
        return note.parse_vkey(self.vkey)


def cli(*args: str, log: Path) -> subprocess.Popen:
    """Start `python -m openzone.cli ...`, stdout piped, stderr to a log file."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    with open(log, "ab") as err:
        return subprocess.Popen([sys.executable, "-m", "openzone.cli", *args], cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=err)


def read_line(proc: subprocess.Popen, marker: str) -> str:
    """Read a process's output until a line holds marker; fail if it exits or stays silent too long."""
    while True:
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
        if not ready:
            raise AssertionError(f"no {marker!r} from the process within {START_TIMEOUT} s")
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"the process exited with {proc.wait()} before printing {marker!r}")
        if marker in line:
            return line


def run_args(name: str, key: Path, state: Path, log_vkeys: Sequence[str], port: int = 0) -> list[str]:
    """Return the arguments of `openzone witness run`."""
    args = ["witness", "run", "--name", name, "--key", str(key), "--state", str(state), "--port", str(port)]
    for vkey in log_vkeys:
        args += ["--log-vkey", vkey]
    return args


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    """Signal a process this test started, if it still runs, and wait for it to end."""
    if proc.poll() is None:
        proc.send_signal(sig)
    if proc.returncode is None or (proc.stdout and not proc.stdout.closed):
        proc.communicate()
    return proc.returncode


@contextmanager
def witnesses(directory: Path, names: Sequence[str], log_vkeys: Sequence[str]) -> Iterator[list[WitnessProcess]]:
    """Start one real witness process per name on a free port; stop them all at the end, pass or fail."""
    started: list[WitnessProcess] = []
    try:
        for name in names:
            key, vkey = make_key(directory, name)
            state = directory / f"{key.stem}.state.json"
            proc = cli(*run_args(name, key, state, log_vkeys), log=directory / f"{key.stem}.log")
            started.append(WitnessProcess(name, vkey, "", state, key, proc))
        for w in started:
            line = read_line(w.proc, "listening on ")
            w.url = line.split("listening on ", 1)[1].split()[0]
        yield started
    finally:
        for w in started:
            stop(w.proc, signal.SIGKILL)
