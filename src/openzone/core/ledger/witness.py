"""Be a C2SP tlog-witness: check a log's checkpoint against the last one cosigned for its origin, then cosign it."""

# Stdlib and the ledger's pure note/merkle modules only: no database, no web framework. decide() is pure (request body
# and state in, verdict out); StateFile, Witness and serve() add the state file, the lock and the HTTP endpoint.
# Sources: C2SP tlog-witness.md "add-checkpoint" (C2SP/C2SP @ 055270b5), tlog-cosignature.md; byte layouts in
# reference/transparency-log-formats.md (e).

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

from openzone.core.ledger import merkle, note
from openzone.kit.files import fsync_path

# tlog-witness "add-checkpoint": the client MUST NOT send more than 63 consistency proof lines.
MAX_PROOF_LINES = 63
# A request holds at most 63 proof lines and a checkpoint with a few signatures: a few kilobytes.
MAX_REQUEST_BYTES = 64 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
ADD_CHECKPOINT_PATH = "/add-checkpoint"
STATE_VERSION = 1
_DECIMAL = re.compile(rb"0|[1-9][0-9]{0,19}", re.ASCII)
_CONTENT_LENGTH = re.compile(r"[0-9]+", re.ASCII)


class WitnessError(ValueError):
    """Signal a witness request, response, key or state file that is not acceptable."""


class MalformedRequest(WitnessError):
    """Signal an add-checkpoint request body that breaks the tlog-witness format."""


class MalformedState(WitnessError):
    """Signal a witness state file that cannot be read back."""


@dataclass(frozen=True)
class TreeHead:
    """Hold the size and root of the latest checkpoint a witness cosigned for one origin."""

    size: int
    root: bytes


