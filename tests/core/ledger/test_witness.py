"""The witness protocol (C2SP tlog-witness add-checkpoint) without HTTP: parsing, the order of checks, state, cosigning."""

from __future__ import annotations

import base64
import json

import pytest

from openzone.core.ledger import merkle, note, witness
from tests.core.ledger.witness_helpers import MemoryLog

EMPTY_B64 = base64.b64encode(merkle.EMPTY_ROOT).decode()


@pytest.fixture
def log() -> MemoryLog:
    return MemoryLog()


@pytest.fixture
def cosigner() -> note.Signer:
    return note.generate_signer("witness.example.test/w1")[0]


@pytest.fixture
def wit(tmp_path, log, cosigner) -> witness.Witness:
    return witness.Witness(cosigner, witness.log_verifiers([log.signer.vkey]), witness.StateFile(tmp_path / "state.json"),
                           clock=lambda: 1_700_000_000)


def add(wit: witness.Witness, log: MemoryLog, old: int, proof=None, checkpoint: bytes | None = None) -> witness.Response:
    proof = log.proof(old) if proof is None and old > 0 else (proof or [])
    return wit.add_checkpoint(witness.format_request(old, proof, checkpoint or log.checkpoint()))


def test_the_request_format_round_trips_and_matches_the_spec_layout(log):
    log.grow(9)
    signed = log.checkpoint()
    proof = log.proof(3)
    body = witness.format_request(3, proof, signed)
    lines = body.split(b"\n")
    assert lines[0] == b"old 3" and [base64.b64decode(line) for line in lines[1:1 + len(proof)]] == proof
    assert lines[1 + len(proof)] == b"" and len(proof) > 1
    assert body.endswith(b"\n\n" + signed)
    parsed = witness.parse_request(body)
    assert (parsed.old_size, list(parsed.proof), parsed.checkpoint) == (3, proof, signed)
    assert witness.parse_request(witness.format_request(0, [], signed)).proof == ()


@pytest.mark.parametrize("body", [
    b"old 01\n\nx", b"old -1\n\nx", b"old  1\n\nx", b"old 1 \n\nx", b"Old 1\n\nx", b"old 1\nx",
    b"old 1\n" + base64.b64encode(b"\x00" * 31) + b"\n\nx",
    b"old 1\n" + base64.b64encode(b"\x00" * 32)[:-1] + b"\n\nx",
    b"old 1\n" + b"".join(base64.b64encode(b"\x00" * 32) + b"\n" for _ in range(64)) + b"\nx",
    b"old 18446744073709551616\n\nx",
])
def test_malformed_requests_are_refused(body):
    with pytest.raises(witness.MalformedRequest):
        witness.parse_request(body)


def test_an_honest_log_is_cosigned_and_the_state_follows_it(wit, log, cosigner, tmp_path):
    log.grow(5)
    response = add(wit, log, 0)
    assert response.status == 200
    line = note.parse_note(log.checkpoint() + response.body).signatures[-1]
    assert note.verify_cosignature(note.as_cosigner(cosigner).verifier(), note.parse_note(log.checkpoint()).text,
                                   line) == 1_700_000_000
    # The answer, appended to the checkpoint, is a note that opens with the log key and the witness key together.
    opened = note.open_note(log.checkpoint() + response.body, [log.signer.verifier(), note.parse_vkey(wit.vkey)])
    assert len(opened.signatures) == 2
    log.grow(300)
    assert add(wit, log, 5).status == 200
    assert add(wit, log, 305, proof=[]).status == 200  # the same checkpoint again
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved == {"version": 1, "logs": {log.origin: {"size": 305, "root": base64.b64encode(log.root()).decode()}}}


def test_the_witness_key_is_a_type_4_key_of_the_same_name(wit, cosigner):
    verifier = note.parse_vkey(wit.vkey)
    assert (verifier.name, verifier.kind) == (cosigner.name, note.KIND_COSIGNATURE_V1)
    assert wit.vkey.split("+")[2].startswith("B")


def test_unknown_origin_is_404_before_anything_else(wit):
    stranger = MemoryLog("other.example.test/log")
    stranger.grow(3)
    response = wit.add_checkpoint(witness.format_request(7, [], stranger.checkpoint()))
    assert response.status == 404


def test_a_checkpoint_signed_by_another_key_is_403(wit, log):
    log.grow(3)
    impostor = note.generate_signer(log.origin)[0]
    assert add(wit, log, 0, checkpoint=log.checkpoint(signers=[impostor])).status == 403
    # A known key that fails to verify rejects the note even beside a valid signature (signed-note SHOULD).
    good = log.checkpoint()
    text, sig_line = good.split(b"\n\n")
    raw = bytearray(base64.b64decode(sig_line.split(b" ")[-1]))
    raw[-1] ^= 1
    bad = text + b"\n\n" + sig_line.rsplit(b" ", 1)[0] + b" " + base64.b64encode(bytes(raw)) + b"\n"
    assert add(wit, log, 0, checkpoint=bad).status == 403


def test_old_larger_than_the_checkpoint_is_400(wit, log):
    log.grow(3)
    assert add(wit, log, 4, proof=[]).status == 400


def test_a_wrong_old_size_is_409_with_the_size_witnessed(wit, log):
    log.grow(10)
    assert add(wit, log, 0).status == 200
    log.grow(5)
    for old in (0, 3, 12):
        response = add(wit, log, old)
        assert (response.status, response.body, response.content_type) == (409, b"10\n", "text/x.tlog.size")
    fresh = add(wit, MemoryLog(log.origin, log.signer), 0)
    assert fresh.status == 409  # an empty tree from the same origin is a rollback


