"""Integration into the signed, tiled log: indices, tiles, checkpoints and proofs on a real database."""

from __future__ import annotations

import itertools
import os
import random
import stat
from contextlib import contextmanager, nullcontext

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core import jobs, ledger
from openzone.core.jobs.models import Job
from openzone.core.ledger import merkle, note
from openzone.core.ledger.models import Entry, Leaf, LogState, PublishedCheckpoint, Tile
from openzone.db import get_engine, transaction
from openzone.kit.errors import ValidationFailed
from tests import helpers
from tests.core.ledger import scratch


def drain(session: Session) -> ledger.PublishedCheckpoint:
    """Integrate every pending entry (other tests may have committed some) and return the newest checkpoint."""
    while ledger.integrate(session):
        pass
    return ledger.latest_checkpoint(session)


def record(session: Session, count: int, event_type: str = "test.integrated") -> list[ledger.Recorded]:
    return [ledger.record(session, event_type, actor_org_id=None, data={"i": i}) for i in range(count)]


def verifier() -> note.Verifier:
    return note.parse_vkey(ledger.log_vkey())


def all_leaves(session: Session) -> list[bytes]:
    bodies = session.scalars(select(Entry.body).where(Entry.leaf_index.is_not(None)).order_by(Entry.leaf_index)).all()
    return [merkle.leaf_hash(bytes(b)) for b in bodies]


def test_integrate_sequences_pending_entries_and_signs_a_checkpoint(session):
    before = drain(session)
    recorded = record(session, 5)
    assert ledger.integrate(session) == 5
    entries = [ledger.entry_by_leaf_hash(session, r.leaf_hash) for r in recorded]
    assert [e.leaf_index for e in entries] == list(range(before.size, before.size + 5))
    assert all(e.leaf_hash == merkle.leaf_hash(ledger.entry_bytes(e)) for e in entries)
    checkpoint = ledger.latest_checkpoint(session)
    assert checkpoint.size == before.size + 5 and checkpoint.cosignatures == "" and checkpoint.final is False
    opened = note.open_note(checkpoint.note.encode(), [verifier()])
    parsed = note.parse_checkpoint(opened.text)
    assert opened.text.decode() == checkpoint.body
    assert (parsed.origin, parsed.size, parsed.root) == (get_settings().ledger_origin, checkpoint.size, checkpoint.root)
    assert bytes(checkpoint.root) == merkle.root_from_leaves(all_leaves(session))
    state = session.get(LogState, 1)
    assert (state.size, bytes(state.root)) == (checkpoint.size, bytes(checkpoint.root))
    # Nothing pending: no new checkpoint.
    assert ledger.integrate(session) == 0
    assert ledger.latest_checkpoint(session).size == checkpoint.size


def test_batches_respect_max_batch_keep_recording_order_and_stay_consistent(session):
    start = drain(session).size
    recorded = record(session, 7)
    assert [ledger.integrate(session, max_batch=3) for _ in range(4)] == [3, 3, 1, 0]
    entries = [ledger.entry_by_leaf_hash(session, r.leaf_hash) for r in recorded]
    assert [e.leaf_index for e in entries] == list(range(start, start + 7))
    sizes = [start, start + 3, start + 6, start + 7]
    signed = {s: ledger.checkpoint_at(session, s) for s in sizes}
    assert all(signed.values())
    for old, new in itertools.pairwise(sizes):
        proof = ledger.consistency_proof(session, old, new)
        merkle.verify_consistency(old, new, proof, bytes(signed[old].root), bytes(signed[new].root))


def test_max_batch_must_be_sensible(session):
    for bad in (0, -1, ledger.service.MAX_INTEGRATE_BATCH + 1, True):
        with pytest.raises(ValidationFailed):
            ledger.integrate(session, max_batch=bad)


def test_the_first_run_on_an_empty_log_signs_the_empty_tree():
    with scratch.scratch_database() as url:
        with transaction(url) as session:
            with pytest.raises(ledger.NoCheckpoint):
                ledger.current_checkpoint_note(session)
            assert ledger.integrate(session) == 0
        with transaction(url) as session:
            checkpoint = ledger.latest_checkpoint(session)
            assert checkpoint.size == 0 and bytes(checkpoint.root) == merkle.EMPTY_ROOT
            note.open_note(ledger.current_checkpoint_note(session), [verifier()])
            assert ledger.integrate(session) == 0
            with pytest.raises(ledger.TileNotFound):
                ledger.tile_at(session, "tile/0/000.p/1")


