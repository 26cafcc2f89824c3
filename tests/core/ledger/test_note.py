"""C2SP signed-note, tlog-checkpoint, tlog-cosignature and tlog-proof against the published vectors and by property."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from openzone.core.ledger import note
from openzone.core.ledger.note import (
    Checkpoint,
    InvalidSignature,
    MalformedCheckpoint,
    MalformedKey,
    MalformedNote,
    MalformedProof,
    NoteError,
    SignatureLine,
    Signer,
    UnverifiedNote,
    Verifier,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "ledger_vectors"
SIGNED_NOTE = json.loads((VECTORS / "signed_note.json").read_text())
CHECKPOINT = json.loads((VECTORS / "checkpoint.json").read_text())
COSIGNATURE = json.loads((VECTORS / "cosignature.json").read_text())
TREE_8 = json.loads((VECTORS / "reference_tree_8.json").read_text())

PETER_SKEY = SIGNED_NOTE["sign_kat"]["skey"]
PETER = note.parse_skey(PETER_SKEY)
WIT1 = note.parse_skey(COSIGNATURE["derived_kat"]["skey_type01"])
EMPTY_ROOT = hashlib.sha256(b"").digest()
ROOT_8 = bytes.fromhex(TREE_8["root_by_size_hex"][8])
VERDICTS = {MalformedNote: "malformed", InvalidSignature: "invalid_signature", UnverifiedNote: "unverified"}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def signed_checkpoint(size: int, root: bytes, signers=(PETER,), origin: str = "ledger.example/v1") -> bytes:
    return note.sign_note(Checkpoint(origin, size, root).body(), list(signers))


# Hypothesis strategies: key names (signed-note "Format": non-empty, no Unicode space, no plus) and note texts
# (UTF-8 with no control character below U+0020 but newline, ending in a newline).
NAMES = st.text(st.characters(codec="utf-8", exclude_characters=[chr(i) for i in range(0x20)] + ["+"]),
                min_size=1, max_size=24).filter(lambda s: not any(ch.isspace() for ch in s))
TEXTS = st.text(st.characters(codec="utf-8", exclude_characters=[chr(i) for i in range(0x20) if i != 0x0A]),
                max_size=200).map(lambda s: (s + "\n").encode())
HASHES = st.binary(min_size=32, max_size=32)


# --- keys ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", SIGNED_NOTE["key_id_vectors"], ids=lambda c: c["vkey"].split("+")[0])
def test_published_vkeys_parse_and_their_key_ids_recompute(case):
    verifier = note.parse_vkey(case["vkey"])
    name, hex_id, key = case["vkey"].split("+", 2)
    raw = base64.b64decode(key)
    assert (verifier.name, verifier.key_id.hex(), verifier.kind, verifier.public_raw) == (name, hex_id, raw[0], raw[1:])
    assert note.key_id(name, raw[0], raw[1:]).hex() == hex_id
    assert verifier.vkey == case["vkey"] == note.vkey_for(name, raw[0], raw[1:])


@pytest.mark.parametrize("pair", SIGNED_NOTE["skey_vkey_pairs"], ids=lambda p: p["vkey"].split("+")[0])
def test_published_skeys_give_their_vkeys(pair):
    signer = note.parse_skey(pair["skey"])
    assert signer.vkey == pair["vkey"]
    assert signer.verifier() == note.parse_vkey(pair["vkey"])
    assert note.format_skey(signer) == pair["skey"]


@pytest.mark.parametrize("case", SIGNED_NOTE["bad_vkeys"], ids=lambda c: c["why"])
def test_bad_vkeys_are_refused(case):
    with pytest.raises(MalformedKey):
        note.parse_vkey(case["vkey"])


def test_every_single_character_change_to_a_vkey_is_refused():
    vkey = SIGNED_NOTE["key_id_vectors"][1]["vkey"]
    for i, old in enumerate(vkey):
        for new in {"A", "b", "+", "0", " "} - {old}:
            with pytest.raises(MalformedKey):
                note.parse_vkey(vkey[:i] + new + vkey[i + 1:])


@pytest.mark.parametrize("bad", [
    "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper-case hex
    "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # 7 hex digits
    "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n",
    " PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX",  # non-canonical base64 tail
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # missing a character
    "PeterNeumann",
])
def test_malformed_vkeys_are_refused(bad):
    with pytest.raises(MalformedKey):
        note.parse_vkey(bad)


def test_bad_skeys_are_refused():
    *head, key64 = PETER_SKEY.split("+", 4)
    prefix = "+".join(head)
    seed = base64.b64decode(key64)[1:]
    as_type_4 = b64(bytes([4]) + seed)
    for bad in (
        PETER_SKEY.removeprefix("PRIVATE+"),
        PETER_SKEY.replace("c74f20a3", "c74f20a4"),
        PETER_SKEY.replace("PeterNeumann", "PeterNeumanm"),
        f"{prefix}+{as_type_4}",  # the Go skey format knows only type 0x01
        f"{prefix}+{key64[:-1]}B",  # another seed, so the key ID no longer matches
        f"{prefix}+{b64(bytes([1]) + seed + seed[:1])}",
        PETER_SKEY + "\n",
        "PRIVATE+KEY+PeterNeumann+c74f20a3",
    ):
        with pytest.raises(MalformedKey):
            note.parse_skey(bad)


@given(NAMES)
def test_generated_signers_round_trip_through_their_skey_and_vkey(name):
    signer, skey = note.generate_signer(name)
    again = note.parse_skey(skey)
    assert (again.name, again.key_id, again.public_raw, again.kind) == (signer.name, signer.key_id, signer.public_raw, 1)
    assert skey.startswith(f"PRIVATE+KEY+{name}+{signer.key_id.hex()}+A")
    assert note.parse_vkey(signer.vkey) == signer.verifier()
    assert note.open_note(note.sign_note(b"hi\n", [again]), [note.parse_vkey(signer.vkey)]).text == b"hi\n"


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\u3000b", "a\u00a0b", "a\x01b", "a\nb"])
def test_key_names_with_spaces_plus_or_controls_are_refused(name):
    with pytest.raises(MalformedKey):
        note.generate_signer(name)


def test_signers_and_verifiers_refuse_a_key_id_that_is_not_theirs():
    private = Ed25519PrivateKey.generate()
    with pytest.raises(MalformedKey):
        Signer("x", b"\0\0\0\0", private)
    with pytest.raises(MalformedKey):
        Verifier("x", PETER.key_id, PETER.verifier().public)
    with pytest.raises(MalformedKey):
        Verifier(PETER.name, PETER.key_id, PETER.verifier().public, kind=0x02)


def test_a_signer_does_not_show_its_private_key_in_repr():
    assert "private" not in repr(PETER)


# --- signed notes ---------------------------------------------------------------------------------------------------


def test_signing_reproduces_the_published_note_byte_for_byte():
    kat = SIGNED_NOTE["sign_kat"]
    assert note.sign_note(kat["text"].encode(), [PETER]) == kat["expect_note"].encode()


def _case_bytes(case) -> bytes:
    return bytes.fromhex(case.get("msg_hex_prefix", "")) + case["msg"].encode()


@pytest.mark.parametrize("case", SIGNED_NOTE["open_cases"], ids=lambda c: f"{c['from']}-{c['expect']}")
def test_open_gives_the_published_verdict(case):
    verifiers = [note.parse_vkey(v) for v in case["vkeys"]]
    if case["expect"] != "ok":
        with pytest.raises(NoteError) as err:
            note.open_note(_case_bytes(case), verifiers)
        assert VERDICTS[type(err.value)] == case["expect"]
        return
    opened = note.open_note(_case_bytes(case), verifiers)
    assert [line.name for line in opened.signatures] == case["verified"]
    if "expect_text" in case:
        assert opened.text == case["expect_text"].encode()
    parsed = note.parse_note(_case_bytes(case))
    assert [line.name for line in parsed.signatures] == case["verified"] + case.get("unverified", [])


def test_the_c2sp_intro_note_splits_at_its_last_blank_line():
    example = SIGNED_NOTE["parse_only_examples"][0]
    parsed = note.parse_note(example["msg"].encode())
    assert parsed.text == example["expect_text"].encode()
    assert [line.name for line in parsed.signatures] == ["quasimodo.example/salvatore"]
    assert len(parsed.signatures[0].sig) == 64


def test_a_signature_line_decodes_into_key_id_and_signature():
    line = note.parse_note(SIGNED_NOTE["sign_kat"]["expect_note"].encode()).signatures[0]
    assert (line.name, line.key_id, len(line.sig)) == ("PeterNeumann", PETER.key_id, 64)
    assert note.format_signature_line(line) == SIGNED_NOTE["sign_kat"]["expect_note"].encode().split(b"\n\n")[1]


@pytest.mark.parametrize("bad", [
    b"text\n\n\xe2\x80\x94 PeterNeumann\n",  # no signature
    b"text\n\n\xe2\x80\x94 PeterNeumann  x08go/ZJ\n",  # two spaces
    b"text\n\n- PeterNeumann x08go/ZJkuBS9U\n",  # hyphen, not em dash
    b"text\n\n\xe2\x80\x94 PeterNeumann x08g\n",  # 3 bytes: no room for a signature after the key ID
    b"text\n\n\xe2\x80\x94 PeterNeumann x08go/ZJ\n\n",  # empty signature line
    b"text\r\n\n\xe2\x80\x94 PeterNeumann x08go/ZJ\n",  # carriage return
    b"text\n\n\xe2\x80\x94 PeterNeumann x08go/ZJ \n",
    b"text\n\n \xe2\x80\x94 PeterNeumann x08go/ZJ\n",
])
def test_malformed_notes_are_refused(bad):
    with pytest.raises(MalformedNote):
        note.parse_note(bad)


def test_a_signature_in_non_canonical_base64_is_refused():
    good = SIGNED_NOTE["sign_kat"]["expect_note"].encode()
    # "…JnAM=": the last character before "=" carries two unused bits; "JnAN=" decodes to the same bytes.
    assert good.endswith(b"JnAM=\n")
    with pytest.raises(MalformedNote):
        note.open_note(good.replace(b"JnAM=", b"JnAN="), [PETER.verifier()])


def test_unknown_keys_are_ignored_even_when_they_share_a_name_or_an_id():
    msg = SIGNED_NOTE["sign_kat"]["expect_note"].encode()
    impostor, _ = note.generate_signer("PeterNeumann")
    with pytest.raises(UnverifiedNote):
        note.open_note(msg, [impostor.verifier()])
    with_extra = msg + note.format_signature_line(SignatureLine("Someone", PETER.key_id, b"\x01" * 64))
    assert note.open_note(with_extra, [PETER.verifier()]).signatures == note.parse_note(msg).signatures


def test_a_failing_known_signature_rejects_the_note_even_after_a_good_one():
    msg = SIGNED_NOTE["sign_kat"]["expect_note"].encode()
    forged = note.format_signature_line(SignatureLine(PETER.name, PETER.key_id, b"\x01" * 64))
    with pytest.raises(InvalidSignature):
        note.open_note(msg + forged, [PETER.verifier()])
    short = note.format_signature_line(SignatureLine(PETER.name, PETER.key_id, b"\x01" * 12))
    with pytest.raises(InvalidSignature):
        note.open_note(msg + short, [PETER.verifier()])


def test_repeated_lines_of_one_key_are_verified_and_reported_once():
    msg = SIGNED_NOTE["sign_kat"]["expect_note"].encode()
    line = msg.split(b"\n\n")[1]
    assert len(note.open_note(msg + line + line, [PETER.verifier()]).signatures) == 1


def test_two_different_verifiers_with_one_name_and_key_id_are_ambiguous():
    # A real clash of name and key ID takes about 2^32 key generations, so the clashing verifier skips the key ID check.
    other = Ed25519PrivateKey.generate().public_key()
    clash = Verifier.__new__(Verifier)
    object.__setattr__(clash, "name", PETER.name)
    object.__setattr__(clash, "key_id", PETER.key_id)
    object.__setattr__(clash, "public", other)
    object.__setattr__(clash, "kind", 1)
    with pytest.raises(NoteError):
        note.open_note(SIGNED_NOTE["sign_kat"]["expect_note"].encode(), [PETER.verifier(), clash])
    assert note.open_note(SIGNED_NOTE["sign_kat"]["expect_note"].encode(), [PETER.verifier(), PETER.verifier()])
    assert {PETER.verifier(), note.parse_vkey(PETER.vkey)} == {PETER.verifier()}
    assert clash != PETER.verifier()


def test_a_note_with_16_and_with_100_signatures_opens_and_101_does_not():
    signers = [note.generate_signer(f"witness{i}.example")[0] for i in range(100)]
    for count in (16, 100):
        signed = note.sign_note(b"many\n", signers[:count])
        assert len(note.open_note(signed, [s.verifier() for s in signers]).signatures) == count
    extra = note.format_signature_line(SignatureLine("late", b"\0\0\0\0", b"\0" * 64))
    with pytest.raises(MalformedNote):
        note.parse_note(note.sign_note(b"many\n", signers) + extra)


@pytest.mark.parametrize("text", [b"no final newline", b"", b"bell\x07\n", b"\xff\n", b"tab\there\n"])
def test_sign_refuses_text_that_is_not_a_note_text(text):
    with pytest.raises(MalformedNote):
        note.sign_note(text, [PETER])


def test_sign_refuses_no_signers_repeated_signers_and_cosigner_keys():
    for signers in ([], [PETER, PETER], [note.as_cosigner(WIT1)]):
        with pytest.raises(NoteError):
            note.sign_note(b"text\n", signers)


@given(TEXTS, st.lists(NAMES, min_size=1, max_size=3, unique=True))
def test_signed_notes_round_trip(text, names):
    signers = [note.generate_signer(name)[0] for name in names]
    signed = note.sign_note(text, signers)
    parsed = note.parse_note(signed)
    assert parsed.text == text
    assert [(line.name, line.key_id) for line in parsed.signatures] == [(s.name, s.key_id) for s in signers]
    assert note.open_note(signed, [s.verifier() for s in signers]) == parsed
    assert note.open_note(signed, [signers[-1].verifier()]).signatures == parsed.signatures[-1:]


def _assert_every_altered_byte_fails(signed: bytes, verifiers, replacements) -> None:
    for position in range(len(signed)):
        for new in replacements(signed[position]):
            altered = signed[:position] + bytes([new]) + signed[position + 1:]
            with pytest.raises(NoteError):
                note.open_note(altered, verifiers)


def test_every_altered_byte_of_a_signed_checkpoint_fails_to_open():
    signed = signed_checkpoint(8, ROOT_8, origin="账本.example/v1")
    _assert_every_altered_byte_fails(signed, [PETER.verifier()],
                                     lambda b: {b ^ 0x01, b ^ 0x20, b ^ 0x80, 0x0A, 0x20, ord("+"), ord("=")} - {b})


@given(TEXTS, st.data())
def test_any_altered_byte_of_a_signed_note_fails_to_open(text, data):
    signed = note.sign_note(text, [PETER])
    position = data.draw(st.integers(0, len(signed) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != signed[position]))
    with pytest.raises(NoteError):
        note.open_note(signed[:position] + bytes([new]) + signed[position + 1:], [PETER.verifier()])


@given(TEXTS, st.data())
def test_any_removed_or_inserted_byte_fails_to_open(text, data):
    signed = note.sign_note(text, [PETER])
    position = data.draw(st.integers(0, len(signed) - 1))
    with pytest.raises(NoteError):
        note.open_note(signed[:position] + signed[position + 1:], [PETER.verifier()])
    inserted = signed[:position] + bytes([data.draw(st.integers(0, 255))]) + signed[position:]
    with pytest.raises(NoteError):
        note.open_note(inserted, [PETER.verifier()])


# --- checkpoints --------------------------------------------------------------------------------------------------


def test_the_c2sp_checkpoint_example_parses():
    example = CHECKPOINT["c2sp_example_signed"]
    parsed = note.parse_note(example["note"].encode())
    assert parsed.signatures[0].key_id.hex() == example["sig_key_id_hex"]
    checkpoint = note.parse_checkpoint(parsed.text)
    assert (checkpoint.origin, checkpoint.size, b64(checkpoint.root)) == (example["origin"], example["size"], example["root_b64"])
    assert checkpoint.extensions == ()
    assert checkpoint.body() == parsed.text


def test_the_sumdb_tree_note_parses_with_its_spaced_origin():
    tree = CHECKPOINT["sumdb_tree_note"]
    checkpoint = note.parse_checkpoint(tree["text"].encode())
    assert checkpoint.origin == "go.sum database tree"
    assert checkpoint.size == tree["size"]
    assert checkpoint.root == hashlib.sha256(b"\x00hello world").digest()


@pytest.mark.parametrize("case", CHECKPOINT["body_cases"], ids=lambda c: c["c2sp_strict"])
def test_checkpoint_bodies_get_the_strict_c2sp_verdict(case):
    if case["c2sp_strict"].startswith("ok"):
        assert note.parse_checkpoint(case["body"].encode()).body() == case["body"].encode()
    else:
        with pytest.raises(MalformedCheckpoint):
            note.parse_checkpoint(case["body"].encode())


ROOT_B64 = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="


@pytest.mark.parametrize("body", [
    f"Log\n+1\n{ROOT_B64}\n", f"Log\n 1\n{ROOT_B64}\n", f"Log\n1 \n{ROOT_B64}\n", f"Log\n1_0\n{ROOT_B64}\n",
    f"Log\n１\n{ROOT_B64}\n", f"Log\n18446744073709551616\n{ROOT_B64}\n", f"Log\n00\n{ROOT_B64}\n",
    f"Log\r\n1\r\n{ROOT_B64}\r\n", f"Log\n1\n{ROOT_B64}\n\next\n", f"Log\n1\n{ROOT_B64}\next\n\n",
    f"Log\n1\n{ROOT_B64[:-2]}J=\n", f"Log\n1\n{ROOT_B64[:-1]}\n", f"Log\n1\n {ROOT_B64}\n",
    "Log\n0\n" + b64(b"\0" * 32) + "\n",  # x/mod before v0.19 wrote zeros for the empty tree; RFC 6962 says SHA-256("")
    f"Log\x07\n1\n{ROOT_B64}\n",
])
def test_non_canonical_checkpoints_are_refused(body):
    with pytest.raises(MalformedCheckpoint):
        note.parse_checkpoint(body.encode())


def test_a_size_past_the_int_digit_limit_is_a_malformed_checkpoint():
    # Python's int() refuses over 4,300 digits with a plain ValueError; the parser must say MalformedCheckpoint.
    for digits in ("1" + "0" * 5000, "9" * 21, "1" * 4301):
        with pytest.raises(MalformedCheckpoint) as caught:
            note.parse_checkpoint(f"Log\n{digits}\n{ROOT_B64}\n".encode())
        assert len(str(caught.value)) < 200


def test_the_largest_size_and_extension_lines_are_accepted():
    body = f"example.com/log\n18446744073709551615\n{ROOT_B64}\nfirst ext\n— second\n".encode()
    checkpoint = note.parse_checkpoint(body)
    assert checkpoint.size == 2**64 - 1
    assert checkpoint.extensions == ("first ext", "— second")
    assert checkpoint.body() == body


@pytest.mark.parametrize("kwargs", [
    {"origin": ""}, {"origin": "a\nb"}, {"origin": "a\x00"}, {"size": -1}, {"size": 2**64}, {"size": True},
    {"size": "1"}, {"root": b"\0" * 31}, {"size": 0}, {"extensions": ("",)}, {"extensions": ("a\nb",)},
])
def test_checkpoints_refuse_bad_fields(kwargs):
    fields = {"origin": "example.com/log", "size": 1, "root": b"\x01" * 32} | kwargs
    with pytest.raises(MalformedCheckpoint):
        Checkpoint(**fields)


@given(NAMES, st.integers(1, 2**64 - 1), HASHES, st.lists(TEXTS.map(lambda t: t.decode().split("\n")[0]).filter(bool),
                                                          max_size=3))
def test_checkpoints_round_trip_through_a_signed_note(origin, size, root, extensions):
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    signed = note.sign_note(checkpoint.body(), [PETER])
    assert note.parse_checkpoint(note.open_note(signed, [PETER.verifier()]).text) == checkpoint


# --- cosignatures -------------------------------------------------------------------------------------------------


def test_the_cosigned_message_matches_the_spec_example():
    example = COSIGNATURE["spec_message_example"]
    message = note.cosignature_message(example["checkpoint_text"].encode(), example["timestamp"])
    assert message == example["expect_message"].encode()


def test_the_spec_cosignature_line_decodes():
    example = COSIGNATURE["spec_signature_line_decode"]
    signed = CHECKPOINT["c2sp_example_signed"]["note"] + example["line"]
    line = note.parse_note(signed.encode()).signatures[1]
    assert line.name == "witness.example.com/w1"
    assert line.key_id.hex() == example["expect_key_id_hex"]
    assert int.from_bytes(line.sig[:8], "big") == example["expect_timestamp"]
    assert len(line.sig) - 8 == example["expect_sig_len"]


def test_a_published_type_0x04_vkey_parses_with_its_key_id():
    verifier = note.parse_vkey(COSIGNATURE["key_id_0x04_vector"]["vkey"])
    assert (verifier.kind, verifier.key_id.hex()) == (0x04, "da77ade7")
    assert verifier.vkey.split("+")[2].startswith("B")


def test_cosigning_reproduces_the_derived_known_answer():
    kat = COSIGNATURE["derived_kat"]
    body = kat["checkpoint_text"].encode()
    line = note.cosign(WIT1, body, kat["timestamp"])
    assert note.format_signature_line(line) == kat["expect_signature_line"].encode()
    assert note.cosign(note.as_cosigner(WIT1), body, kat["timestamp"]) == line
    assert note.as_cosigner(WIT1).vkey == kat["cosigner_vkey_type04"]
    assert note.verify_cosignature(note.parse_vkey(kat["cosigner_vkey_type04"]), body, line) == kat["timestamp"]


def test_a_cosigned_checkpoint_opens_with_the_witness_key_alone():
    kat = COSIGNATURE["derived_kat"]
    signed = (CHECKPOINT["c2sp_example_signed"]["note"] + kat["expect_signature_line"]).encode()
    opened = note.open_note(signed, [note.parse_vkey(kat["cosigner_vkey_type04"])])
    assert [line.name for line in opened.signatures] == ["Wit1"]
    # Wit1's 0x01 key does not match the cosignature's 0x04 key ID, so it knows no line here.
    with pytest.raises(UnverifiedNote):
        note.open_note(signed, [WIT1.verifier()])


def test_a_cosignature_over_another_checkpoint_or_time_fails():
    kat = COSIGNATURE["derived_kat"]
    body = kat["checkpoint_text"].encode()
    witness = note.as_cosigner(WIT1).verifier()
    line = note.cosign(WIT1, body, kat["timestamp"])
    for bad_body, bad_line in (
        (body.replace(b"20852163", b"20852164"), line),
        (body, SignatureLine(line.name, line.key_id, (kat["timestamp"] + 1).to_bytes(8, "big") + line.sig[8:])),
        (body, SignatureLine(line.name, line.key_id, line.sig[:-1])),
        (body, SignatureLine("Wit2", line.key_id, line.sig)),
        (body, SignatureLine(line.name, line.key_id, (2**63).to_bytes(8, "big") + line.sig[8:])),
    ):
        with pytest.raises(InvalidSignature):
            note.verify_cosignature(witness, bad_body, bad_line)
    with pytest.raises(NoteError):
        note.verify_cosignature(WIT1.verifier(), body, line)
    signed = (CHECKPOINT["c2sp_example_signed"]["note"]).encode() + note.format_signature_line(
        SignatureLine(line.name, line.key_id, (1).to_bytes(8, "big") + line.sig[8:]))
    with pytest.raises(InvalidSignature):
        note.open_note(signed, [witness])


@pytest.mark.parametrize("timestamp", [-1, 2**63, True, 1.0])
def test_cosign_refuses_timestamps_outside_uint63(timestamp):
    with pytest.raises(NoteError):
        note.cosign(WIT1, COSIGNATURE["derived_kat"]["checkpoint_text"].encode(), timestamp)


def test_cosign_refuses_a_body_that_is_not_a_note_text():
    for body in (b"no newline", b"bad\x00\n", b"\xff\n"):
        with pytest.raises(NoteError):
            note.cosign(WIT1, body, 1)


@given(st.integers(0, 2**63 - 1), st.integers(1, 2**20), HASHES)
def test_cosignatures_round_trip(timestamp, size, root):
    body = Checkpoint("ledger.example/v1", size, root).body()
    line = note.cosign(WIT1, body, timestamp)
    assert len(line.sig) == 72
    assert note.verify_cosignature(note.as_cosigner(WIT1).verifier(), body, line) == timestamp
    signed = note.sign_note(body, [PETER]) + note.format_signature_line(line)
    opened = note.open_note(signed, [PETER.verifier(), note.as_cosigner(WIT1).verifier()])
    assert [s.name for s in opened.signatures] == [PETER.name, WIT1.name]


# --- tlog-proof ---------------------------------------------------------------------------------------------------

INCLUSION_8 = [p for p in TREE_8["inclusion_proofs"] if p["size"] == 8]


def _hashes(case) -> list[bytes]:
    return [bytes.fromhex(h) for h in case["proof_hex"]]


def test_a_proof_file_has_the_exact_tlog_proof_layout():
    signed = signed_checkpoint(8, ROOT_8)
    case = next(p for p in INCLUSION_8 if p["index"] == 5)
    text = note.format_tlog_proof(index=5, size=8, proof=_hashes(case), signed_checkpoint=signed, extra=[b"context"])
    expected = ("c2sp.org/tlog-proof@v1\n" + f"extra {b64(b'context')}\n" + "index 5\n"
                + "".join(b64(h) + "\n" for h in _hashes(case)) + "\n").encode() + signed
    assert text == expected
    without_extra = note.format_tlog_proof(index=5, size=8, proof=_hashes(case), signed_checkpoint=signed)
    assert without_extra == expected.replace(f"extra {b64(b'context')}\n".encode(), b"")


@pytest.mark.parametrize("case", TREE_8["inclusion_proofs"], ids=lambda p: f"{p['index']}-of-{p['size']}")
def test_published_inclusion_proofs_round_trip_through_a_proof_file(case):
    signed = signed_checkpoint(case["size"], bytes.fromhex(TREE_8["root_by_size_hex"][case["size"]]))
    text = note.format_tlog_proof(index=case["index"], size=case["size"], proof=_hashes(case), signed_checkpoint=signed)
    parsed = note.parse_tlog_proof(text)
    assert (parsed.index, parsed.proof, parsed.checkpoint, parsed.extra) == (case["index"], _hashes(case), signed, [])
    assert note.open_note(parsed.checkpoint, [PETER.verifier()]).text == note.parse_note(signed).text


def test_a_proof_file_keeps_the_cosignatures_of_its_checkpoint():
    body = Checkpoint("ledger.example/v1", 8, ROOT_8).body()
    cosigned = note.sign_note(body, [PETER]) + note.format_signature_line(note.cosign(WIT1, body, 1700000000))
    text = note.format_tlog_proof(index=0, size=8, proof=_hashes(INCLUSION_8[0]), signed_checkpoint=cosigned, extra=[b""])
    parsed = note.parse_tlog_proof(text)
    assert parsed.checkpoint == cosigned
    assert parsed.extra == [b""]
    assert len(note.open_note(parsed.checkpoint, [PETER.verifier(), note.as_cosigner(WIT1).verifier()]).signatures) == 2


@given(st.integers(1, 2**64 - 1), st.data(), st.lists(st.binary(max_size=64), max_size=1))
def test_proof_files_round_trip(size, data, extra):
    index = data.draw(st.integers(0, size - 1))
    length = note.inclusion_proof_length(index, size)
    proof = data.draw(st.lists(HASHES, min_size=length, max_size=length))
    signed = signed_checkpoint(size, b"\x07" * 32)
    text = note.format_tlog_proof(index=index, size=size, proof=proof, signed_checkpoint=signed, extra=extra)
    assert note.parse_tlog_proof(text) == note.TlogProof(index, proof, signed, list(extra))


def test_the_expected_proof_length_agrees_with_every_published_proof():
    for case in TREE_8["inclusion_proofs"]:
        assert note.inclusion_proof_length(case["index"], case["size"]) == len(case["proof_hex"])


def _proof_text(head: str, checkpoint: bytes | None = None) -> bytes:
    return head.encode() + b"\n" + (signed_checkpoint(8, ROOT_8) if checkpoint is None else checkpoint)


P5 = "".join(b64(h) + "\n" for h in _hashes(next(p for p in INCLUSION_8 if p["index"] == 5)))


@pytest.mark.parametrize("head", [
    f"c2sp.org/tlog-proof@v2\nindex 5\n{P5}",
    f"C2SP.org/tlog-proof@v1\nindex 5\n{P5}",
    f"c2sp.org/tlog-proof@v1\nextra\nindex 5\n{P5}",
    f"c2sp.org/tlog-proof@v1\nextra YR==\nindex 5\n{P5}",  # non-canonical padding bits
    f"c2sp.org/tlog-proof@v1\nextra !!\nindex 5\n{P5}",
    f"c2sp.org/tlog-proof@v1\nextra YQ==\nextra YQ==\nindex 5\n{P5}",
    f"c2sp.org/tlog-proof@v1\nindex 5\nextra YQ==\n{P5}",
    f"c2sp.org/tlog-proof@v1\n{P5}",
    f"c2sp.org/tlog-proof@v1\nindex 05\n{P5}",
    f"c2sp.org/tlog-proof@v1\nindex +5\n{P5}",
    f"c2sp.org/tlog-proof@v1\nindex  5\n{P5}",
    f"c2sp.org/tlog-proof@v1\nindex -5\n{P5}",
    f"c2sp.org/tlog-proof@v1\nindex 5 \n{P5}",
    f"c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n{P5}",
    f"c2sp.org/tlog-proof@v1\nindex 1{'0' * 5000}\n{P5}",  # past Python's 4,300-digit int() limit
    f"c2sp.org/tlog-proof@v1\nindex 8\n{P5}",  # beyond the tree
    f"c2sp.org/tlog-proof@v1\nindex 5\n{P5}{P5.splitlines()[0]}\n",  # one hash too many
    "c2sp.org/tlog-proof@v1\nindex 5\n" + "\n".join(P5.splitlines()[:2]) + "\n",  # one too few
    "c2sp.org/tlog-proof@v1\nindex 5\n" + P5.replace("=\n", "\n", 1),
    "c2sp.org/tlog-proof@v1\nindex 5\n" + b64(b"\0" * 33) + "\n" + "".join(P5.splitlines(True)[1:]),
    f"c2sp.org/tlog-proof@v1\r\nindex 5\r\n{P5}",
])
def test_malformed_proof_files_are_refused(head):
    with pytest.raises(MalformedProof):
        note.parse_tlog_proof(_proof_text(head))


def test_a_proof_file_needs_a_signed_checkpoint_after_a_blank_line():
    head = f"c2sp.org/tlog-proof@v1\nindex 5\n{P5}"
    body = Checkpoint("ledger.example/v1", 8, ROOT_8).body()
    for tail in (body, b"", b"\n" + signed_checkpoint(8, ROOT_8), signed_checkpoint(8, ROOT_8).replace(b"\n8\n", b"\n08\n")):
        with pytest.raises(MalformedProof):
            note.parse_tlog_proof(_proof_text(head, tail))
    with pytest.raises(MalformedProof):
        note.parse_tlog_proof(head.encode() + signed_checkpoint(8, ROOT_8))
    with pytest.raises(MalformedProof):
        note.parse_tlog_proof(b"")


def test_format_refuses_a_proof_that_does_not_fit_its_checkpoint():
    signed = signed_checkpoint(8, ROOT_8)
    proof = _hashes(next(p for p in INCLUSION_8 if p["index"] == 5))
    for kwargs in (
        {"size": 9}, {"index": 8}, {"index": -1}, {"index": True}, {"proof": proof[:2]}, {"proof": [*proof[:2], b"\0" * 31]},
        {"extra": [b"a", b"b"]}, {"extra": ["text"]}, {"signed_checkpoint": note.parse_note(signed).text},
    ):
        with pytest.raises(MalformedProof):
            note.format_tlog_proof(**({"index": 5, "size": 8, "proof": proof, "signed_checkpoint": signed} | kwargs))
