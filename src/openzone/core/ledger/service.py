"""Ledger use cases: record entries and commitments; integrate them into the signed, tiled log; read tiles and proofs."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, delete, event, func, insert, select, text, update
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from openzone.config import get_settings
from openzone.core import jobs
from openzone.core.ledger import domain, merkle, note
from openzone.core.ledger.domain import InvalidCommitment, InvalidEntry, Opening
from openzone.core.ledger.models import Entry, Leaf, LogState, PublishedCheckpoint, Queued, Salt, Tile
from openzone.db import PLACEHOLDERS, READ_ONLY, STAGE_COMPANIONS, get_engine, multi_insert, transaction
from openzone.kit.errors import ValidationFailed, problem
from openzone.kit.time import utcnow

MAX_PENDING_BATCH = 10_000


canonical_json = domain.canonical_json


class Recorded(NamedTuple):
    """Describe an entry record() stored: its exact bytes and RFC 9162 leaf hash, the handle to find it later."""

    body: bytes
    leaf_hash: bytes
    event_type: str
    actor_org_id: uuid.UUID | None
    created_at: dt.datetime


# Entries wait in the session (session.info) and are inserted with one executemany just before the session's next
# statement or its commit, in the caller's transaction: a flush per entry cost half the append time.
_PENDING = "openzone.ledger.pending"
# Salts of commitments made in the open transaction wait the same way; _MADE remembers those commitments (and those
# whose kept salt a caller read in it, note_kept) so that record() need not read them back.
_SALTS = "openzone.ledger.salts"
_MADE = "openzone.ledger.made"
# Driver-level multi-row INSERTs: SQLAlchemy's per-row bind processing cost more than SQLite's insert itself. The
# values are converted here as SQLAlchemy stores them (Uuid on SQLite: 32 hex digits), which tests check by reading the
# rows back through the ORM.
_ENTRY_INSERT = "INSERT INTO ledger_entry (event_type, actor_org_id, body, leaf_hash, leaf_key) VALUES "
_SALT_INSERT = "INSERT INTO ledger_salt (commitment, kind, salt, created_at) VALUES "
# 199 rows of 5 values: under the 999 bound parameters of SQLite builds before 3.32 that kept that default.
_SQLITE_CHUNK = 199
# On PostgreSQL up to this many entries go in as one multi-row INSERT, more by COPY: a transaction's few entries
# (an e-license retrieval writes two) cost a third of a COPY's round trips and driver calls that way.
_PG_INSERT_MAX = 32
_COPY = "COPY ledger_entry (event_type, actor_org_id, body, leaf_hash, leaf_key) FROM STDIN"
# Entries waiting for the integrator: on SQLite those above the largest integrated seq (seq order is commit order
# there), on PostgreSQL those in ledger_queue (models.Queued).
_PENDING_SELECTS = {
    "sqlite": "SELECT seq, leaf_hash FROM ledger_entry WHERE seq > (SELECT coalesce(max(seq), 0) FROM ledger_leaf) "
              "ORDER BY seq LIMIT ?",
    "postgresql": "SELECT e.seq, e.leaf_hash FROM ledger_queue q JOIN ledger_entry e ON e.seq = q.seq "
                  "ORDER BY q.seq LIMIT %s",
}
_Row = tuple[str, uuid.UUID | None, bytes, bytes, int]


def _leaf_key(leaf: bytes) -> int:
    return int.from_bytes(leaf[:8], "big", signed=True)


# The entry's "time" member, RFC 3339 with milliseconds as kit.time.rfc3339 writes it, built from a prefix formatted
# once per second: datetime.isoformat cost more than the rest of the body together. One tuple, swapped whole, so
# threads never see a prefix with another second's key.
_MILLISECONDS = tuple(f"{ms:03d}Z" for ms in range(1000))
_second: tuple[float, str] = (-1.0, "")


def _entry_time(now: dt.datetime) -> str:
    global _second
    key = now.timestamp() // 1
    second, prefix = _second
    if second != key:
        prefix = now.strftime("%Y-%m-%dT%H:%M:%S.")
        _second = (key, prefix)
    return prefix + _MILLISECONDS[now.microsecond // 1000]


_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"


def _insert_rows(connection: Connection, rows: list[_Row]) -> None:
    name = connection.dialect.name
    if name == "sqlite":
        # One multi-row INSERT per _SQLITE_CHUNK rows: an executemany runs the statement once per row, and each run
        # also updates sqlite_sequence (AUTOINCREMENT); 2.2 against 2.9 µs a row with its commit (bare sqlite3, 10^5
        # rows of 1,000 per transaction). The statement text depends only on the row count, so it is cached.
        for first in range(0, len(rows), _SQLITE_CHUNK):
            chunk = rows[first:first + _SQLITE_CHUNK]
            params: list = []
            for kind, actor, body, leaf, key in chunk:
                params += (kind, actor.hex if actor else None, body, leaf, key)
            connection.exec_driver_sql(multi_insert(_ENTRY_INSERT, name, 5, len(chunk)), tuple(params))
    elif len(rows) <= _PG_INSERT_MAX:  # PostgreSQL, the other database
        params = []
        for row in rows:
            params += row
        connection.exec_driver_sql(multi_insert(_ENTRY_INSERT, name, 5, len(rows)), tuple(params))
    else:
        # COPY streams the rows in one statement on the transaction's connection; executemany sent one INSERT each.
        cursor = connection.connection.cursor()
        try:
            with cursor.copy(_COPY) as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()


# 249 rows of 4 values, under SQLite's old limit of 999 bound parameters (see _SQLITE_CHUNK).
_SALT_CHUNK = 249
_salt_times: dict[str, Callable[[Any], Any]] = {}


def _salt_converter(dialect: Any) -> Callable[[Any], Any]:
    # created_at converted as the column's type converts it (UTCDateTime), once per dialect.
    convert = _salt_times.get(dialect.name)
    if convert is None:
        column_type = Salt.__table__.c.created_at.type
        convert = _salt_times.setdefault(dialect.name,
                                         column_type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v))
    return convert


def _salt_params(salts: list[dict[str, Any]], convert: Callable[[Any], Any]) -> tuple:
    return tuple(v for salt in salts
                 for v in (salt["commitment"], salt["kind"], salt["salt"], convert(salt["created_at"])))


def _insert_salts(connection: Connection, rows: list[dict[str, Any]]) -> None:
    # One multi-row INSERT per chunk, at the driver. On PostgreSQL the driver's executemany ran a pipeline that took
    # two more round trips and twice the driver's CPU for a request's two or three salts (65 against 31 µs for two
    # rows, psycopg 3.3 on loopback); SQLAlchemy compiles a multi-row insert() anew each time (no cache key), which
    # cost more than the insert. created_at is converted as the column's type converts it (UTCDateTime).
    name = connection.dialect.name
    convert = _salt_converter(connection.dialect)
    for first in range(0, len(rows), _SALT_CHUNK):
        chunk = rows[first:first + _SALT_CHUNK]
        connection.exec_driver_sql(multi_insert(_SALT_INSERT, name, 4, len(chunk)), _salt_params(chunk, convert))


def _insert_pending(session: Session) -> None:
    salts = session.info.pop(_SALTS, None)
    if salts:
        _insert_salts(session.connection(), salts)
    rows = session.info.pop(_PENDING, None)
    if rows:
        _insert_rows(session.connection(), rows)


def _with_staged_rows(session: Session, dialect: Any) -> list[tuple[str, str, int, int, list[Any]]]:
    # On PostgreSQL a transaction's few entries and salts go in with the rows staged by db.stage (an e-license
    # retrieval's access record, copy and attachment), in the same statement; more go by this module's own path.
    info = session.info
    salts, rows = info.get(_SALTS), info.get(_PENDING)
    if dialect.name != "postgresql" or (rows and len(rows) > _PG_INSERT_MAX) or (salts and len(salts) > _PG_INSERT_MAX):
        return []
    batches = []
    if salts:
        batches.append(("ledger_salt", _SALT_INSERT, 4, len(salts), _salt_params(salts, _salt_converter(dialect))))
        del info[_SALTS]
    if rows:
        batches.append(("ledger_entry", _ENTRY_INSERT, 5, len(rows), [v for row in rows for v in row]))
        del info[_PENDING]
    return batches


STAGE_COMPANIONS.append(_with_staged_rows)


@event.listens_for(Session, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    # The ORM flushes its own changes before a query (autoflush); pending entries follow the same rule, so any query
    # in the transaction, pending_count and integrate included, sees them.
    info = state.session.info
    if _PENDING in info or _SALTS in info:
        _insert_pending(state.session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if _PENDING in session.info or _SALTS in session.info:
        _insert_pending(session)


@event.listens_for(Session, "after_transaction_create")
def _before_savepoint(session: Session, transaction: SessionTransaction) -> None:
    # Entries recorded before a savepoint belong to the enclosing transaction: write them there, before the SAVEPOINT
    # is emitted, so rolling the savepoint back keeps them.
    if transaction.nested:
        if _SALTS in session.info:
            _insert_salts(transaction.parent.connection(None), session.info.pop(_SALTS))
        if _PENDING in session.info:
            _insert_rows(transaction.parent.connection(None), session.info.pop(_PENDING))


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # A rolled-back transaction takes its entries with it, as it does its business rows.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_SALTS, None)
        session.info.pop(_MADE, None)
    elif transaction.nested:
        # A savepoint rolled back may have taken salts with it: from here on, record() reads them back.
        session.info.pop(_MADE, None)


# Event types already validated (they are a few dozen constants in the services' code).
MAX_REMEMBERED_EVENT_TYPES = 1024
_valid_event_types: set[str] = set()


_KNOWN_SALTS = select(Salt.commitment).where(Salt.commitment.in_(bindparam("commitments", expanding=True)))


def record(
    session: Session,
    event_type: str,
    *,
    actor_org_id: uuid.UUID | None,
    digests: Mapping[str, str] | None = None,
    commitments: Mapping[str, str] | None = None,
    data: Mapping[str, Any] | None = None,
) -> Recorded:
    """Validate an event and store its pending ledger entry in the caller's transaction.

    Personal identifiers never go in clear: pass `commitments` made by commit(); data holding a
    resident ID number or a mobile number is refused. The entry is written with the caller's transaction and
    integrated into the log after it commits; the returned leaf hash finds it (entry_proof, receipts).
    """
    if event_type not in _valid_event_types:
        domain.validate_event_type(event_type)
        if len(_valid_event_types) < MAX_REMEMBERED_EVENT_TYPES:
            _valid_event_types.add(event_type)
    digests = domain.validate_digests(digests) if digests else {}
    commitments = domain.validate_commitments(commitments) if commitments else {}
    if actor_org_id is not None and not isinstance(actor_org_id, uuid.UUID):
        raise InvalidEntry("操作机构须为机构 id", "The actor must be an organisation id",
                           errors=[{"field": "actor_org_id", "code": "type"}])
    if type(data) is dict:
        data_bytes = domain.canonical_data(data)
    elif data is None:
        data_bytes = b"{}"
    elif isinstance(data, Mapping):
        data_bytes = domain.canonical_data(dict(data))
    else:
        raise InvalidEntry("数据须为对象", "Data must be an object", errors=[{"field": "data", "code": "type"}])
    if len(data_bytes) > domain.MAX_DATA_BYTES:
        raise InvalidEntry(f"数据规范化后不得超过{domain.MAX_DATA_BYTES}字节",
                           f"Data may take at most {domain.MAX_DATA_BYTES} bytes in canonical form",
                           errors=[{"field": "data", "code": "size"}])
    if commitments:
        # A commitment must come from commit(): a bare hash of an identifier could be reversed by trying every value.
        made = session.info.get(_MADE, ())
        others = {c for c in commitments.values() if c not in made}
        unknown = sorted(others - set(session.scalars(_KNOWN_SALTS, {"commitments": list(others)}))
                         if others else ())
        if unknown:
            raise InvalidEntry("承诺值须由 ledger.commit 生成且未被擦除",
                               "Commitments must come from ledger.commit and not be erased",
                               errors=[{"field": "commitments", "code": "unknown", "values": unknown}])
    now = dt.datetime.now(dt.UTC)
    body = domain.entry_bytes_v1(event_type=event_type, time=_entry_time(now),
                                 actor=str(actor_org_id) if actor_org_id else None, digests=digests,
                                 commitments=commitments, data=data_bytes)
    if len(body) > domain.MAX_ENTRY_BYTES:
        raise InvalidEntry(f"账本条目不得超过{domain.MAX_ENTRY_BYTES}字节",
                           f"A ledger entry may take at most {domain.MAX_ENTRY_BYTES} bytes",
                           errors=[{"field": "entry", "code": "size"}])
    # RFC 9162 §2.1.1 leaf hash, as merkle.leaf_hash computes it (body is already bytes: no copy).
    leaf = _sha256(_LEAF_PREFIX + body).digest()
    row = (event_type, actor_org_id, body, leaf, int.from_bytes(leaf[:8], "big", signed=True))
    _queue(session, _PENDING, row, _insert_rows)
    # tuple.__new__ skips the NamedTuple's Python-level __new__; the fields are those of Recorded, in order.
    return _new_tuple(Recorded, (body, leaf, event_type, actor_org_id, now))


_new_tuple = tuple.__new__


def _queue(session: Session, key: str, row: Any, write: Callable[[Connection, list], None]) -> None:
    """Queue a row (an entry or a salt) in the session for the one insert before its next statement or commit."""
    queued = session.info.get(key)
    if queued is not None:
        # A queue exists only in an open transaction outside any savepoint (see the session events above).
        queued.append(row)
    elif session.in_nested_transaction():
        # Inside a savepoint, write now so that rolling the savepoint back also removes the row.
        write(session.connection(), [row])
    else:
        if not session.in_transaction():
            # Begin as session.add() would, so that the row belongs to this transaction and leaves with its rollback.
            session.begin()
        session.info.setdefault(key, []).append(row)


def entry_bytes(entry: Entry | Recorded) -> bytes:
    """Return the exact bytes of an entry, the input to its RFC 9162 leaf hash."""
    return bytes(entry.body)


def pending(session: Session, limit: int = 256) -> list[Entry]:
    """List entries not yet integrated, in the order the integrator takes them, for the integrator."""
    if not 1 <= limit <= MAX_PENDING_BATCH:
        raise ValidationFailed(f"批量条数须在 1 到 {MAX_PENDING_BATCH} 之间",
                               f"limit must be between 1 and {MAX_PENDING_BATCH}")
    return list(session.scalars(select(Entry).where(_is_pending(session)).order_by(Entry.seq).limit(limit)))


def _is_pending(session: Session) -> Any:
    # The SQL condition of _PENDING_SELECTS, for ORM queries.
    if session.get_bind().dialect.name == "sqlite":
        return Entry.seq > select(func.coalesce(func.max(Leaf.seq), 0)).scalar_subquery()
    return Entry.seq.in_(select(Queued.seq))


def commit(session: Session, kind: str, value: str) -> str:
    """Return a fresh salted commitment "c1:<hex>" to a value, keeping its salt so the holder can open it later."""
    kind = domain.validate_kind(kind)
    if not isinstance(value, str) or not value:
        raise InvalidCommitment("承诺的值不能为空", "The committed value may not be empty",
                                errors=[{"field": "value", "code": "required"}])
    salt = secrets.token_bytes(domain.SALT_BYTES)
    commitment = domain.commitment_of(kind, salt, value)
    _queue(session, _SALTS, {"commitment": commitment, "kind": kind, "salt": salt, "created_at": utcnow()},
           _insert_salts)
    session.info.setdefault(_MADE, set()).add(commitment)
    return commitment


def salt_kept(commitment: Any) -> Any:
    """Return an SQL test that the salt of a commitment column is kept, for a caller's own query (see note_kept)."""
    return select(Salt.commitment).where(Salt.commitment == commitment).exists()