def test_a_bad_consistency_proof_is_422_and_changes_nothing(wit, log, tmp_path):
    log.grow(10)
    assert add(wit, log, 0).status == 200
    before = (tmp_path / "state.json").read_bytes()
    log.grow(6)
    proof = log.proof(10)
    proof[0] = bytes(32)
    assert add(wit, log, 10, proof=proof).status == 422
    assert add(wit, log, 10, proof=proof[:-1]).status == 422
    assert (tmp_path / "state.json").read_bytes() == before
    assert add(wit, log, 10).status == 200


def test_a_forked_log_is_never_cosigned(wit, log):
    log.grow(20)
    assert add(wit, log, 0).status == 200
    # Same size, different root: 409 naming the size the witness holds.
    rewritten = log.fork(at=12)
    response = add(wit, rewritten, 20, proof=[])
    assert (response.status, response.body) == (409, b"20\n")
    # A longer fork proves consistency with its own past, not with the checkpoint the witness saw: 422.
    rewritten.grow(4)
    assert add(wit, rewritten, 20, proof=rewritten.proof(20)).status == 422
    # The honest log still moves on.
    log.grow(4)
    assert add(wit, log, 20).status == 200


def test_the_empty_tree_needs_the_empty_root_and_an_empty_proof(wit, log):
    assert add(wit, log, 0).status == 200  # size 0
    body = f"{log.origin}\n0\n{base64.b64encode(bytes(32)).decode()}\n".encode()
    bad_root = note.sign_note(body, [log.signer])
    assert wit.add_checkpoint(witness.format_request(0, [], bad_root)).status == 422
    log.grow(2)
    assert add(wit, log, 0, proof=[bytes(32)]).status == 422
    assert add(wit, log, 0).status == 200


def test_an_empty_root_error_still_waits_for_the_signature_and_size_checks(wit, log):
    body = f"{log.origin}\n0\n{base64.b64encode(bytes(32)).decode()}\n".encode()
    assert wit.add_checkpoint(witness.format_request(0, [], note.sign_note(body, [note.generate_signer(log.origin)[0]]))).status == 403


@pytest.mark.parametrize("text", [
    "{origin}\n05\n{root}\n", "{origin}\n5\n{root}\n\n", "{origin}\n5\n{root}=\n", "{origin}\n5\n",
    "{origin}\n 5\n{root}\n", "{origin}\n5\n" + base64.b64encode(bytes(31)).decode() + "\n",
    "{origin}\n1" + "0" * 5000 + "\n{root}\n",  # past the 4,300 digits Python's int() takes
])
def test_malformed_checkpoints_are_400(wit, log, text):
    log.grow(5)
    signed = note.sign_note(text.format(origin=log.origin, root=base64.b64encode(log.root()).decode()).encode(), [log.signer])
    assert wit.add_checkpoint(witness.format_request(0, [], signed)).status == 400
    assert wit.add_checkpoint(witness.format_request(0, [], b"not a signed note")).status == 400


def test_the_state_survives_a_new_witness_on_the_same_file(tmp_path, log, cosigner):
    state = witness.StateFile(tmp_path / "state.json")
    first = witness.Witness(cosigner, witness.log_verifiers([log.signer.vkey]), state)
    log.grow(7)
    assert add(first, log, 0).status == 200
    again = witness.Witness(cosigner, witness.log_verifiers([log.signer.vkey]), witness.StateFile(tmp_path / "state.json"))
    assert add(again, log, 0).status == 409
    assert again.state.load() == {log.origin: witness.TreeHead(7, log.root())}


@pytest.mark.parametrize("content", [b"{", b"[]", b'{"version": 2, "logs": {}}',
                                     b'{"version": 1, "logs": {"o": {"size": -1, "root": "AAAA"}}}',
                                     b'{"version": 1, "logs": {"o": {"size": 1}}}'])
def test_an_unreadable_state_file_is_refused(tmp_path, content):
    (tmp_path / "state.json").write_bytes(content)
    with pytest.raises(witness.MalformedState):
        witness.StateFile(tmp_path / "state.json").load()


def test_one_state_file_serves_one_process(tmp_path):
    state = witness.StateFile(tmp_path / "state.json")
    with state.exclusive(), pytest.raises(witness.MalformedState), witness.StateFile(tmp_path / "state.json").exclusive():
        pass
    with state.exclusive():
        pass


def test_log_keys_must_be_note_keys_and_name_their_origin(cosigner):
    with pytest.raises(note.MalformedKey):
        witness.log_verifiers([note.as_cosigner(cosigner).vkey])
    a, b = note.generate_signer("a.example/log")[0], note.generate_signer("a.example/log")[0]
    logs = witness.log_verifiers([a.vkey, b.vkey, note.generate_signer("b.example/log")[0].vkey])
    assert sorted(logs) == ["a.example/log", "b.example/log"] and len(logs["a.example/log"]) == 2


def test_size_answers_parse_strictly():
    assert witness.parse_size(witness.format_size(1234)) == 1234
    for body in (b"12", b"012\n", b" 12\n", b"12\n\n", b"-1\n"):
        with pytest.raises(witness.WitnessError):
            witness.parse_size(body)


@pytest.mark.parametrize(("active", "configured", "needed"), [(0, 0, None), (0, 2, None), (1, 0, 1), (2, 0, 2),
                                                              (3, 0, 2), (4, 0, 3), (5, 0, 3), (3, 1, 1), (3, 3, 3)])
def test_the_quorum_is_the_configured_k_or_a_majority(active, configured, needed):
    assert witness.quorum_needed(active, configured) == needed
