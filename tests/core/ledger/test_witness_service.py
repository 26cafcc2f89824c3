"""The log side of witnessing, against real witness processes: registry, cosigning rounds, quorum, forks refused."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import delete, insert, select, update

from openzone.core import ledger
from openzone.core.ledger import merkle, note
from openzone.core.ledger.models import Entry, Leaf, LogState, PublishedCheckpoint, Queued, Tile
from openzone.core.ledger.witness_models import RegisteredWitness
from tests.core.ledger import witness_helpers as wh

# Generous, so that a loaded machine is not mistaken for an unreachable witness.
TIMEOUT = 30
NAMES = ("court.witness.test/w", "bank.witness.test/w", "regulator.witness.test/w")


def fresh_log(session) -> None:
    """Empty the log and the witness registry inside the test's transaction (rolled back afterwards)."""
    for table in (PublishedCheckpoint, Tile, Leaf, Queued, Entry, RegisteredWitness):
        session.execute(delete(table))
    session.execute(update(LogState).values(size=0, root=merkle.EMPTY_ROOT))
    session.flush()
    session.expire_all()


def grow(session, count: int) -> PublishedCheckpoint:
    """Record count entries, integrate them and return the new newest checkpoint."""
    for n in range(count):
        ledger.record(session, "test.witnessed", actor_org_id=None, data={"n": n})
    ledger.integrate(session, max_batch=1_000_000)
    return ledger.latest_checkpoint(session)


def rebuild(session) -> PublishedCheckpoint:
    """Re-integrate every entry from scratch with the same key, as a log that rewrote its history would."""
    for table in (PublishedCheckpoint, Tile):
        session.execute(delete(table))
    session.execute(delete(Leaf))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(delete(Queued))
        session.execute(insert(Queued).from_select(["seq"], select(Entry.seq)))
    session.execute(update(LogState).values(size=0, root=merkle.EMPTY_ROOT))
    session.flush()
    session.expire_all()
    ledger.integrate(session, max_batch=1_000_000)
    return ledger.latest_checkpoint(session)


def register(session, processes) -> None:
    for w in processes:
        ledger.add_witness(session, name=w.name, vkey=w.vkey, url=w.url)


def row(session, name: str) -> RegisteredWitness:
    return session.scalar(select(RegisteredWitness).where(RegisteredWitness.name == name))


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def three(tmp_path):
    with wh.witnesses(tmp_path, NAMES, [ledger.log_vkey()]) as started:
        yield started


@pytest.fixture
def two(tmp_path):
    with wh.witnesses(tmp_path, NAMES[:2], [ledger.log_vkey()]) as started:
        yield started


@pytest.fixture
def one(tmp_path):
    with wh.witnesses(tmp_path, NAMES[:1], [ledger.log_vkey()]) as started:
        yield started


def test_an_honest_log_is_cosigned_and_becomes_final(session, three):
    fresh_log(session)
    register(session, three)
    checkpoint = grow(session, 5)
    report = ledger.cosign_latest(session, timeout=TIMEOUT)
    assert report.size == 5 and sorted(report.cosigned) == sorted(NAMES) and report.refused == {}
    assert report.needed == 2 and report.final and checkpoint.final
    served = ledger.current_checkpoint_note(session)
    opened = note.open_note(served, [note.parse_vkey(ledger.log_vkey()), *(w.verifier for w in three)])
    assert len(opened.signatures) == 4
    assert [r.last_size for r in ledger.list_witnesses(session)] == [5, 5, 5]
    assert all(r.last_cosigned_at and r.last_error is None for r in ledger.list_witnesses(session))

    grown = grow(session, 300)
    assert grown.size == 305 and not grown.final and grown.cosignatures == ""
    report = ledger.cosign_latest(session, timeout=TIMEOUT)
    assert sorted(report.cosigned) == sorted(NAMES) and grown.final
    assert len(note.parse_note(ledger.current_checkpoint_note(session)).signatures) == 4
    # Nothing is sent again once every witness has cosigned the newest checkpoint.
    assert ledger.cosign_latest(session, timeout=TIMEOUT).asked == []