def note_kept(session: Session, commitment: str) -> None:
    """Tell record() that this transaction has read a commitment's salt as kept (salt_kept), sparing its look-up."""
    if domain.COMMITMENT_RE.match(commitment):
        session.info.setdefault(_MADE, set()).add(commitment)


def opening(session: Session, commitment: str) -> Opening | None:
    """Return the kind and salt that open a commitment, or None once its salt is erased."""
    row = session.get(Salt, commitment) if domain.COMMITMENT_RE.match(commitment) else None
    return Opening(row.commitment, row.kind, bytes(row.salt)) if row else None


def open_commitment(session: Session, commitment: str, value: str) -> bool:
    """Say whether a commitment hides value; False when its salt has been erased."""
    found = opening(session, commitment)
    if found is None:
        return False
    return domain.check_opening(commitment, kind=found.kind, salt=found.salt, value=value)


def erase_salts(session: Session, commitments: Iterable[str]) -> int:
    """Delete the salts of some commitments, leaving every entry intact; return how many were erased."""
    wanted = sorted(set(commitments))
    if not wanted:
        return 0
    session.info.pop(_MADE, None)
    result = session.execute(delete(Salt).where(Salt.commitment.in_(wanted)))
    session.flush()
    return result.rowcount


# ---------------------------------------------------------------------------------------------------------------------
# The log: integration into C2SP tiles and signed checkpoints (DESIGN §5; sequencing and integration kept apart)

