"""Offline receipts: a C2SP tlog-proof carrying the entry, checked only against keys the verifier trusts."""

from __future__ import annotations

import ast
import base64
import json
import sys
from pathlib import Path

import pytest

from openzone.core.ledger import merkle, note, receipt
from openzone.core.ledger.receipt import (
    InvalidKeys,
    MalformedReceipt,
    NotIncluded,
    QuorumNotMet,
    ReceiptError,
    UnknownEntry,
    UntrustedCheckpoint,
)

ORIGIN = "ledger.test.example/v1"
LOG, LOG_SKEY = note.generate_signer(ORIGIN)
COURT = note.as_cosigner(note.generate_signer("witness.court.example")[0])
BANK = note.as_cosigner(note.generate_signer("witness.bank.example")[0])
ENTRIES = [json.dumps({"actor": None, "commitments": {}, "data": {"n": i}, "digests": {},
                       "time": "2026-11-27T08:30:00.123Z", "type": "test.receipt", "v": 1},
                      separators=(",", ":"), sort_keys=True).encode() for i in range(13)]


def _tree(entries: list[bytes]):
    tiles: dict[tuple[int, int], bytes] = {}
    tiles.update(merkle.append_leaves(0, [merkle.leaf_hash(e) for e in entries], lambda level, idx: tiles[(level, idx)]))
    return lambda level, idx: tiles[(level, idx)]


READ = _tree(ENTRIES)
SIZE = len(ENTRIES)
ROOT = merkle.tree_root(SIZE, READ)


def _signed(*, signer: note.Signer = LOG, witnesses=(COURT, BANK), size: int = SIZE, root: bytes = ROOT,
            origin: str = ORIGIN, timestamp: int = 1_790_000_000) -> bytes:
    body = note.Checkpoint(origin, size, root).body()
    lines = b"".join(note.format_signature_line(note.cosign(w, body, timestamp)) for w in witnesses)
    return note.sign_note(body, [signer]) + lines


def sample_receipt(index: int = 5, **checkpoint) -> bytes:
    """Return a receipt for ENTRIES[index], its checkpoint signed by LOG and cosigned as asked (both witnesses by default)."""
    return receipt.build_receipt(entry=ENTRIES[index], index=index, proof=merkle.inclusion_proof(index, SIZE, READ),
                                 signed_checkpoint=_signed(**checkpoint))


def _verify(data: bytes, **kwargs):
    kwargs.setdefault("log_keys", [LOG.verifier()])
    kwargs.setdefault("witness_keys", [COURT.verifier(), BANK.verifier()])
    return receipt.verify_receipt(data, **kwargs)


def test_a_receipt_is_a_tlog_proof_whose_extra_data_is_the_entry():
    data = sample_receipt()
    lines = data.decode().split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1] == "extra " + base64.b64encode(ENTRIES[5]).decode()
    assert lines[2] == "index 5"
    parsed = note.parse_tlog_proof(data)
    assert parsed.index == 5 and parsed.extra == [ENTRIES[5]]
    assert parsed.proof == merkle.inclusion_proof(5, SIZE, READ)
    assert data.endswith(_signed())


def test_a_receipt_verifies_and_says_what_it_proves():
    verdict = _verify(sample_receipt())
    assert (verdict.index, verdict.size, verdict.root, verdict.origin) == (5, SIZE, ROOT, ORIGIN)
    assert verdict.leaf_hash == merkle.leaf_hash(ENTRIES[5])
    assert verdict.log_key == ORIGIN
    assert [c.name for c in verdict.cosigners] == ["witness.court.example", "witness.bank.example"]
    assert verdict.cosigners[0].timestamp == 1_790_000_000
    assert verdict.cosigners[0].time.isoformat() == "2026-09-21T14:13:20+00:00"
    assert (verdict.quorum, verdict.witnesses) == (2, 2)
    assert verdict.fields.type == "test.receipt" and verdict.fields.data == {"n": 5} and verdict.fields.actor is None


@pytest.mark.parametrize("index", range(SIZE))
def test_every_entry_of_the_tree_gets_a_receipt_that_verifies(index):
    assert _verify(sample_receipt(index)).index == index