def test_proofs_from_the_tiles_verify_against_every_signed_root(session):
    drain(session)
    record(session, 300)
    for _ in range(3):
        ledger.integrate(session, max_batch=100)
    checkpoints = session.scalars(select(PublishedCheckpoint).where(PublishedCheckpoint.size > 0)
                                  .order_by(PublishedCheckpoint.size.desc()).limit(6)).all()
    for checkpoint in checkpoints:
        size, root = checkpoint.size, bytes(checkpoint.root)
        for index in {0, size // 2, size - 1}:
            leaf = bytes(ledger.entry_at(session, index).leaf_hash)
            merkle.verify_inclusion(leaf, index, size, ledger.inclusion_proof(session, index, size), root)
        for older in checkpoints:
            if older.size <= size:
                proof = ledger.consistency_proof(session, older.size, size)
                merkle.verify_consistency(older.size, size, proof, bytes(older.root), root)
    assert ledger.consistency_proof(session, 0, checkpoints[0].size) == []


@pytest.mark.parametrize(("kind", "a", "b"), [
    ("inclusion", 0, 0), ("inclusion", 5, 5), ("inclusion", -1, 3), ("inclusion", 0, 10**12),
    ("consistency", 3, 2), ("consistency", -1, 2), ("consistency", 1, 10**12),
])
def test_proof_parameters_outside_the_tree_are_refused(session, kind, a, b):
    drain(session)
    with pytest.raises(ledger.InvalidProofRequest) as err:
        getattr(ledger, f"{kind}_proof")(session, a, b)
    assert err.value.status == 422 and err.value.detail and err.value.detail_en


def test_tiles_are_served_at_their_c2sp_paths_only_for_signed_sizes(session):
    size = drain(session).size
    # Reach a size of 10 past a tile boundary, signed, then sign 5 more: partial widths 10 and 15 exist, 12 never did.
    record(session, (10 - size) % 256)
    drain(session)
    record(session, 5)
    size = drain(session).size
    idx = size // 256
    assert size % 256 == 15
    leaves = all_leaves(session)
    for width in (10, 15):
        found = ledger.tile_at(session, merkle.tile_path(0, idx, width))
        assert found.data == b"".join(leaves[idx * 256:idx * 256 + width]) and not found.full
        bundle = ledger.tile_at(session, merkle.tile_path(-1, idx, width))
        assert [merkle.leaf_hash(e) for e in merkle.parse_entry_bundle(bundle.data)] == leaves[idx * 256:idx * 256 + width]
    for missing in (merkle.tile_path(0, idx, 12), merkle.tile_path(0, idx, 16), merkle.tile_path(0, idx),
                    merkle.tile_path(-1, idx, 12), "tile/9/000", "tile/0/x018/x446/x744/x073/x709/x551/615"):
        with pytest.raises(ledger.TileNotFound):
            ledger.tile_at(session, missing)
    if idx:
        full = ledger.tile_at(session, "tile/0/000")
        assert full.full and full.data == b"".join(leaves[:256])
        assert ledger.read_tile(session, 0, 0) == full.data
    # The last is past uint64: eight groups of digits.
    for bad in ("tile/0/0", "tile/0/000.p/0", "tile/0/000.p/256", "tile/64/000", "tile/00/000", "tiles/0/000", "tile/x/000",
                "tile/0/x999/x999/x999/x999/x999/x999/x999/999"):
        with pytest.raises(ledger.InvalidTilePath):
            ledger.tile_at(session, bad)
    with pytest.raises(ledger.TileNotFound):
        ledger.read_tile(session, 7, 0)


def test_the_tree_root_from_the_stored_tiles_is_the_signed_root(session):
    checkpoint = drain(session)
    read = ledger.tile_reader(session)
    assert merkle.tree_root(checkpoint.size, read) == bytes(checkpoint.root)
    assert [(level, idx) for level, idx, _ in merkle.tile_widths(checkpoint.size)] == \
        session.execute(select(Tile.level, Tile.idx).order_by(Tile.level, Tile.idx)).tuples().all()


def test_an_entry_is_found_by_its_leaf_hash_with_an_inclusion_proof(session):
    drain(session)
    entry = record(session, 1)[0]
    leaf = merkle.leaf_hash(ledger.entry_bytes(entry))
    with pytest.raises(ledger.EntryNotFound):
        ledger.entry_proof(session, leaf)
    ledger.integrate(session)
    found = ledger.entry_proof(session, leaf)
    assert found.entry.leaf_hash == entry.leaf_hash == leaf and found.index == found.entry.leaf_index
    assert found.size == ledger.latest_checkpoint(session).size
    merkle.verify_inclusion(leaf, found.index, found.size, found.proof, bytes(found.checkpoint.root))
    assert ledger.entry_by_leaf_hash(session, leaf).seq == found.entry.seq
    assert ledger.entry_by_leaf_hash(session, b"\x00" * 32) is None
    assert ledger.entry_by_leaf_hash(session, b"short") is None
    with pytest.raises(ledger.EntryNotFound):
        ledger.entry_proof(session, b"\x01" * 32)


def test_integrate_refuses_to_sign_a_tree_that_does_not_extend_the_last_checkpoint(session):
    drain(session)
    record(session, 3)
    size = drain(session).size
    last = (size - 1) // 256
    data = bytearray(ledger.read_tile(session, 0, last))
    data[0] ^= 1
    session.execute(update(Tile).where(Tile.level == 0, Tile.idx == last).values(data=bytes(data)))
    record(session, 1)
    with pytest.raises(ledger.LedgerInconsistent) as err:
        ledger.integrate(session)
    assert err.value.status == 503 and "consistent" in err.value.detail_en
    assert ledger.latest_checkpoint(session).size == size


def test_integrate_refuses_when_the_state_disagrees_with_the_newest_checkpoint(session):
    drain(session)
    session.execute(update(LogState).values(size=LogState.size + 1))
    record(session, 1)
    with pytest.raises(ledger.LedgerInconsistent):
        ledger.integrate(session)


def test_a_plan_made_beforehand_is_what_integrate_stores(session):
    drain(session)
    recorded = record(session, 300)
    planned = ledger.plan(session)
    assert len(planned.seqs) == 300 and planned.old_size == ledger.tree_size(session)
    assert ledger.integrate(session, planned=planned) == 300
    checkpoint = ledger.latest_checkpoint(session)
    assert bytes(checkpoint.root) == merkle.root_from_leaves(all_leaves(session))
    assert [ledger.entry_by_leaf_hash(session, r.leaf_hash).leaf_index for r in recorded] == list(
        range(planned.old_size, planned.old_size + 300))
    assert ledger.plan(session) is None


def test_a_plan_is_checked_like_any_batch(session):
    # A plan whose tiles rewrite a hash already signed is refused: integrate took the plan's tiles, and checked them.
    drain(session)
    record(session, 3)
    size = drain(session).size
    record(session, 2)
    planned = ledger.plan(session)
    last = (size - 1) // 256
    tile = bytearray(planned.changed[(0, last)])
    tile[((size - 1) % 256) * 32] ^= 1
    forged = ledger.Plan(planned.old_size, planned.old_root, planned.seqs, {**planned.changed, (0, last): bytes(tile)})
    with pytest.raises(ledger.LedgerInconsistent):
        ledger.integrate(session, planned=forged)
    assert ledger.tree_size(session) == size


def test_a_stale_plan_is_worked_out_again(session):
    # Another integration ran between the plan and integrate: the plan's tiles and entries are out of date.
    drain(session)
    first = record(session, 5)
    planned = ledger.plan(session)
    assert ledger.integrate(session, max_batch=2) == 2
    second = record(session, 4)
    assert ledger.integrate(session, planned=planned) == 7
    indices = [ledger.entry_by_leaf_hash(session, r.leaf_hash).leaf_index for r in [*first, *second]]
    assert len(set(indices)) == 9 and indices == sorted(indices)
    assert bytes(ledger.latest_checkpoint(session).root) == merkle.root_from_leaves(all_leaves(session))
    # A plan larger than the batch asked for is not taken whole either.
    record(session, 4)
    assert ledger.integrate(session, max_batch=3, planned=ledger.plan(session)) == 3


def test_the_worker_job_integrates_pending_entries_outside_its_own_transaction():
    assert "ledger.integrate" in jobs.registered_kinds()
    entry = helpers.committed(lambda session: record(session, 1)[0])
    job_id = helpers.committed(lambda session: jobs.enqueue(session, "ledger.integrate").id)
    # A calls-out job (planned beside the writers, stored in a short transaction of its own), run by a worker round.
    while jobs.run_once(transaction, "ledger-test-worker", limit=1000) > 0:
        pass
    with transaction() as session:
        assert session.get(Job, job_id).status == "done"
        assert ledger.entry_by_leaf_hash(session, entry.leaf_hash).leaf_index is not None


def test_the_log_key_is_made_once_named_after_the_origin_and_kept_private():
    signer = ledger.log_signer()
    assert ledger.log_signer() is signer
    parsed = note.parse_vkey(ledger.log_vkey())
    assert parsed.name == signer.name == get_settings().ledger_origin and parsed.kind == 0x01
    path = get_settings().var_dir / "secrets" / "ledger.skey"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert note.parse_skey(path.read_text().strip()).vkey == signer.vkey


@pytest.mark.parametrize("content", [b"PRIVATE+KEY+\xff\n", None])
def test_an_unreadable_log_key_file_is_a_misconfiguration(monkeypatch, tmp_path, content):
    # Not UTF-8, or a directory where the file should be: a 503 problem naming the file, not a traceback.
    monkeypatch.setattr(get_settings(), "var_dir", tmp_path)
    path = tmp_path / "secrets" / "ledger.skey"
    path.parent.mkdir()
    path.mkdir() if content is None else path.write_bytes(content)
    with pytest.raises(ledger.LedgerMisconfigured) as caught:
        ledger.log_signer()
    assert caught.value.status == 503 and str(path) in caught.value.detail_en


# ---------------------------------------------------------------------------------------------------------------------
# Audit: a separate database with a known log, tampered inside transactions that are rolled back.


@pytest.fixture(scope="module")
def audited_db():
    with scratch.scratch_database() as url:
        scratch.add_entries(url, 700)
        for _ in range(3):
            with transaction(url) as session:
                ledger.integrate(session, max_batch=300)
        yield url


@contextmanager
def rolled_back(url: str):
    connection = get_engine(url).connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def test_audit_passes_on_an_honest_log(audited_db):
    report = ledger.audit(lambda: transaction(audited_db), chunk=128)
    assert report.ok, report.differences
    assert (report.size, report.entries, report.checkpoints, report.pending) == (700, 700, 3, 0)
    assert report.tiles == len(merkle.tile_widths(700))


def test_audit_catches_a_rewritten_entry_body(audited_db):
    with rolled_back(audited_db) as session:
        session.execute(update(Entry).where(Entry.leaf_index == 5).values(body=b'{"forged":true}'))
        report = ledger.audit(lambda: nullcontext(session))
    assert not report.ok
    text = "\n".join(report.differences)
    assert "entry 5: stored leaf hash differs from the hash of its body" in text
    assert "tile 0/0: stored bytes differ" in text and "checkpoint 300: stored root" in text


def test_audit_catches_a_flipped_tile_byte(audited_db):
    with rolled_back(audited_db) as session:
        data = bytearray(ledger.read_tile(session, 0, 1))
        data[100] ^= 0x80
        session.execute(update(Tile).where(Tile.level == 0, Tile.idx == 1).values(data=bytes(data)))
        report = ledger.audit(lambda: nullcontext(session))
    assert report.differences == ["tile 0/1: stored bytes differ from the entries (first difference at hash 3)"]


def test_audit_catches_a_rewritten_checkpoint_and_a_lost_index(audited_db):
    with rolled_back(audited_db) as session:
        session.execute(update(PublishedCheckpoint).where(PublishedCheckpoint.size == 600)
                        .values(root=b"\x00" * 32))
        session.execute(delete(Leaf).where(Leaf.leaf_index == 650))
        report = ledger.audit(lambda: nullcontext(session))
    text = "\n".join(report.differences)
    assert "checkpoint 600: stored root" in text and "entries 650 to 650: missing" in text


def test_gaps_in_the_insertion_sequence_still_give_consecutive_indices(session):
    # On PostgreSQL a rolled-back transaction leaves holes in seq; here one pending row is removed to make one.
    start = drain(session).size
    recorded = record(session, 6)
    assert ledger.entry_by_leaf_hash(session, recorded[0].leaf_hash) is None  # pending: not found yet
    session.execute(delete(Entry).where(Entry.leaf_hash == recorded[2].leaf_hash))
    assert ledger.integrate(session) == 5
    kept = [r for i, r in enumerate(recorded) if i != 2]
    indices = [ledger.entry_by_leaf_hash(session, r.leaf_hash).leaf_index for r in kept]
    assert indices == list(range(start, start + 5))
    assert bytes(ledger.latest_checkpoint(session).root) == merkle.root_from_leaves(all_leaves(session))


def test_a_proof_finds_every_tile_it_reads_in_the_one_prefetch_statement():
    # ledger.inclusion_proof and consistency_proof read their tiles in one statement (a round trip each on
    # PostgreSQL); the tiles named there must be all that the proof reads, or it falls back to a read per tile.
    rng = random.Random(5)
    tiles: dict[tuple[int, int], bytes] = {}
    size = 70_000
    done = 0
    for n in (1, 255, 256, 4_000, 65_536 - 4_512, 4_000 - 4):
        tiles.update(merkle.append_leaves(done, [rng.randbytes(32) for _ in range(n)], lambda lv, i: tiles[(lv, i)]))
        done += n
    tiles.update(merkle.append_leaves(done, [rng.randbytes(32) for _ in range(size - done)],
                                      lambda lv, i: tiles[(lv, i)]))

    def reads(prove) -> set[tuple[int, int]]:
        seen = set()

        def read(level: int, idx: int) -> bytes:
            seen.add((level, idx))
            return tiles[(level, idx)]
        prove(read)
        return seen

    cases = [(1, 0), (2, 1), (256, 255), (257, 256), (65_536, 3), (65_537, 65_536), (size, size - 1), (size, 0)]
    cases += [(n, rng.randrange(n)) for n in (rng.randrange(1, size + 1) for _ in range(300))]
    for n, index in cases:
        wanted = ledger.service._path_tiles(n, index, n - 1)
        assert reads(lambda read, n=n, index=index: merkle.inclusion_proof(index, n, read)) <= wanted, (n, index)
    pairs = [(1, 2), (255, 256), (256, 257), (256, 65_536), (65_535, 65_537), (3, size), (65_536, size)]
    pairs += [tuple(sorted(rng.sample(range(1, size + 1), 2))) for _ in range(300)]
    for old, new in pairs:
        wanted = ledger.service._path_tiles(new, old - 1, old, new - 1)
        assert reads(lambda read, old=old, new=new: merkle.consistency_proof(old, new, read)) <= wanted, (old, new)


def test_proofs_through_the_service_read_their_tiles_in_the_one_statement(session):
    # The proofs' prefetch, as ledger.inclusion_proof and consistency_proof make it: with every tile deleted once it
    # has run, the proofs still come out, so the one statement read them all (a broken one would leave them missing).
    drain(session)
    record(session, 600)
    size = drain(session).size
    expected = (ledger.inclusion_proof(session, 3, size), ledger.inclusion_proof(session, size - 1, size),
                ledger.consistency_proof(session, 300, size))
    path = ledger.service._path_tiles
    readers = [ledger.tile_reader(session, prefetch=path(size, 3, size - 1)),
               ledger.tile_reader(session, prefetch=path(size, size - 1, size - 1)),
               ledger.tile_reader(session, prefetch=path(size, 299, 300, size - 1))]
    session.execute(delete(Tile))
    assert (merkle.inclusion_proof(3, size, readers[0]), merkle.inclusion_proof(size - 1, size, readers[1]),
            merkle.consistency_proof(300, size, readers[2])) == expected