LedgerInconsistent = problem("ledger-inconsistent", 503, "账本存储的数据前后不一致，已停止发布检查点",
                             "The ledger's stored data is inconsistent; no checkpoint is published")
LedgerMisconfigured = problem("ledger-misconfigured", 503, "账本配置有误", "The ledger is misconfigured")
NoCheckpoint = problem("ledger-no-checkpoint", 404, "账本尚未发布检查点", "The ledger has not published a checkpoint yet")
TileNotFound = problem("ledger-tile-not-found", 404, "账本中没有该瓦片", "The ledger has no such tile")
InvalidTilePath = problem("ledger-invalid-tile-path", 422, "瓦片路径无效", "The tile path is not valid")
InvalidProofRequest = problem("ledger-invalid-proof-request", 422, "证明请求的参数无效", "The proof request is not valid")
EntryNotFound = problem("ledger-entry-not-found", 404, "账本中没有该条目", "The ledger has no such entry")

MAX_INTEGRATE_BATCH = 1_000_000
INTEGRATE_EVERY = dt.timedelta(seconds=1)
SIGNER_FILE = "ledger.skey"
STATE_ID = 1


def log_origin() -> str:
    """Return the origin line of this deployment's checkpoints (setting ledger_origin)."""
    return get_settings().ledger_origin


_signers: dict[Path, note.Signer] = {}


def _signer_path() -> Path:
    return (get_settings().var_dir / "secrets" / SIGNER_FILE).resolve()


def log_signer() -> note.Signer:
    """Return the log's Ed25519 signer from var/secrets/ledger.skey, creating the key on first use."""
    path = _signer_path()
    signer = _signers.get(path)
    if signer is not None:
        return signer

    def generate() -> str:
        # C2SP tlog-checkpoint: the key name SHOULD be the origin. A later change of origin keeps the old key name.
        try:
            return note.generate_signer(log_origin())[1]
        except note.NoteError as exc:
            raise LedgerMisconfigured(f"账本来源名“{log_origin()}”不能作为签名密钥名：{exc}",
                                      f"The ledger origin {log_origin()!r} cannot name a signing key: {exc}") from exc

    try:
        signer = note.parse_skey(get_settings().secret_file(SIGNER_FILE, generate))
    except note.NoteError as exc:
        raise LedgerMisconfigured(f"签名密钥文件 {path} 无效：{exc}", f"The signing key file {path} is not valid: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        # A directory, a file without read permission, or bytes that are not UTF-8: the operator must fix the file.
        raise LedgerMisconfigured(f"无法读取签名密钥文件 {path}：{exc}", f"Cannot read the signing key file {path}: {exc}") from exc
    return _signers.setdefault(path, signer)


def log_vkey() -> str:
    """Return the C2SP verifier key of the log, for anyone who checks its checkpoints."""
    return log_signer().vkey


_TILE_SELECTS = {
    "sqlite": "SELECT data FROM ledger_tile WHERE level = ? AND idx = ?",
    "postgresql": "SELECT data FROM ledger_tile WHERE level = %s AND idx = %s",
}
_NEWEST_SIZE = "SELECT max(size) FROM ledger_checkpoint"


def _read_stored_tile(session: Session, level: int, idx: int) -> bytes:
    # On the DBAPI cursor of the session's connection: a proof reads a few tiles, and building and running each
    # SELECT through the ORM was most of its time (2.4 ms per inclusion proof at 10^5 entries, 0.5 ms after). Tiles
    # are only ever written with bulk statements, never as pending ORM objects, so there is nothing to flush first.
    connection = session.connection()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_TILE_SELECTS[connection.dialect.name], (level, idx))
        row = cursor.fetchone()
    finally:
        cursor.close()
    data = row[0] if row else None
    if data is None:
        raise merkle.InvalidTile(f"tile {level}/{idx} is missing")
    return bytes(data)