def test_a_tree_of_one_entry_has_an_empty_proof():
    root = merkle.leaf_hash(ENTRIES[0])
    data = receipt.build_receipt(entry=ENTRIES[0], index=0, proof=[], signed_checkpoint=_signed(size=1, root=root))
    assert b"index 0\n\n" in data
    assert _verify(data).size == 1


def test_every_altered_byte_is_refused():
    data = sample_receipt()
    for position in range(len(data)):
        for flip in (0x01, 0x80):
            tampered = data[:position] + bytes([data[position] ^ flip]) + data[position + 1:]
            with pytest.raises(ReceiptError):
                _verify(tampered)


def test_a_dropped_or_added_byte_is_refused():
    data = sample_receipt()
    for position in range(len(data)):
        with pytest.raises(ReceiptError):
            _verify(data[:position] + data[position + 1:])
        with pytest.raises(ReceiptError):
            _verify(data[:position] + b"A" + data[position:])


def test_tampering_reasons_are_clear():
    data = sample_receipt()
    other = base64.b64encode(ENTRIES[6]).decode().encode()
    swapped = data.replace(base64.b64encode(ENTRIES[5]), other)
    with pytest.raises(NotIncluded) as err:
        _verify(swapped)
    assert "不在检查点的树中" in err.value.zh and "not in the checkpoint's tree" in err.value.en
    with pytest.raises(NotIncluded):
        _verify(data.replace(b"index 5\n", b"index 4\n"))
    forged_root = base64.b64encode(bytes(32)).decode().encode()
    with pytest.raises(UntrustedCheckpoint) as err:
        _verify(data.replace(base64.b64encode(ROOT), forged_root))
    assert "签名验证失败" in err.value.zh
    with pytest.raises(MalformedReceipt) as err:
        _verify(data.replace(b"c2sp.org/tlog-proof@v1", b"c2sp.org/tlog-proof@v2"))
    assert "收据格式错误" in err.value.zh and "malformed" in err.value.en


def test_keys_carried_in_the_receipt_are_never_trusted():
    impostor, _ = note.generate_signer(ORIGIN)
    # A forger builds a whole new tree with their own entry and signs it with a key of the log's name.
    forged_entries = [*ENTRIES[:5], ENTRIES[5].replace(b'"n":5', b'"n":500'), *ENTRIES[6:]]
    read = _tree(forged_entries)
    root = merkle.tree_root(SIZE, read)
    forged = receipt.build_receipt(entry=forged_entries[5], index=5, proof=merkle.inclusion_proof(5, SIZE, read),
                                   signed_checkpoint=_signed(signer=impostor, witnesses=(), root=root))
    with pytest.raises(UntrustedCheckpoint) as err:
        _verify(forged, witness_keys=[])
    assert "no signature by a trusted log key" in err.value.en
    # The same bytes pass only for someone who chose to trust the forger's key: the key choice is the verifier's.
    assert _verify(forged, log_keys=[impostor.verifier()], witness_keys=[]).fields.data == {"n": 500}


def test_a_witness_that_did_not_cosign_does_not_count():
    data = sample_receipt(witnesses=(COURT,))
    with pytest.raises(QuorumNotMet) as err:
        _verify(data)
    assert "1" in err.value.zh and "at least 2" in err.value.en
    assert [c.name for c in _verify(data, quorum=1).cosigners] == ["witness.court.example"]
    assert _verify(data, witness_keys=[], quorum=0).cosigners == ()


def test_an_unknown_witness_line_is_ignored_and_a_known_bad_one_refused():
    stranger = note.as_cosigner(note.generate_signer("witness.stranger.example")[0])
    data = sample_receipt(witnesses=(COURT, stranger))
    assert [c.name for c in _verify(data, witness_keys=[COURT.verifier()]).cosigners] == ["witness.court.example"]
    # A cosignature by a trusted witness over another checkpoint is a failing signature, not a missing one.
    other_body = note.Checkpoint(ORIGIN, SIZE - 1, merkle.tree_root(SIZE - 1, READ)).body()
    wrong = note.format_signature_line(note.cosign(BANK, other_body, 1_790_000_000))
    with pytest.raises(QuorumNotMet) as err:
        _verify(sample_receipt(witnesses=(COURT,)) + wrong)
    assert "witness.bank.example" in err.value.en