@dataclass(frozen=True)
class AddCheckpoint:
    """Hold a parsed add-checkpoint request: old size, consistency proof and the signed checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes


@dataclass(frozen=True)
class Response:
    """Hold an HTTP answer of the witness: status, body and content type."""

    status: int
    body: bytes
    content_type: str = TEXT_CONTENT_TYPE


@dataclass(frozen=True)
class Verdict:
    """Say what to do with a request: refuse it with a response, or cosign a checkpoint and record its tree head."""

    refusal: Response | None = None
    origin: str = ""
    head: TreeHead | None = None
    body: bytes = b""


def _decimal(text: bytes, what: str) -> int:
    if not _DECIMAL.fullmatch(text) or int(text) > note.MAX_TREE_SIZE:
        raise MalformedRequest(f"{what} is not a decimal from 0 to 2^64 - 1 without leading zeros")
    return int(text)


def _hash(line: bytes, what: str) -> bytes:
    try:
        raw = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedRequest(f"{what} is not standard base64") from exc
    if len(raw) != merkle.HASH_SIZE or base64.b64encode(raw) != line:
        raise MalformedRequest(f"{what} is not the canonical base64 of a {merkle.HASH_SIZE}-byte hash")
    return raw


def format_request(old_size: int, proof: Sequence[bytes], signed_checkpoint: bytes) -> bytes:
    """Return an add-checkpoint body: "old <size>", the proof hashes in base64, an empty line, the signed checkpoint."""
    if isinstance(old_size, bool) or not isinstance(old_size, int) or not 0 <= old_size <= note.MAX_TREE_SIZE:
        raise MalformedRequest("the old size is an integer from 0 to 2^64 - 1")
    if len(proof) > MAX_PROOF_LINES or any(not isinstance(h, bytes) or len(h) != merkle.HASH_SIZE for h in proof):
        raise MalformedRequest(f"a proof has at most {MAX_PROOF_LINES} hashes of {merkle.HASH_SIZE} bytes")
    lines = [b"old %d" % old_size, *(base64.b64encode(h) for h in proof)]
    return b"".join(line + b"\n" for line in lines) + b"\n" + signed_checkpoint


def parse_request(body: bytes) -> AddCheckpoint:
    """Read an add-checkpoint body strictly; the checkpoint note itself is checked by decide()."""
    # The proof lines are never empty, so the first empty line ends them; the checkpoint after it may hold its own.
    end = body.find(b"\n\n")
    if end < 0:
        raise MalformedRequest("the body has an empty line between the proof and the checkpoint")
    head, checkpoint = body[:end].split(b"\n"), body[end + 2:]
    if not head[0].startswith(b"old "):
        raise MalformedRequest("the body starts with the line 'old <size>'")
    old_size = _decimal(head[0][len(b"old "):], "the old size")
    if len(head) - 1 > MAX_PROOF_LINES:
        raise MalformedRequest(f"the proof has more than {MAX_PROOF_LINES} lines")
    proof = tuple(_hash(line, f"proof line {i}") for i, line in enumerate(head[1:], start=1))
    return AddCheckpoint(old_size, proof, checkpoint)


def format_size(size: int) -> bytes:
    """Return the body of a 409 answer: the size of the latest cosigned checkpoint and a newline."""
    return b"%d\n" % size


def parse_size(body: bytes) -> int:
    """Read the body of a 409 answer (text/x.tlog.size) strictly."""
    if not body.endswith(b"\n"):
        raise WitnessError("a tree size answer ends with a newline")
    try:
        return _decimal(body[:-1], "the tree size")
    except MalformedRequest as exc:
        raise WitnessError(str(exc)) from None


def quorum_needed(active: int, configured: int = 0) -> int | None:
    """Return how many distinct witnesses make a checkpoint final: the configured k, else a majority; None with none."""
    if active <= 0:
        return None
    return configured if configured > 0 else active // 2 + 1


def _refuse(status: int, message: str) -> Verdict:
    return Verdict(refusal=Response(status, (message + "\n").encode()))


def _conflict(stored_size: int) -> Verdict:
    return Verdict(refusal=Response(409, format_size(stored_size), SIZE_CONTENT_TYPE))


def _read_checkpoint(text: bytes) -> tuple[note.Checkpoint | None, str, int, bytes]:
    """Parse a checkpoint text; an empty tree with a wrong root comes back as (None, origin, 0, root) for a 422."""
    try:
        checkpoint = note.parse_checkpoint(text)
        return checkpoint, checkpoint.origin, checkpoint.size, checkpoint.root
    except note.MalformedCheckpoint:
        lines = text.split(b"\n")
        if len(lines) < 4 or lines[1] != b"0":
            raise
        root = _hash(lines[2], "the root hash")
        # Only the root may be wrong: the same text with the empty-tree root must parse.
        parsed = note.parse_checkpoint(b"\n".join([lines[0], b"0", base64.b64encode(merkle.EMPTY_ROOT), *lines[3:]]))
        return None, parsed.origin, 0, root


def decide(body: bytes, *, logs: Mapping[str, Sequence[note.Verifier]], state: Mapping[str, TreeHead]) -> Verdict:
    """Apply the tlog-witness add-checkpoint checks, in the order the spec gives, to one request body."""
    try:
        request = parse_request(body)
        text = note.parse_note(request.checkpoint).text
        checkpoint, origin, size, root = _read_checkpoint(text)
    except (WitnessError, note.NoteError) as exc:
        return _refuse(400, f"malformed request: {exc}")
    verifiers = logs.get(origin)
    if not verifiers:
        return _refuse(404, f"unknown log origin {origin!r}")
    try:
        note.open_note(request.checkpoint, verifiers)
    except note.NoteError as exc:
        return _refuse(403, f"the checkpoint is not signed by the log's key: {exc}")
    old = request.old_size
    if old > size:
        return _refuse(400, f"old size {old} is larger than the checkpoint size {size}")
    stored = state.get(origin)
    stored_size = stored.size if stored else 0
    if old != stored_size:
        return _conflict(stored_size)
    if checkpoint is None:
        return _refuse(422, "the root of the empty tree is SHA-256 of the empty string")
    if old == 0 and request.proof:
        return _refuse(422, "the consistency proof from size 0 is empty")
    if stored is not None and old == size:
        # Same size as the last cosigned checkpoint: a different root is a fork the witness must never sign.
        if root != stored.root:
            return _conflict(stored_size)
        if request.proof:
            return _refuse(422, "the consistency proof between equal sizes is empty")
    elif old > 0:
        try:
            merkle.verify_consistency(old, size, request.proof, stored.root, root)
        except merkle.MerkleError as exc:
            return _refuse(422, f"the consistency proof does not verify: {exc}")
    return Verdict(origin=origin, head=TreeHead(size, root), body=text)


class StateFile:
    """Keep a witness's tree heads per origin in a JSON file, replaced atomically and synced to disk."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, TreeHead]:
        """Read every origin's latest cosigned tree head; a missing file means none yet."""
        try:
            raw = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise MalformedState(f"cannot read witness state {self.path}: {exc}") from exc
        if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION or not isinstance(raw.get("logs"), dict):
            raise MalformedState(f"{self.path} is not a version-{STATE_VERSION} witness state file")
        heads = {}
        for origin, head in raw["logs"].items():
            try:
                size, root = head["size"], base64.b64decode(head["root"], validate=True)
            except (KeyError, TypeError, binascii.Error, ValueError) as exc:
                raise MalformedState(f"{self.path}: the tree head of {origin!r} is malformed") from exc
            if isinstance(size, bool) or not isinstance(size, int) or size < 0 or len(root) != merkle.HASH_SIZE:
                raise MalformedState(f"{self.path}: the tree head of {origin!r} is malformed")
            heads[origin] = TreeHead(size, root)
        return heads

    def save(self, heads: Mapping[str, TreeHead]) -> None:
        """Write the tree heads to a temporary file, fsync it, rename it over the state file and fsync the folder."""
        data = {"version": STATE_VERSION, "logs": {origin: {"size": h.size, "root": base64.b64encode(h.root).decode()}
                                                   for origin, h in sorted(heads.items())}}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(json.dumps(data, indent=1).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        fsync_path(self.path.parent)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold an exclusive lock beside the state file, so that two witness processes never share one state."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock: BinaryIO = open(self.path.with_name(self.path.name + ".lock"), "ab")  # noqa: SIM115 - held for the block
        try:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise MalformedState(f"another witness process is using {self.path}") from None
            yield
        finally:
            lock.close()


def log_verifiers(vkeys: Sequence[str]) -> dict[str, list[note.Verifier]]:
    """Map each log origin to its verifier keys; a log's key name is its origin (tlog-checkpoint SHOULD)."""
    logs: dict[str, list[note.Verifier]] = {}
    for text in vkeys:
        verifier = note.parse_vkey(text)
        if verifier.kind != note.KIND_ED25519:
            raise note.MalformedKey(f"{verifier.name!r} is a cosigner key, not a log key (type 0x01)")
        logs.setdefault(verifier.name, []).append(verifier)
    return logs


class Witness:
    """Answer add-checkpoint requests for some logs, one at a time, persisting each new tree head before cosigning."""

    def __init__(self, signer: note.Signer, logs: Mapping[str, Sequence[note.Verifier]], state: StateFile,
                 clock: Callable[[], float] = time.time) -> None:
        self.signer = note.as_cosigner(signer) if signer.kind != note.KIND_COSIGNATURE_V1 else signer
        self.logs = {origin: list(verifiers) for origin, verifiers in logs.items()}
        self.state = state
        self.clock = clock
        # tlog-witness: checking the old size and persisting the new checkpoint must be atomic.
        self._lock = threading.Lock()

    @property
    def vkey(self) -> str:
        """Return the witness's cosignature (type 0x04) verifier key."""
        return self.signer.vkey

    def add_checkpoint(self, body: bytes) -> Response:
        """Check one add-checkpoint request body and return the HTTP answer, cosignature lines on success."""
        with self._lock:
            heads = self.state.load()
            verdict = decide(body, logs=self.logs, state=heads)
            if verdict.refusal is not None:
                return verdict.refusal
            heads[verdict.origin] = verdict.head
            self.state.save(heads)
        line = note.cosign(self.signer, verdict.body, int(self.clock()))
        return Response(200, note.format_signature_line(line))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openzone-witness"
    # An idle or slow client must not hold a thread for ever.
    timeout = 30
    witness: Witness

    def _answer(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def do_POST(self) -> None:
        if self.path != ADD_CHECKPOINT_PATH:
            self._answer(Response(404, b"not found\n"))
            return
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            self._answer(Response(411, b"Content-Length required\n"))
            return
        # ASCII digits only (RFC 9110 §8.6): str.isdigit() also passes "²" or "٣", which int() then refuses.
        if not _CONTENT_LENGTH.fullmatch(length):
            self.close_connection = True
            self._answer(Response(400, b"Content-Length is not a decimal number\n"))
            return
        # Compare the digits before int(): a length of thousands of digits is too large, not a crash.
        if len(length) > len(str(MAX_REQUEST_BYTES)) or int(length) > MAX_REQUEST_BYTES:
            self.close_connection = True
            self._answer(Response(413, b"request too large\n"))
            return
        self._answer(self.witness.add_checkpoint(self.rfile.read(int(length))))

    def do_GET(self) -> None:
        self._answer(Response(404 if self.path != ADD_CHECKPOINT_PATH else 405, b"POST /add-checkpoint\n"))

    def log_message(self, format: str, *args) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def serve(witness: Witness, host: str, port: int) -> ThreadingHTTPServer:
    """Bind the witness's HTTP endpoint (port 0 picks a free one); the caller runs serve_forever and shutdown."""
    handler = type("WitnessHandler", (_Handler,), {"witness": witness})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