def tile_reader(session: Session, *, prefetch: Iterable[tuple[int, int]] = ()) -> merkle.TileCache:
    """Return a merkle TileReader over the stored tiles that reads each tile once, the prefetch ones in one statement."""
    read = merkle.TileCache(lambda level, idx: _read_stored_tile(session, level, idx))
    wanted = sorted(set(prefetch))
    if wanted:
        connection = session.connection()
        mark = PLACEHOLDERS[connection.dialect.name]
        where = " OR ".join([f"(level = {mark} AND idx = {mark})"] * len(wanted))
        cursor = connection.connection.cursor()
        try:
            # Only placeholders are joined into the text; the values are bound.
            cursor.execute(f"SELECT level, idx, data FROM ledger_tile WHERE {where}",  # noqa: S608
                           tuple(v for pair in wanted for v in pair))
            read.update({(level, idx): bytes(data) for level, idx, data in cursor.fetchall()})
        finally:
            cursor.close()
    return read


def _path_tiles(size: int, *positions: int) -> set[tuple[int, int]]:
    # The tiles holding the nodes above some leaf positions of a tree of this size, level by level: a proof for those
    # positions reads these (and the right edge's, position size - 1). A tile missed here is still read when needed.
    wanted = set()
    level, count = 0, size
    while count:
        for position in positions:
            # The tile the node above the position would be in, if that tile holds any hash at this size.
            idx = (position >> (merkle.TILE_HEIGHT * level)) // merkle.TILE_WIDTH
            if idx * merkle.TILE_WIDTH < count:
                wanted.add((level, idx))
        level, count = level + 1, count >> merkle.TILE_HEIGHT
    return wanted


def latest_checkpoint(session: Session) -> PublishedCheckpoint | None:
    """Return the newest (largest) checkpoint the log signed, or None before the first one."""
    return session.scalar(select(PublishedCheckpoint).order_by(PublishedCheckpoint.size.desc()).limit(1)
                          .execution_options(populate_existing=True))


def checkpoint_at(session: Session, size: int) -> PublishedCheckpoint | None:
    """Return the checkpoint the log signed at a tree size, if it signed one."""
    return session.get(PublishedCheckpoint, size, populate_existing=True)


def served_note(checkpoint: PublishedCheckpoint) -> bytes:
    """Return a checkpoint as served: the signed note with the witnesses' cosignature lines appended."""
    return (checkpoint.note + (checkpoint.cosignatures or "")).encode()


def current_checkpoint_note(session: Session) -> bytes:
    """Return the newest checkpoint as served, or raise NoCheckpoint."""
    checkpoint = latest_checkpoint(session)
    if checkpoint is None:
        raise NoCheckpoint("账本尚未发布检查点，请稍后再试", "No checkpoint has been published yet; try again shortly")
    return served_note(checkpoint)


def _lock_state(session: Session) -> LogState:
    # Invariant: every integration holds this row lock until it commits (SQLite's BEGIN IMMEDIATE already serialises
    # writers), so two integrators never read the same tree size.
    state = session.scalar(select(LogState).where(LogState.id == STATE_ID).with_for_update()
                           .execution_options(populate_existing=True))
    if state is None:
        raise LedgerInconsistent("账本状态行缺失（请运行 openzone db upgrade）",
                                 "The ledger state row is missing (run openzone db upgrade)")
    return state


def _check_state(state: LogState, latest: PublishedCheckpoint | None) -> None:
    if latest is None:
        if state.size != 0:
            raise LedgerInconsistent(f"账本状态记录了{state.size}个条目，但没有任何检查点",
                                     f"The ledger state holds {state.size} entries but no checkpoint exists")
        return
    if state.size != latest.size or bytes(state.root) != bytes(latest.root):
        raise LedgerInconsistent(f"账本状态（大小{state.size}）与最新检查点（大小{latest.size}）不符",
                                 f"The ledger state (size {state.size}) does not match the newest checkpoint "
                                 f"(size {latest.size})")


def _check_extends(latest: PublishedCheckpoint, size: int, root: bytes, read: merkle.TileReader) -> None:
    # Never sign a tree that does not extend the last signed one: prove it from the tiles, as a witness would.
    try:
        proof = merkle.consistency_proof(latest.size, size, read)
        merkle.verify_consistency(latest.size, size, proof, bytes(latest.root), root)
    except merkle.MerkleError as exc:
        raise LedgerInconsistent(f"新的树（大小{size}）与已签名的检查点（大小{latest.size}）不一致：{exc}",
                                 f"The new tree (size {size}) is not consistent with the signed checkpoint "
                                 f"(size {latest.size}): {exc}") from exc


def _tile_existed(size: int, level: int, idx: int) -> bool:
    # At tree size s, level l holds floor(s / 256^l) hashes; tile idx exists once it holds at least one of them.
    return size >> (merkle.TILE_HEIGHT * level) > idx * merkle.TILE_WIDTH