def test_a_quorum_of_distinct_witnesses_makes_a_checkpoint_final(session, two, tmp_path):
    fresh_log(session)
    grow(session, 3)
    assert not ledger.cosign_latest(session, timeout=TIMEOUT).final  # no witness: never final
    register(session, two)
    _, dead_vkey = wh.make_key(tmp_path, "dead.witness.test/w")
    ledger.add_witness(session, name="dead.witness.test/w", vkey=dead_vkey, url=closed_port_url())
    report = ledger.cosign_latest(session, quorum=3, timeout=TIMEOUT)
    assert sorted(report.cosigned) == sorted(NAMES[:2]) and report.needed == 3 and not report.final
    assert "could not be reached" in row(session, "dead.witness.test/w").last_error_en
    report = ledger.cosign_latest(session, timeout=TIMEOUT)  # majority of three
    assert report.asked == ["dead.witness.test/w"] and report.needed == 2 and report.final
    ledger.set_witness_active(session, name="dead.witness.test/w", active=False)
    assert ledger.witness_overview(session).needed == 2 and ledger.witness_overview(session).active == 2


def test_a_409_is_answered_with_a_proof_from_the_size_the_witness_names(session, one):
    fresh_log(session)
    register(session, one)
    grow(session, 6)
    assert ledger.cosign_latest(session, timeout=TIMEOUT).cosigned == [one[0].name]
    # The log forgot what the witness cosigned (say, a database restored from a backup).
    row(session, one[0].name).last_size = 0
    grow(session, 3)
    report = ledger.cosign_latest(session, timeout=TIMEOUT)
    assert report.cosigned == [one[0].name] and report.refused == {}
    assert row(session, one[0].name).last_size == 9


def test_a_forked_or_rewritten_log_is_refused_and_the_refusal_is_recorded(session, three):
    fresh_log(session)
    register(session, three)
    honest = grow(session, 6)
    honest_root = bytes(honest.root)
    assert ledger.cosign_latest(session, timeout=TIMEOUT).final
    # Rewrite one entry and rebuild the tree with the same key: same size, another root.
    entry = session.scalar(select(Entry).where(Entry.leaf_index == 2))
    entry.body = entry.body.replace(b'"n":', b'"n" :')
    entry.leaf_hash = merkle.leaf_hash(entry.body)
    forked = rebuild(session)
    assert forked.size == 6 and bytes(forked.root) != honest_root
    report = ledger.cosign_latest(session, timeout=TIMEOUT)
    assert report.cosigned == [] and sorted(report.refused) == sorted(NAMES)
    assert not forked.final and forked.cosignatures == ""
    for w in ledger.list_witnesses(session):
        assert "fork" in w.last_error_en and "分叉" in w.last_error and w.last_size == 6
    # The forked log grows: its proof from size 6 holds for its own history, not for the one the witnesses saw.
    longer = grow(session, 1)
    report = ledger.cosign_latest(session, timeout=TIMEOUT)
    assert report.cosigned == [] and not longer.final
    for w in ledger.list_witnesses(session):
        assert "HTTP 422" in w.last_error_en and "consistency proof" in w.last_error_en


def test_a_log_rolled_back_below_what_a_witness_cosigned_is_refused(session, one):
    fresh_log(session)
    register(session, one)
    grow(session, 8)
    assert ledger.cosign_latest(session, timeout=TIMEOUT).cosigned == [one[0].name]
    session.execute(delete(Entry).where(Entry.leaf_index >= 4))
    rolled_back = rebuild(session)
    assert rolled_back.size == 4
    report = ledger.cosign_latest(session, timeout=TIMEOUT)
    assert report.cosigned == [] and "larger tree (size 8)" in report.refused[one[0].name]
    # The log learns nothing it can use: the next round refuses without asking.
    assert ledger.cosign_latest(session, timeout=TIMEOUT).asked == []