def test_the_origin_can_be_pinned():
    assert _verify(sample_receipt(), origin=ORIGIN).origin == ORIGIN
    with pytest.raises(UntrustedCheckpoint) as err:
        _verify(sample_receipt(), origin="ledger.other.example/v1")
    assert "ledger.other.example/v1" in err.value.zh


def test_key_lists_must_make_sense():
    with pytest.raises(InvalidKeys):
        _verify(sample_receipt(), log_keys=[])
    with pytest.raises(InvalidKeys):
        _verify(sample_receipt(), log_keys=[COURT.verifier()])
    with pytest.raises(InvalidKeys):
        _verify(sample_receipt(), witness_keys=[LOG.verifier()])
    with pytest.raises(InvalidKeys):
        _verify(sample_receipt(), quorum=3)
    with pytest.raises(InvalidKeys):
        _verify(sample_receipt(), quorum=-1)


def test_keys_are_read_one_vkey_a_line():
    text = f"# pinned 2026-11-27\n\n{LOG.vkey}\n  {COURT.vkey}  \n{LOG.vkey}\n{BANK.vkey}\n"
    keys = receipt.parse_keys(text)
    assert keys == [LOG.verifier(), COURT.verifier(), BANK.verifier()]
    assert receipt.split_keys(keys) == ([LOG.verifier()], [COURT.verifier(), BANK.verifier()])
    # The key is random: one in about 2,000 already ends in "xx", and then nothing was changed.
    altered = LOG.vkey[:-2] + ("yy" if LOG.vkey.endswith("xx") else "xx")
    with pytest.raises(InvalidKeys) as err:
        receipt.parse_keys(f"{LOG.vkey}\n{altered}\n")
    assert "第2行" in err.value.zh and "Line 2" in err.value.en


def test_a_receipt_without_its_entry_is_refused():
    proof = note.format_tlog_proof(index=5, size=SIZE, proof=merkle.inclusion_proof(5, SIZE, READ),
                                   signed_checkpoint=_signed())
    with pytest.raises(MalformedReceipt) as err:
        _verify(proof)
    assert "extra" in err.value.en


def test_an_oversized_receipt_is_refused_before_parsing():
    with pytest.raises(MalformedReceipt) as err:
        receipt.parse_receipt(b"x" * (receipt.MAX_RECEIPT_BYTES + 1))
    assert "64 KiB" in err.value.en


def test_a_receipt_is_never_built_from_a_wrong_proof():
    proof = merkle.inclusion_proof(4, SIZE, READ)
    with pytest.raises(NotIncluded):
        receipt.build_receipt(entry=ENTRIES[5], index=5, proof=proof, signed_checkpoint=_signed())
    with pytest.raises(MalformedReceipt):
        receipt.build_receipt(entry=ENTRIES[5], index=5, proof=proof[:-1], signed_checkpoint=_signed())
    with pytest.raises(MalformedReceipt):
        receipt.build_receipt(entry=b"", index=5, proof=proof, signed_checkpoint=_signed())


@pytest.mark.parametrize(("entry", "reason"), [
    (b"\xff\xfe", "not valid JSON"),
    (b'{"v":1,"v":1}', "not valid JSON"),
    (b"[1]", "wrong members"),
    (ENTRIES[0].replace(b'"v":1', b'"v":2'), "Unsupported entry version"),
    (ENTRIES[0].replace(b'"v":1', b'"v":true'), "Unsupported entry version"),
    (ENTRIES[0].replace(b'"data":{"n":0}', b'"data":[]'), "version-1 types"),
])
def test_a_proven_entry_that_is_not_a_version_1_entry_is_refused(entry, reason):
    read = _tree([entry])
    data = receipt.build_receipt(entry=entry, index=0, proof=[], signed_checkpoint=_signed(size=1, root=read(0, 0)))
    with pytest.raises(UnknownEntry) as err:
        _verify(data)
    assert reason in err.value.en


def test_the_receipt_module_is_pure():
    tree = ast.parse(Path(receipt.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    outside = {name for name in imported
               if name.split(".")[0] not in sys.stdlib_module_names and name != "openzone.core.ledger"}
    assert outside == set()