def _write_tiles(session: Session, old_size: int, tiles: Mapping[tuple[int, int], bytes]) -> None:
    inserts, updates = [], []
    for (level, idx), data in sorted(tiles.items()):
        row = {"level": level, "idx": idx, "width": len(data) // merkle.HASH_SIZE, "data": data}
        (updates if _tile_existed(old_size, level, idx) else inserts).append(row)
    if inserts:
        session.execute(insert(Tile), inserts)
    if updates:
        session.execute(update(Tile), updates)


def _expire_entries(session: Session) -> None:
    # Bulk inserts bypass the identity map: make loaded entries read their new index.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Entry):
            session.expire(obj, ["leaf_index"])


def _runs(seqs: list[int]) -> list[tuple[int, int, int]]:
    # (first seq, last seq, position in the batch) of each stretch of consecutive seq values. The seqs are distinct
    # and ascending (primary key, ORDER BY seq), so a span equal to the count means one stretch: the usual case.
    if seqs and seqs[-1] - seqs[0] == len(seqs) - 1:
        return [(seqs[0], seqs[-1], 0)]
    runs, start = [], 0
    for i in range(1, len(seqs) + 1):
        if i == len(seqs) or seqs[i] != seqs[i - 1] + 1:
            runs.append((seqs[start], seqs[i - 1], start))
            start = i
    return runs


_ASSIGN = ("INSERT INTO ledger_leaf (leaf_index, seq, leaf_key) SELECT seq + :offset, seq, leaf_key FROM ledger_entry "
           "WHERE seq >= :first AND seq <= :last")
_DEQUEUE = "DELETE FROM ledger_queue WHERE seq >= :first AND seq <= :last"


def _assign_indices(session: Session, seqs: list[int], old_size: int) -> None:
    # One INSERT … SELECT into ledger_leaf per stretch of consecutive seq values (usually the whole batch):
    # leaf_index = seq + offset. Each stretch was read pending in this transaction, which holds the state lock, so every
    # entry in it must still be; the unique seq and leaf_index of ledger_leaf refuse a second integration outright.
    connection = session.connection()
    queued = connection.dialect.name != "sqlite"
    for first, last, position in _runs(seqs):
        span = {"first": first, "last": last}
        done = connection.execute(text(_ASSIGN), {**span, "offset": old_size + position - first}).rowcount
        if queued and done == last - first + 1:
            done = connection.execute(text(_DEQUEUE), span).rowcount
        if done != last - first + 1:
            raise LedgerInconsistent(f"条目 {first}–{last} 在入账时已不再待处理",
                                     f"Entries {first} to {last} stopped being pending during integration")


def _batch_size(max_batch: int | None) -> int:
    max_batch = get_settings().ledger_batch_size if max_batch is None else max_batch
    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or not 1 <= max_batch <= MAX_INTEGRATE_BATCH:
        raise ValidationFailed(f"批量条数须在 1 到 {MAX_INTEGRATE_BATCH} 之间",
                               f"max_batch must be between 1 and {MAX_INTEGRATE_BATCH}")
    return max_batch


def _read_pending(session: Session, max_batch: int) -> list[tuple[int, bytes]]:
    # On the DBAPI cursor of the transaction's connection: SQLAlchemy's Row objects cost more than the SELECT itself.
    connection = session.connection()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_PENDING_SELECTS[connection.dialect.name], (max_batch,))
        return cursor.fetchall()
    finally:
        cursor.close()


def _extend(read: merkle.TileCache, old_size: int, leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    # The tiles that appending the leaves changes. Both drivers return bytes for BLOB/bytea; append_leaves checks
    # every hash's type and length.
    try:
        return merkle.append_leaves(old_size, leaves, read)
    except merkle.MerkleError as exc:
        raise LedgerInconsistent(f"无法从存储的瓦片计算新的树：{exc}",
                                 f"The new tree cannot be computed from the stored tiles: {exc}") from exc


@dataclass(frozen=True)
class Plan:
    """Hold a batch worked out without the log's lock: the tree it extends, its entries, and the tiles after.

    integrate() takes it only if the log still has that size and root once locked; otherwise it works the batch out
    again. A plan never leaves the process that made it, and its new leaf hashes are taken as read from the entries;
    the rest is checked as without a plan: the entries must still be pending, the root is recomputed from the tiles,
    and the new tree must extend the newest checkpoint.
    """

    old_size: int
    old_root: bytes
    seqs: list[int]
    changed: dict[tuple[int, int], bytes]


def plan(session: Session, *, max_batch: int | None = None) -> Plan | None:
    """Work out the next batch in a read-only transaction: read the pending entries and tiles, hash; None if idle.

    On SQLite a session whose connection only reads (db.READ_ONLY) does this beside the writers, so the integrator
    then holds the write lock only to store the result (see plan_and_integrate).
    """
    max_batch = _batch_size(max_batch)
    state = session.scalar(select(LogState).where(LogState.id == STATE_ID).execution_options(populate_existing=True))
    if state is None:
        return None
    rows = _read_pending(session, max_batch)
    if not rows:
        return None
    changed = _extend(tile_reader(session), state.size, [leaf for _, leaf in rows])
    return Plan(state.size, bytes(state.root), [seq for seq, _ in rows], changed)


def plan_and_integrate(max_batch: int | None = None) -> tuple[int, int]:
    """Integrate one batch in two transactions, plan() reading beside the writers and then integrate() with the plan;
    return how many entries were integrated and the tree size after.

    This is what `openzone ledger integrate` runs. On SQLite every write transaction holds the database's single
    write lock, and hashing a batch inside it made the writers wait for it (docs/performance.md, 2026-11-29 night).
    """
    max_batch = _batch_size(max_batch)
    with Session(get_engine().execution_options(**{READ_ONLY: True})) as session, session.begin():
        planned = plan(session, max_batch=max_batch)
        latest = latest_checkpoint(session) if planned is None else None
        state = session.get(LogState, STATE_ID) if latest is not None else None
        if state is not None and (state.size, bytes(state.root)) == (latest.size, bytes(latest.root)):
            # Idle: nothing to write, so no write lock either. The first run on an empty log (it signs size 0) and a
            # state that disagrees with the newest checkpoint (integrate refuses it) go on to integrate().
            return 0, latest.size
    with transaction() as session:
        count = integrate(session, max_batch=max_batch, planned=planned)
        return count, tree_size(session)


def integrate(session: Session, *, max_batch: int | None = None, planned: Plan | None = None) -> int:
    """Sequence up to max_batch pending entries, update the tiles and sign a checkpoint; return how many were integrated.

    Everything happens in the caller's transaction: if it does not commit, no index, tile or checkpoint exists, and
    the next run integrates the same entries again. The first run on an empty log signs the size-0 checkpoint. A
    plan() made earlier is used if the log has not grown since; otherwise the batch is read and hashed here.
    """
    max_batch = _batch_size(max_batch)
    state = _lock_state(session)
    latest = latest_checkpoint(session)
    _check_state(state, latest)
    old_size = state.size
    read = tile_reader(session)
    if (planned is not None and planned.old_size == old_size and planned.old_root == bytes(state.root)
            and len(planned.seqs) <= max_batch):
        # Since the plan, no integration committed (each one grows the size, and this transaction holds the lock):
        # the tiles it read are still the stored ones and its entries still pending (_assign_indices checks).
        seqs, changed = planned.seqs, planned.changed
    else:
        rows = _read_pending(session, max_batch)
        if not rows and latest is not None:
            return 0
        seqs = [seq for seq, _ in rows]
        changed = _extend(read, old_size, [leaf for _, leaf in rows])
    new_size = old_size + len(seqs)
    read.update(changed)
    try:
        root = merkle.tree_root(new_size, read)
    except merkle.MerkleError as exc:
        raise LedgerInconsistent(f"无法从存储的瓦片计算新的树：{exc}",
                                 f"The new tree cannot be computed from the stored tiles: {exc}") from exc
    if latest is not None:
        _check_extends(latest, new_size, root, read)
    now = utcnow()
    if seqs:
        _assign_indices(session, seqs, old_size)
        _write_tiles(session, old_size, changed)
    body = note.Checkpoint(log_origin(), new_size, root).body()
    signed = note.sign_note(body, [log_signer()])
    session.add(PublishedCheckpoint(size=new_size, root=root, body=body.decode(), note=signed.decode(),
                                    cosignatures="", final=False, created_at=now))
    state.size, state.root, state.updated_at = new_size, root, now
    session.flush()
    _expire_entries(session)
    return len(seqs)


@jobs.handler("ledger.integrate", every=INTEGRATE_EVERY, calls_out=True)
def _integrate_job(transaction: Callable, payload: dict) -> None:
    # Outside the job's own transaction, as `openzone ledger integrate` runs: the batch is planned (read and hashed)
    # beside the writers and stored in a short write transaction, so SQLite's write lock is not held while hashing.
    # Run twice, it integrates nothing twice: the second run finds no entry pending.
    plan_and_integrate()


def pending_count(session: Session) -> int:
    """Count the entries waiting for the integrator."""
    return session.scalar(select(func.count()).select_from(Entry).where(_is_pending(session))) or 0


def tree_size(session: Session) -> int:
    """Return the size of the newest signed checkpoint (0 before the first one)."""
    # On the DBAPI cursor, as tiles are read (the ORM statement was half of a proof's time once tiles were fast).
    # integrate() flushes the checkpoint it adds, so nothing pending can be missed.
    connection = session.connection()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_NEWEST_SIZE)
        row = cursor.fetchone()
    finally:
        cursor.close()
    return int(row[0]) if row and row[0] is not None else 0