@pytest.fixture
def uint64_conflict_witness():
    """Serve a witness that answers every request with 409 and the size 2^64 - 1, a well-formed text/x.tlog.size."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b"18446744073709551615\n"
            self.send_response(409)
            self.send_header("Content-Type", "text/x.tlog.size")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_witness_claiming_a_uint64_size_is_refused_and_the_others_still_cosign(session, one, tmp_path,
                                                                                    uint64_conflict_witness):
    fresh_log(session)
    register(session, one)
    _, vkey = wh.make_key(tmp_path, "evil.witness.test/w")
    ledger.add_witness(session, name="evil.witness.test/w", vkey=vkey, url=uint64_conflict_witness)
    grow(session, 3)
    # Stored, 2^64 - 1 overflows the BIGINT column: the flush failed and the round rolled back for everyone.
    report = ledger.cosign_latest(session, timeout=TIMEOUT)
    assert report.cosigned == [one[0].name]
    assert "larger tree (size 18446744073709551615)" in report.refused["evil.witness.test/w"]
    assert row(session, "evil.witness.test/w").last_size == 0
    session.flush()


def test_a_stored_url_httpx_cannot_parse_refuses_that_witness_only(session, one, tmp_path):
    fresh_log(session)
    register(session, one)
    for name, url in (("ipv6.witness.test/w", "http://[::1"), ("idna.witness.test/w", "http://xn--")):
        _, vkey = wh.make_key(tmp_path, name)
        ledger.add_witness(session, name=name, vkey=vkey, url="http://127.0.0.1:1")
        row(session, name).url = url  # registered before add_witness asked httpx
    grow(session, 2)
    report = ledger.cosign_latest(session, timeout=TIMEOUT)
    assert report.cosigned == [one[0].name]
    assert "InvalidURL" in report.refused["ipv6.witness.test/w"] and "idna.witness.test/w" in report.refused


def test_a_cosignature_that_does_not_verify_with_the_registered_key_is_not_kept(session, one, tmp_path):
    fresh_log(session)
    (tmp_path / "other").mkdir()
    _, other_vkey = wh.make_key(tmp_path / "other", one[0].name)
    ledger.add_witness(session, name=one[0].name, vkey=other_vkey, url=one[0].url)
    checkpoint = grow(session, 2)
    report = ledger.cosign_latest(session, timeout=TIMEOUT)
    assert report.cosigned == [] and "no valid cosignature" in report.refused[one[0].name]
    assert checkpoint.cosignatures == "" and not checkpoint.final


def test_registering_witnesses_checks_the_key_the_name_and_the_url(session):
    fresh_log(session)
    signer, _ = note.generate_signer("w.example.test/a")
    cosigner_vkey = note.as_cosigner(signer).vkey
    bad = [
        ({"name": "w.example.test/a", "vkey": "nonsense", "url": "https://w.example"}, "vkey"),
        ({"name": "w.example.test/a", "vkey": signer.vkey, "url": "https://w.example"}, "vkey"),
        ({"name": "w.example.test/b", "vkey": cosigner_vkey, "url": "https://w.example"}, "name"),
        ({"name": "w.example.test/a", "vkey": cosigner_vkey, "url": "ftp://w.example"}, "url"),
        ({"name": "w.example.test/a", "vkey": cosigner_vkey, "url": "https://w.example/?x=1"}, "url"),
        # Past the pattern, but httpx would refuse them in every round: a bad IPv6 literal, IDNA hosts, no host, a port.
        *(({"name": "w.example.test/a", "vkey": cosigner_vkey, "url": url}, "url")
          for url in ("http://[::1", "http://exa\u00e9mple..test", "http://xn--", "http://:80", "http://127.0.0.1:99999")),
    ]
    for kwargs, field in bad:
        with pytest.raises(ledger.WitnessInvalid) as caught:
            ledger.add_witness(session, **kwargs)
        assert caught.value.errors[0]["field"] == field
    row = ledger.add_witness(session, name="w.example.test/a", vkey=cosigner_vkey, url="https://w.example/prefix/")
    assert (row.url, row.active, row.last_size) == ("https://w.example/prefix", True, 0)
    with pytest.raises(ledger.WitnessExists):
        ledger.add_witness(session, name="w.example.test/a", vkey=cosigner_vkey, url="https://w.example")
    # The same key under another name would count twice towards a quorum.
    renamed = note.vkey_for("w.example.test/c", note.KIND_COSIGNATURE_V1, signer.public_raw)
    with pytest.raises(ledger.WitnessExists):
        ledger.add_witness(session, name="w.example.test/c", vkey=renamed, url="https://w.example")
    with pytest.raises(ledger.WitnessNotFound):
        ledger.set_witness_active(session, name="w.example.test/none", active=False)
    assert [w.name for w in ledger.list_witnesses(session)] == ["w.example.test/a"]


def test_the_worker_runs_the_witness_round():
    from openzone.core import jobs

    assert "ledger.witness" in jobs.registered_kinds()