def read_tile(session: Session, level: int, idx: int) -> bytes:
    """Return the current bytes of hash tile (level, idx), full or partial, or raise TileNotFound."""
    try:
        return _read_stored_tile(session, level, idx)
    except merkle.InvalidTile:
        raise TileNotFound(f"第{level}层没有编号为{idx}的瓦片", f"There is no tile {idx} at level {level}") from None


def entries_in(session: Session, start: int, count: int) -> list[bytes]:
    """Return the bytes of the integrated entries with indices start .. start+count-1, in index order."""
    bodies = session.scalars(select(Entry.body).join(Leaf, Leaf.seq == Entry.seq)
                             .where(Leaf.leaf_index >= start, Leaf.leaf_index < start + count)
                             .order_by(Leaf.leaf_index)).all()
    if len(bodies) != count:
        raise LedgerInconsistent(f"索引{start}起的{count}个条目不全（只找到{len(bodies)}个）",
                                 f"Entries {start} to {start + count - 1} are incomplete (found {len(bodies)})")
    return [bytes(b) for b in bodies]


def _partial_was_signed(session: Session, level: int, idx: int, width: int) -> bool:
    # tlog-tiles: the partial tile of width W at level l exists for the sizes s with floor(s / 256^l) = idx*256 + W.
    shift = merkle.TILE_HEIGHT * max(level, 0)
    low = (idx * merkle.TILE_WIDTH + width) << shift
    high = (idx * merkle.TILE_WIDTH + width + 1) << shift
    found = session.scalar(select(PublishedCheckpoint.size).where(PublishedCheckpoint.size >= low,
                                                                  PublishedCheckpoint.size < high).limit(1))
    return found is not None


@dataclass(frozen=True)
class TileData:
    """Hold the bytes served at one C2SP tile path, and whether they can never change (a full tile)."""

    level: int
    idx: int
    width: int
    data: bytes

    @property
    def full(self) -> bool:
        """Say whether this is a full (immutable) tile or bundle."""
        return self.width == merkle.TILE_WIDTH


def tile_at(session: Session, path: str) -> TileData:
    """Return the hash tile or entry bundle at a C2SP path "tile/..." for a tree size the log signed."""
    try:
        level, idx, width = merkle.parse_tile_path(path)
    except merkle.MerkleError as exc:
        raise InvalidTilePath(f"“{path}”不是有效的瓦片路径", f"{path!r} is not a valid tile path: {exc}") from None
    size = tree_size(session)
    shift = merkle.TILE_HEIGHT * max(level, 0)
    first = idx * merkle.TILE_WIDTH
    # Compare before querying: an index from the path may exceed any integer the database stores.
    if (first + width) << shift > size or (width < merkle.TILE_WIDTH and not _partial_was_signed(session, level, idx, width)):
        raise TileNotFound(f"当前树（大小{size}）中没有瓦片 {path}", f"The tree of size {size} has no tile {path}")
    if level == merkle.ENTRIES_LEVEL:
        return TileData(level, idx, width, merkle.entry_bundle(entries_in(session, first, width)))
    data = read_tile(session, level, idx)
    if len(data) < width * merkle.HASH_SIZE:
        raise LedgerInconsistent(f"瓦片 {level}/{idx} 比已签名的树短", f"Tile {level}/{idx} is shorter than a signed tree")
    return TileData(level, idx, width, data[:width * merkle.HASH_SIZE])


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    """Return the RFC 9162 inclusion proof of entry index in the tree of the given size (at most the newest checkpoint)."""
    current = tree_size(session)
    if not (_is_count(index) and _is_count(size) and index < size <= current):
        raise InvalidProofRequest(f"须满足 0 ≤ index < size ≤ {current}（当前检查点大小）",
                                  f"index and size must satisfy 0 <= index < size <= {current} (the newest checkpoint)")
    try:
        # One statement for the tiles on the leaf's path and the right edge: on PostgreSQL each read is a round trip.
        return merkle.inclusion_proof(index, size, tile_reader(session, prefetch=_path_tiles(size, index, size - 1)))
    except merkle.MerkleError as exc:
        raise LedgerInconsistent(f"无法从瓦片计算证明：{exc}", f"The proof cannot be computed from the tiles: {exc}") from exc


def consistency_proof(session: Session, old: int, new: int) -> list[bytes]:
    """Return the RFC 9162 consistency proof between two tree sizes (empty when old is 0 or equals new)."""
    current = tree_size(session)
    if not (_is_count(old) and _is_count(new) and old <= new <= current):
        raise InvalidProofRequest(f"须满足 0 ≤ old ≤ new ≤ {current}（当前检查点大小）",
                                  f"old and new must satisfy 0 <= old <= new <= {current} (the newest checkpoint)")
    try:
        edges = _path_tiles(new, old - 1, old, new - 1) if 0 < old < new else ()
        return merkle.consistency_proof(old, new, tile_reader(session, prefetch=edges))
    except merkle.MerkleError as exc:
        raise LedgerInconsistent(f"无法从瓦片计算证明：{exc}", f"The proof cannot be computed from the tiles: {exc}") from exc


def entry_by_leaf_hash(session: Session, leaf_hash: bytes) -> Entry | None:
    """Return the integrated entry with this RFC 9162 leaf hash (the first, should two entries be equal), or None."""
    if not isinstance(leaf_hash, bytes) or len(leaf_hash) != merkle.HASH_SIZE:
        return None
    # The leaf-key index first, then each entry by its primary key: joined in one statement, PostgreSQL walked
    # ledger_leaf in index order (with ORDER BY … LIMIT 1) or scanned it whole (without) until autovacuum had
    # analysed a freshly filled table, 9–39 ms a receipt at 10^6 entries. The key finds one row, or a few for
    # entries with equal bytes (or keys).
    for _, seq in sorted(session.execute(select(Leaf.leaf_index, Leaf.seq)
                                         .where(Leaf.leaf_key == _leaf_key(leaf_hash))).all()):
        entry = session.get(Entry, seq)
        if entry is not None and bytes(entry.leaf_hash) == leaf_hash:
            return entry
    return None


def integrated_leaves(session: Session, leaf_hashes: Iterable[bytes | None]) -> set[bytes]:
    """Return which of these RFC 9162 leaf hashes belong to integrated entries (the ones a receipt exists for).

    None (a record without an entry) and anything not 32 bytes long are skipped.
    """
    wanted = {bytes(h) for h in leaf_hashes if h is not None and len(h) == merkle.HASH_SIZE}
    if not wanted:
        return set()
    rows = session.scalars(select(Entry.leaf_hash).join(Leaf, Leaf.seq == Entry.seq)
                           .where(Leaf.leaf_key.in_({_leaf_key(h) for h in wanted})))
    return {bytes(h) for h in rows} & wanted


def entry_at(session: Session, index: int) -> Entry | None:
    """Return the entry at a leaf index, or None when no entry has it yet."""
    return session.scalar(select(Entry).join(Leaf, Leaf.seq == Entry.seq).where(Leaf.leaf_index == index))


@dataclass(frozen=True)
class EntryProof:
    """Tie an integrated entry to the newest checkpoint: its index, the inclusion proof and the checkpoint."""

    entry: Entry
    index: int
    leaf_hash: bytes
    proof: list[bytes]
    checkpoint: PublishedCheckpoint

    @property
    def size(self) -> int:
        """Return the tree size of the checkpoint the proof leads to."""
        return self.checkpoint.size


def entry_proof(session: Session, leaf_hash: bytes) -> EntryProof:
    """Return the entry with a leaf hash and its inclusion proof to the newest checkpoint, or raise EntryNotFound."""
    entry = entry_by_leaf_hash(session, leaf_hash)
    checkpoint = latest_checkpoint(session)
    if entry is None or checkpoint is None or entry.leaf_index >= checkpoint.size:
        raise EntryNotFound("没有叶哈希为此值的已入账条目（刚记录的条目要等下一个检查点）",
                            "No integrated entry has this leaf hash (a new entry waits for the next checkpoint)")
    proof = inclusion_proof(session, entry.leaf_index, checkpoint.size)
    return EntryProof(entry, entry.leaf_index, bytes(entry.leaf_hash), proof, checkpoint)


# ---------------------------------------------------------------------------------------------------------------------
# Export and audit: many short transactions over a fixed signed size, so SQLite writers are not held up. Safe because
# below a signed size nothing changes: entries keep their index, full tiles are never rewritten and partial tiles
# only grow, so a prefix of the stored bytes is the tile at that size.

Transaction = Callable[[], AbstractContextManager[Session]]
EXPORT_CHUNK_TILES = 64


def _signed_partials(sizes: Iterable[int], final_size: int) -> set[tuple[int, int, int]]:
    # Partial tiles of every signed size whose tile is still partial at the final size (tlog-tiles lets a log drop a
    # partial tile once the full one exists: clients then take a prefix of the full tile).
    wanted = set()
    for size in sizes:
        level, count = 0, size
        while count:
            idx, width = divmod(count, merkle.TILE_WIDTH)
            if width and not _tile_full_at(final_size, level, idx):
                wanted.add((level, idx, width))
            level, count = level + 1, count >> merkle.TILE_HEIGHT
    return wanted


def _tile_full_at(size: int, level: int, idx: int) -> bool:
    return size >> (merkle.TILE_HEIGHT * level) >= (idx + 1) * merkle.TILE_WIDTH


def export_paths(transaction: Transaction) -> tuple[bytes, list[tuple[int, int, int]]]:
    """Return the newest served checkpoint and every (level, idx, width) to export, level -1 being entry bundles."""
    with transaction() as session:
        checkpoint = latest_checkpoint(session)
        if checkpoint is None:
            raise NoCheckpoint("账本尚未发布检查点，没有可导出的内容", "No checkpoint has been published; nothing to export")
        size, served = checkpoint.size, served_note(checkpoint)
        sizes = session.scalars(select(PublishedCheckpoint.size).where(PublishedCheckpoint.size <= size)).all()
    tiles = [t for t in merkle.tile_widths(size) if t[2] == merkle.TILE_WIDTH]
    partials = _signed_partials(sizes, size)
    tiles += sorted(partials)
    bundles = [(merkle.ENTRIES_LEVEL, idx, width) for level, idx, width in tiles if level == 0]
    return served, tiles + bundles


def export_tiles(transaction: Transaction, directory: Path, *,
                 progress: Callable[[int, int], None] | None = None) -> int:
    """Write the newest checkpoint, its tiles and entry bundles as static files at their C2SP paths; return the file count."""
    served, items = export_paths(transaction)
    directory = Path(directory)
    done = 0
    for start in range(0, len(items), EXPORT_CHUNK_TILES):
        with transaction() as session:
            for level, idx, width in items[start:start + EXPORT_CHUNK_TILES]:
                if level == merkle.ENTRIES_LEVEL:
                    data = merkle.entry_bundle(entries_in(session, idx * merkle.TILE_WIDTH, width))
                else:
                    data = read_tile(session, level, idx)[:width * merkle.HASH_SIZE]
                _write_file(directory / merkle.tile_path(level, idx, width), data)
                done += 1
        if progress:
            progress(done, len(items))
    # The checkpoint last: a mirror never names a tree whose tiles it does not hold yet.
    _write_file(directory / "checkpoint", served)
    return done + 1


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


@dataclass
class AuditReport:
    """Say what the audit compared and every difference it found between the entries and the stored log."""

    size: int = 0
    pending: int = 0
    entries: int = 0
    tiles: int = 0
    checkpoints: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Say whether the stored log matches a recomputation from its entries."""
        return not self.differences

    def differ(self, message: str) -> None:
        """Record one difference (the report keeps the first thousand)."""
        if len(self.differences) < 1000:
            self.differences.append(message)


class _Recompute:
    """Rebuild the tree leaf by leaf as a stack of perfect subtrees, collecting the hashes of every tile level."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []
        self.rows: list[list[bytes]] = []  # rows[l]: hashes of the current (not yet full) tile at level l
        self.done: list[tuple[int, int, bytes]] = []  # full tiles completed since the last take
        self.count: list[int] = []  # full tiles completed so far at each level

    def _emit(self, level: int, value: bytes) -> None:
        while len(self.rows) <= level:
            self.rows.append([])
            self.count.append(0)
        self.rows[level].append(value)
        if len(self.rows[level]) == merkle.TILE_WIDTH:
            self.done.append((level, self.count[level], b"".join(self.rows[level])))
            self.rows[level] = []
            self.count[level] += 1

    def push(self, leaf: bytes) -> None:
        """Append the next leaf hash, merging equal-height subtrees."""
        self.stack.append((0, leaf))
        self._emit(0, leaf)
        while len(self.stack) >= 2 and self.stack[-1][0] == self.stack[-2][0]:
            height, right = self.stack.pop()
            _, left = self.stack.pop()
            node = merkle.node_hash(left, right)
            self.stack.append((height + 1, node))
            # A perfect subtree of height 8l is the root of a full level-(l-1) tile: a hash of a level-l tile.
            if (height + 1) % merkle.TILE_HEIGHT == 0:
                self._emit((height + 1) // merkle.TILE_HEIGHT, node)

    def root(self) -> bytes:
        """Return MTH of the leaves pushed so far."""
        # RFC 9162 §2.1.1 splits off the largest power of two first, so MTH folds the perfect subtrees from the right.
        if not self.stack:
            return merkle.EMPTY_ROOT
        root = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            root = merkle.node_hash(left, root)
        return root

    def take(self) -> list[tuple[int, int, bytes]]:
        """Return and forget the full tiles completed since the last call."""
        done, self.done = self.done, []
        return done


def _compare_tiles(session: Session, report: AuditReport, computed: list[tuple[int, int, bytes]]) -> None:
    by_level: dict[int, dict[int, bytes]] = {}
    for level, idx, data in computed:
        by_level.setdefault(level, {})[idx] = data
    for level, tiles in by_level.items():
        stored = dict(session.execute(select(Tile.idx, Tile.data).where(
            Tile.level == level, Tile.idx >= min(tiles), Tile.idx <= max(tiles))).all())
        for idx, data in tiles.items():
            report.tiles += 1
            found = stored.get(idx)
            if found is None:
                report.differ(f"tile {level}/{idx}: missing")
            elif bytes(found) != data:
                report.differ(f"tile {level}/{idx}: stored bytes differ from the entries "
                              f"(first difference at hash {_first_difference(bytes(found), data)})")


def _first_difference(a: bytes, b: bytes) -> int:
    for i in range(0, max(len(a), len(b)), merkle.HASH_SIZE):
        if a[i:i + merkle.HASH_SIZE] != b[i:i + merkle.HASH_SIZE]:
            return i // merkle.HASH_SIZE
    return -1


def _check_checkpoint(report: AuditReport, row: tuple[int, bytes, str, str], root: bytes,
                      verifier: note.Verifier) -> None:
    size, stored_root, body, signed = row
    report.checkpoints += 1
    if bytes(stored_root) != root:
        report.differ(f"checkpoint {size}: stored root {bytes(stored_root).hex()} differs from the entries' {root.hex()}")
    try:
        parsed = note.parse_checkpoint(body.encode())
        opened = note.open_note(signed.encode(), [verifier])
    except note.NoteError as exc:
        report.differ(f"checkpoint {size}: the signed note does not verify with the log key: {exc}")
        return
    if opened.text != body.encode() or parsed.size != size or parsed.root != root:
        report.differ(f"checkpoint {size}: the signed body does not state size {size} and the entries' root")


def audit(transaction: Transaction, *, chunk: int = 4096,
          progress: Callable[[int, int], None] | None = None) -> AuditReport:
    """Recompute the whole tree from ledger_entry and compare entries, tiles, every checkpoint and the state with it."""
    report = AuditReport()
    verifier = log_signer().verifier()
    with transaction() as session:
        latest = latest_checkpoint(session)
        size = latest.size if latest else 0
        state = session.get(LogState, STATE_ID, populate_existing=True)
        report.pending = pending_count(session)
        beyond = session.scalar(select(func.count()).select_from(Leaf).where(Leaf.leaf_index >= size)) or 0
        if beyond:
            report.differ(f"{beyond} entries carry an index at or beyond the newest checkpoint's size {size}")
        extra = session.scalar(select(func.count()).select_from(Tile)) or 0
        checkpoints = list(session.execute(select(PublishedCheckpoint.size, PublishedCheckpoint.root,
                                                  PublishedCheckpoint.body, PublishedCheckpoint.note)
                                           .order_by(PublishedCheckpoint.size)).tuples())
    report.size = size
    tree = _Recompute()
    position = 0
    pending_checkpoints = iter(checkpoints)
    next_checkpoint = next(pending_checkpoints, None)
    while next_checkpoint is not None and next_checkpoint[0] == 0:
        _check_checkpoint(report, next_checkpoint, tree.root(), verifier)
        next_checkpoint = next(pending_checkpoints, None)
    while position < size:
        with transaction() as session:
            rows = session.execute(select(Leaf.leaf_index, Entry.body, Leaf.leaf_key, Entry.leaf_hash)
                                   .join(Entry, Entry.seq == Leaf.seq)
                                   .where(Leaf.leaf_index >= position, Leaf.leaf_index < position + chunk)
                                   .order_by(Leaf.leaf_index)).all()
            for index, body, leaf_key, stored_leaf in rows:
                if index != position:
                    report.differ(f"entries {position} to {index - 1}: missing (no entry has these indices)")
                    report.size = position
                    return report
                body = bytes(body)
                leaf = merkle.leaf_hash(body)
                report.entries += 1
                if bytes(stored_leaf) != leaf or leaf_key != _leaf_key(leaf):
                    report.differ(f"entry {index}: stored leaf hash differs from the hash of its body")
                tree.push(leaf)
                position += 1
                while next_checkpoint is not None and next_checkpoint[0] == position:
                    _check_checkpoint(report, next_checkpoint, tree.root(), verifier)
                    next_checkpoint = next(pending_checkpoints, None)
            if not rows:
                report.differ(f"entries {position} to {size - 1}: missing (no entry has these indices)")
                report.size = position
                return report
            _compare_tiles(session, report, tree.take())
        if progress:
            progress(position, size)
    with transaction() as session:
        for level, row in enumerate(tree.rows):
            if row:
                stored = session.execute(select(Tile.data).where(Tile.level == level, Tile.idx == tree.count[level])
                                         ).scalar_one_or_none()
                report.tiles += 1
                if stored is None:
                    report.differ(f"tile {level}/{tree.count[level]}: missing")
                elif bytes(stored)[:len(row) * merkle.HASH_SIZE] != b"".join(row) or len(stored) != len(row) * merkle.HASH_SIZE:
                    report.differ(f"tile {level}/{tree.count[level]}: stored bytes differ from the entries")
    if extra != report.tiles:
        report.differ(f"the database holds {extra} tiles; a tree of size {size} has {report.tiles}")
    root = tree.root()
    if state is None or state.size != size or bytes(state.root) != root:
        report.differ(f"the integrator state does not hold size {size} and the entries' root")
    if next_checkpoint is not None:
        report.differ(f"checkpoint {next_checkpoint[0]}: beyond the entries")
    return report
