"""Sign, parse and verify the ledger's text formats: C2SP signed-note, tlog-checkpoint, tlog-cosignature and tlog-proof."""

# Pure: stdlib and `cryptography` only. Every parser is strict (DESIGN §5: lenient is a bug) and raises a NoteError
# subclass; the service layer turns those into Problems. Sources: C2SP signed-note.md, tlog-checkpoint.md,
# tlog-cosignature.md (C2SP/C2SP @ 5ba5ee83, 01194db1) and tlog-proof.md (@ 0065ea5b); byte layouts and pitfalls in
# reference/transparency-log-formats.md (b), (c), (e).

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

# signed-note "Signature types": the type byte that goes into key IDs and vkeys.
KIND_ED25519 = 0x01
KIND_COSIGNATURE_V1 = 0x04
KINDS = (KIND_ED25519, KIND_COSIGNATURE_V1)

KEY_ID_SIZE = 4
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
TIMESTAMP_SIZE = 8
HASH_SIZE = 32
# signed-note "Format": verifiers MUST accept at least 16 signatures and SHOULD cap them; Go's note.Open stops at 100.
MAX_SIGNATURES = 100
# tlog-cosignature "Format": the timestamp MUST NOT exceed 2^63 - 1.
MAX_TIMESTAMP = 2**63 - 1
# tlog-checkpoint "Note text": the size is a uint64.
MAX_TREE_SIZE = 2**64 - 1

SIGNATURE_PREFIX = "\u2014 ".encode()  # signed-note "Format": em dash U+2014, space
SKEY_PREFIX = "PRIVATE+KEY+"  # golang.org/x/mod/sumdb/note signer keys; not part of C2SP
COSIGNATURE_HEADER = b"cosignature/v1\n"
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"

# RFC 6962 §2.1: MTH({}) = SHA-256(""); tlog-witness requires this root for a size-0 checkpoint.
_EMPTY_TREE_ROOT = hashlib.sha256(b"").digest()
_CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f]")
# At most 20 digits (2^64 - 1 has 20): the uint64 check then never calls int() on text past Python's 4,300-digit limit,
# whose plain ValueError would escape the NoteError handlers.
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,19})", re.ASCII)
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}", re.ASCII)


class NoteError(ValueError):
    """Signal that a key, note, checkpoint, cosignature or proof is not acceptable."""

    zh = "签名注记无效"


class MalformedKey(NoteError):
    """Signal a signer or verifier key that does not parse or whose key ID does not match."""

    zh = "密钥格式错误或密钥标识不符"


class MalformedNote(NoteError):
    """Signal a signed note that breaks the C2SP signed-note format."""

    zh = "签名注记格式错误"


class InvalidSignature(NoteError):
    """Signal a signature from a known key that does not verify."""

    zh = "签名验证失败"


class UnverifiedNote(NoteError):
    """Signal a note that carries no verified signature from a known key."""

    zh = "注记没有可信密钥的有效签名"


class MalformedCheckpoint(NoteError):
    """Signal a checkpoint body that breaks the C2SP tlog-checkpoint format."""

    zh = "检查点格式错误"


class MalformedProof(NoteError):
    """Signal a proof file that breaks the C2SP tlog-proof format."""

    zh = "透明日志证明文件格式错误"


# ---------------------------------------------------------------------------------------------------------------------
# Keys (signed-note "Signatures", "Ed25519 signatures"; vkeys per signed-note v1.0.0 "Verifier keys")


def key_id(name: str, kind: int, public_raw: bytes) -> bytes:
    """Return the 4-byte key ID SHA-256(name || 0x0A || kind || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public_raw).digest()[:KEY_ID_SIZE]


def _check_name(name: str, error: type[NoteError]) -> None:
    # signed-note "Format": key names are non-empty, with no Unicode spaces and no plus; control characters are
    # banned from the whole note.
    if not isinstance(name, str) or not name:
        raise error("key name is empty")
    if any(ch.isspace() or ch == "+" or ord(ch) < 0x20 for ch in name):
        raise error(f"key name {name!r} contains a space, a plus or a control character")
    try:
        name.encode()
    except UnicodeEncodeError as exc:
        raise error("key name is not valid Unicode text") from exc


def _check_kind(kind: int, error: type[NoteError]) -> None:
    if kind not in KINDS:
        raise error(f"signature type {kind!r} is not Ed25519 (0x01) or Ed25519 cosignature/v1 (0x04)")


def _shown(text: str, limit: int = 40) -> str:
    # Quotes a rejected field in an error message; a hostile one may be kilobytes long.
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode(text: str, error: type[NoteError], what: str) -> bytes:
    # RFC 4648 §4 with padding, and canonical (§3.5): re-encoding must give the same text, so no two strings decode
    # to the same bytes and no character of a signed note can change unnoticed.
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise error(f"{what} is not standard base64") from exc
    if _b64encode(raw) != text:
        raise error(f"{what} is not canonical base64")
    return raw


def _public_raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def vkey_for(name: str, kind: int, public_raw: bytes) -> str:
    """Return the verifier key text "<name>+<hex key ID>+<base64(kind || public key)>"."""
    _check_name(name, MalformedKey)
    _check_kind(kind, MalformedKey)
    if len(public_raw) != PUBLIC_KEY_SIZE:
        raise MalformedKey(f"an Ed25519 public key has {PUBLIC_KEY_SIZE} bytes, not {len(public_raw)}")
    return f"{name}+{key_id(name, kind, public_raw).hex()}+{_b64encode(bytes([kind]) + public_raw)}"


@dataclass(frozen=True)
class Verifier:
    """Hold a trusted public key: its name, key ID and signature type (0x01 note, 0x04 cosignature/v1)."""

    name: str
    key_id: bytes
    public: Ed25519PublicKey
    kind: int = KIND_ED25519

    def __post_init__(self) -> None:
        _check_name(self.name, MalformedKey)
        _check_kind(self.kind, MalformedKey)
        if self.key_id != key_id(self.name, self.kind, self.public_raw):
            raise MalformedKey(f"key ID {self.key_id.hex()} does not belong to key {self.name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verifier):
            return NotImplemented
        return (self.name, self.kind, self.public_raw) == (other.name, other.kind, other.public_raw)

    def __hash__(self) -> int:
        return hash((self.name, self.kind, self.public_raw))

    @property
    def public_raw(self) -> bytes:
        """Return the 32-byte RFC 8032 public key."""
        return _public_raw(self.public)

    @property
    def vkey(self) -> str:
        """Return this key in vkey text form."""
        return vkey_for(self.name, self.kind, self.public_raw)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Say whether signature is this key's Ed25519 signature of message."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            self.public.verify(signature, message)
        except _CryptoInvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """Hold a private Ed25519 key with its name and key ID; kind 0x04 marks a witness (cosigner) key."""

    name: str
    key_id: bytes
    private: Ed25519PrivateKey = field(repr=False)
    kind: int = KIND_ED25519

    def __post_init__(self) -> None:
        _check_name(self.name, MalformedKey)
        _check_kind(self.kind, MalformedKey)
        if self.key_id != key_id(self.name, self.kind, self.public_raw):
            raise MalformedKey(f"key ID {self.key_id.hex()} does not belong to key {self.name!r}")

    def sign(self, text: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature (RFC 8032) of text."""
        return self.private.sign(text)

    @property
    def public_raw(self) -> bytes:
        """Return the 32-byte RFC 8032 public key."""
        return _public_raw(self.private.public_key())

    @property
    def vkey(self) -> str:
        """Return the verifier key text that checks this signer's signatures."""
        return vkey_for(self.name, self.kind, self.public_raw)

    def verifier(self) -> Verifier:
        """Return the Verifier for this signer's public key."""
        return Verifier(self.name, self.key_id, self.private.public_key(), self.kind)


def as_cosigner(signer: Signer) -> Signer:
    """Return the same key as a cosignature/v1 (type 0x04) signer, as witnesses use an ordinary Ed25519 skey."""
    return replace(signer, kind=KIND_COSIGNATURE_V1, key_id=key_id(signer.name, KIND_COSIGNATURE_V1, signer.public_raw))


def format_skey(signer: Signer) -> str:
    """Return the Go-format signer key text of a signer's private key (always type 0x01, as Go defines it)."""
    seed = signer.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    # The Go skey always carries type 0x01 and the 0x01 key ID; a cosigner derives its 0x04 ID from the same key.
    kid = key_id(signer.name, KIND_ED25519, signer.public_raw)
    return f"{SKEY_PREFIX}{signer.name}+{kid.hex()}+{_b64encode(bytes([KIND_ED25519]) + seed)}"


def generate_signer(name: str) -> tuple[Signer, str]:
    """Make a fresh Ed25519 key and return its signer and its skey text "PRIVATE+KEY+<name>+<hex>+<base64>"."""
    _check_name(name, MalformedKey)
    private = Ed25519PrivateKey.generate()
    signer = Signer(name, key_id(name, KIND_ED25519, _public_raw(private.public_key())), private)
    return signer, format_skey(signer)


def parse_skey(text: str) -> Signer:
    """Read a Go-format signer key (type 0x01, 32-byte seed), checking its key ID."""
    if not isinstance(text, str) or not text.startswith(SKEY_PREFIX):
        raise MalformedKey(f"a signer key starts with {SKEY_PREFIX!r}")
    parts = text[len(SKEY_PREFIX):].split("+", 2)
    if len(parts) != 3:
        raise MalformedKey("a signer key has the form PRIVATE+KEY+<name>+<key ID>+<key>")
    name, hex_id, b64 = parts
    _check_name(name, MalformedKey)
    if not _KEY_ID_HEX.fullmatch(hex_id):
        raise MalformedKey("the key ID is 8 lower-case hexadecimal digits")
    raw = _b64decode(b64, MalformedKey, "the private key")
    if len(raw) != 1 + PUBLIC_KEY_SIZE or raw[0] != KIND_ED25519:
        raise MalformedKey("a signer key holds the type byte 0x01 and a 32-byte Ed25519 seed")
    private = Ed25519PrivateKey.from_private_bytes(raw[1:])
    kid = key_id(name, KIND_ED25519, _public_raw(private.public_key()))
    if kid.hex() != hex_id:
        raise MalformedKey(f"key ID {hex_id} does not match the key (expected {kid.hex()})")
    return Signer(name, kid, private)


def parse_vkey(text: str) -> Verifier:
    """Read a verifier key of type 0x01 or 0x04, recomputing and checking its key ID."""
    if not isinstance(text, str):
        raise MalformedKey("a verifier key is text")
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise MalformedKey("a verifier key has the form <name>+<key ID>+<key>")
    name, hex_id, b64 = parts
    _check_name(name, MalformedKey)
    if not _KEY_ID_HEX.fullmatch(hex_id):
        raise MalformedKey("the key ID is 8 lower-case hexadecimal digits")
    raw = _b64decode(b64, MalformedKey, "the public key")
    if len(raw) != 1 + PUBLIC_KEY_SIZE:
        raise MalformedKey("a verifier key holds a type byte and a 32-byte Ed25519 public key")
    _check_kind(raw[0], MalformedKey)
    kid = key_id(name, raw[0], raw[1:])
    if kid.hex() != hex_id:
        raise MalformedKey(f"key ID {hex_id} does not match the key (expected {kid.hex()})")
    return Verifier(name, kid, Ed25519PublicKey.from_public_bytes(raw[1:]), raw[0])


# ---------------------------------------------------------------------------------------------------------------------
# Signed notes (signed-note "Format" and "Signatures")


@dataclass(frozen=True)
class SignatureLine:
    """Hold one signature line: key name, 4-byte key ID and the signature bytes that follow the ID."""

    name: str
    key_id: bytes
    sig: bytes


@dataclass(frozen=True)
class Note:
    """Hold a note's signed text (with its final newline) and its signature lines."""

    text: bytes
    signatures: list[SignatureLine]


def _check_note_text(text: bytes, error: type[NoteError]) -> None:
    # signed-note "Format": valid UTF-8, no ASCII control character but newline.
    if not isinstance(text, bytes):
        raise error("a note is bytes")
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error("the text is not valid UTF-8") from exc
    if _CONTROL.search(text):
        raise error("the text contains a control character other than newline")


def format_signature_line(line: SignatureLine) -> bytes:
    """Return the line "— <name> <base64(key ID || signature)>" with its newline."""
    _check_name(line.name, MalformedNote)
    if len(line.key_id) != KEY_ID_SIZE or not line.sig:
        raise MalformedNote("a signature line holds a 4-byte key ID and a non-empty signature")
    return SIGNATURE_PREFIX + line.name.encode() + b" " + _b64encode(line.key_id + line.sig).encode() + b"\n"


def _parse_signature_line(line: bytes) -> SignatureLine:
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNote("a signature line starts with an em dash and a space")
    name, space, b64 = line[len(SIGNATURE_PREFIX):].decode().partition(" ")
    if not space:
        raise MalformedNote("a signature line is '— <name> <signature>'")
    _check_name(name, MalformedNote)
    raw = _b64decode(b64, MalformedNote, "the signature")
    # signed-note "Signatures": base64 of 4+n bytes; n > 0.
    if len(raw) <= KEY_ID_SIZE:
        raise MalformedNote("a signature holds a 4-byte key ID and at least one byte")
    return SignatureLine(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def parse_note(data: bytes) -> Note:
    """Split a signed note into its text and all its signature lines, strictly, without verifying anything."""
    _check_note_text(data, MalformedNote)
    # signed-note "Format": the text ends with a newline and is separated from the signatures by the LAST blank line;
    # the text itself may hold blank lines.
    split = data.rfind(b"\n\n")
    if split < 0:
        raise MalformedNote("a signed note has a blank line before its signatures")
    text, block = data[: split + 1], data[split + 2 :]
    if not block or not block.endswith(b"\n"):
        raise MalformedNote("a signed note ends with one or more newline-terminated signature lines")
    lines = block[:-1].split(b"\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"a note may carry at most {MAX_SIGNATURES} signatures")
    return Note(text, [_parse_signature_line(line) for line in lines])


def sign_note(text: bytes, signers: Sequence[Signer]) -> bytes:
    """Sign a note text (ending in a newline) with each Ed25519 (type 0x01) signer and return the signed note."""
    _check_note_text(text, MalformedNote)
    if not text.endswith(b"\n"):
        raise MalformedNote("a note text ends with a newline")
    if not signers or len(signers) > MAX_SIGNATURES:
        raise NoteError(f"a note is signed by 1 to {MAX_SIGNATURES} keys")
    seen: set[tuple[str, bytes]] = set()
    lines = []
    for signer in signers:
        if signer.kind != KIND_ED25519:
            raise NoteError("a cosigner key (type 0x04) signs with cosign(), not sign_note()")
        if (signer.name, signer.key_id) in seen:
            raise NoteError(f"key {signer.name!r} is listed twice")
        seen.add((signer.name, signer.key_id))
        lines.append(format_signature_line(SignatureLine(signer.name, signer.key_id, signer.sign(text))))
    return text + b"\n" + b"".join(lines)


def _verifies(verifier: Verifier, text: bytes, line: SignatureLine) -> bool:
    if verifier.kind == KIND_COSIGNATURE_V1:
        try:
            verify_cosignature(verifier, text, line)
        except NoteError:
            return False
        return True
    return verifier.verify(text, line.sig)


def open_note(data: bytes, verifiers: Sequence[Verifier]) -> Note:
    """Parse a signed note and verify it; return its text and the verified signature lines (one per known key)."""
    known: dict[tuple[str, bytes], Verifier] = {}
    for verifier in verifiers:
        other = known.setdefault((verifier.name, verifier.key_id), verifier)
        if other != verifier:
            raise NoteError(f"two verifier keys share the name {verifier.name!r} and key ID {verifier.key_id.hex()}")
    note = parse_note(data)
    verified: list[SignatureLine] = []
    seen: set[tuple[str, bytes]] = set()
    for line in note.signatures:
        # signed-note "Signatures": ignore unknown (name, key ID) pairs, verify every known one, and reject the whole
        # note if one fails (a SHOULD in C2SP; Go does it too).
        verifier = known.get((line.name, line.key_id))
        if verifier is None:
            continue
        if not _verifies(verifier, note.text, line):
            raise InvalidSignature(f"the signature by {line.name!r} ({line.key_id.hex()}) does not verify")
        if (line.name, line.key_id) not in seen:
            seen.add((line.name, line.key_id))
            verified.append(line)
    if not verified:
        raise UnverifiedNote("no signature on the note comes from a known key")
    return Note(note.text, verified)


# ---------------------------------------------------------------------------------------------------------------------
# Checkpoints (tlog-checkpoint "Note text")


@dataclass(frozen=True)
class Checkpoint:
    """Hold a checkpoint: origin line, tree size, 32-byte RFC 6962 root hash and optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for what, line in (("origin", self.origin), *(("extension line", ext) for ext in self.extensions)):
            # tlog-checkpoint "Note text": the origin and any extension lines are non-empty single lines.
            if not isinstance(line, str) or not line:
                raise MalformedCheckpoint(f"the {what} is a non-empty line")
            if "\n" in line:
                raise MalformedCheckpoint(f"the {what} is one line")
            try:
                encoded = line.encode()
            except UnicodeEncodeError as exc:
                raise MalformedCheckpoint(f"the {what} is not valid Unicode text") from exc
            _check_note_text(encoded, MalformedCheckpoint)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpoint("the tree size is an integer from 0 to 2^64 - 1")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise MalformedCheckpoint(f"the root hash has {HASH_SIZE} bytes")
        if self.size == 0 and self.root != _EMPTY_TREE_ROOT:
            raise MalformedCheckpoint("the root of the empty tree is SHA-256 of the empty string")

    def body(self) -> bytes:
        """Return the note text "<origin>\\n<size>\\n<base64 root>\\n" followed by any extension lines."""
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines).encode()


def parse_checkpoint(text: bytes) -> Checkpoint:
    """Read a checkpoint note text strictly: canonical size, 32-byte canonical base64 root, no empty line."""
    _check_note_text(text, MalformedCheckpoint)
    if not text.endswith(b"\n"):
        raise MalformedCheckpoint("a checkpoint ends with a newline")
    lines = text[:-1].decode().split("\n")
    if len(lines) < 3 or not all(lines):
        raise MalformedCheckpoint("a checkpoint has at least three lines, none of them empty")
    origin, size_text, root_text, *extensions = lines
    # tlog-checkpoint "Note text" 2: ASCII decimal, no leading zeroes unless the tree is empty.
    if not _DECIMAL.fullmatch(size_text) or int(size_text) > MAX_TREE_SIZE:
        raise MalformedCheckpoint(f"the tree size {_shown(size_text)} is not a decimal from 0 to 2^64 - 1 without leading zeros")
    root = _b64decode(root_text, MalformedCheckpoint, "the root hash")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


# ---------------------------------------------------------------------------------------------------------------------
# Cosignatures (tlog-cosignature "Format" and "Ed25519 signed message")


def cosignature_message(checkpoint_body: bytes, timestamp: int) -> bytes:
    """Return the signed message "cosignature/v1\\ntime <t>\\n" followed by the checkpoint note text."""
    _check_note_text(checkpoint_body, MalformedCheckpoint)
    if not checkpoint_body.endswith(b"\n"):
        raise MalformedCheckpoint("a checkpoint ends with a newline")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError("a cosignature timestamp is an integer from 0 to 2^63 - 1")
    return COSIGNATURE_HEADER + b"time %d\n" % timestamp + checkpoint_body


def cosign(signer: Signer, checkpoint_body: bytes, timestamp: int) -> SignatureLine:
    """Cosign a checkpoint at a POSIX time: key ID of type 0x04, signature = 8-byte big-endian time || Ed25519."""
    message = cosignature_message(checkpoint_body, timestamp)
    witness = signer if signer.kind == KIND_COSIGNATURE_V1 else as_cosigner(signer)
    return SignatureLine(witness.name, witness.key_id, timestamp.to_bytes(TIMESTAMP_SIZE, "big") + witness.sign(message))


def verify_cosignature(verifier: Verifier, checkpoint_body: bytes, line: SignatureLine) -> int:
    """Check a cosignature line against a type-0x04 key and return its timestamp."""
    if verifier.kind != KIND_COSIGNATURE_V1:
        raise NoteError(f"key {verifier.name!r} is not a cosignature/v1 (type 0x04) key")
    if (line.name, line.key_id) != (verifier.name, verifier.key_id):
        raise InvalidSignature(f"the line is signed by {line.name!r} ({line.key_id.hex()}), not by {verifier.name!r}")
    if len(line.sig) != TIMESTAMP_SIZE + SIGNATURE_SIZE:
        raise InvalidSignature("a cosignature/v1 signature is an 8-byte timestamp and a 64-byte Ed25519 signature")
    timestamp = int.from_bytes(line.sig[:TIMESTAMP_SIZE], "big")
    if timestamp > MAX_TIMESTAMP:
        raise InvalidSignature("a cosignature timestamp does not exceed 2^63 - 1")
    if not verifier.verify(cosignature_message(checkpoint_body, timestamp), line.sig[TIMESTAMP_SIZE:]):
        raise InvalidSignature(f"the cosignature by {line.name!r} does not verify")
    return timestamp


# ---------------------------------------------------------------------------------------------------------------------
# Offline proofs (tlog-proof "Format")


@dataclass(frozen=True)
class TlogProof:
    """Hold a tlog-proof: entry index, inclusion proof (leaf side first), signed checkpoint and extra data."""

    index: int
    proof: list[bytes]
    checkpoint: bytes
    extra: list[bytes] = field(default_factory=list)


def inclusion_proof_length(index: int, size: int) -> int:
    """Return how many hashes an RFC 9162 inclusion proof has for the entry at index in a tree of size entries."""
    # RFC 9162 §2.1.3.2: one hash per level where index and size-1 differ (inner), plus one per set bit of the
    # index above them (border).
    inner = (index ^ (size - 1)).bit_length()
    return inner + bin(index >> inner).count("1")


def _checkpoint_size(signed_checkpoint: bytes) -> int:
    try:
        return parse_checkpoint(parse_note(signed_checkpoint).text).size
    except NoteError as exc:
        raise MalformedProof(f"the checkpoint in the proof is not a signed checkpoint: {exc}") from exc


def _check_proof(index: int, size: int, proof: Sequence[bytes]) -> None:
    if not 0 <= index < size:
        raise MalformedProof(f"entry index {index} is outside the checkpoint's tree of size {size}")
    if any(not isinstance(h, bytes) or len(h) != HASH_SIZE for h in proof):
        raise MalformedProof(f"every proof hash has {HASH_SIZE} bytes")
    expected = inclusion_proof_length(index, size)
    if len(proof) != expected:
        raise MalformedProof(f"an inclusion proof for entry {index} in a tree of {size} has {expected} hashes, not {len(proof)}")


def format_tlog_proof(
    *, index: int, size: int, proof: Sequence[bytes], signed_checkpoint: bytes, extra: Sequence[bytes] = ()
) -> bytes:
    """Return a c2sp.org/tlog-proof@v1 file for the entry at index in the signed checkpoint of the given size."""
    if isinstance(index, bool) or not isinstance(index, int):
        raise MalformedProof("the entry index is an integer")
    if _checkpoint_size(signed_checkpoint) != size:
        raise MalformedProof(f"the signed checkpoint is not of size {size}")
    _check_proof(index, size, proof)
    # tlog-proof "Format": the second line MAY carry one base64 blob of extra data; there is no place for more.
    if len(extra) > 1 or any(not isinstance(e, bytes) for e in extra):
        raise MalformedProof("a tlog-proof carries at most one extra data item, as bytes")
    lines = [TLOG_PROOF_HEADER, *(f"extra {_b64encode(e)}" for e in extra), f"index {index}", *map(_b64encode, proof)]
    return "".join(line + "\n" for line in lines).encode() + b"\n" + signed_checkpoint


def parse_tlog_proof(data: bytes) -> TlogProof:
    """Read a c2sp.org/tlog-proof@v1 file strictly; its checkpoint must be a well-formed signed checkpoint."""
    _check_note_text(data, MalformedProof)
    # tlog-proof "Format": header, optional extra line, index line, zero or more hash lines, an empty line, then the
    # signed checkpoint verbatim. None of the lines before the empty line can be empty, so the first blank line ends them.
    end = data.find(b"\n\n")
    if end < 0:
        raise MalformedProof("a tlog-proof has an empty line before its checkpoint")
    lines = data[:end].decode().split("\n")
    signed_checkpoint = data[end + 2 :]
    if lines[0] != TLOG_PROOF_HEADER:
        raise MalformedProof(f"a tlog-proof starts with the line {TLOG_PROOF_HEADER!r}")
    position = 1
    extra = []
    if position < len(lines) and lines[position].startswith("extra "):
        extra.append(_b64decode(lines[position][len("extra ") :], MalformedProof, "the extra data"))
        position += 1
    if position >= len(lines) or not lines[position].startswith("index "):
        raise MalformedProof("a tlog-proof names the entry on an 'index <n>' line")
    index_text = lines[position][len("index ") :]
    if not _DECIMAL.fullmatch(index_text) or int(index_text) > MAX_TREE_SIZE:
        raise MalformedProof(f"the index {_shown(index_text)} is not a decimal from 0 to 2^64 - 1 without leading zeros")
    proof = [_b64decode(line, MalformedProof, "a proof hash") for line in lines[position + 1 :]]
    index = int(index_text)
    _check_proof(index, _checkpoint_size(signed_checkpoint), proof)
    return TlogProof(index, proof, signed_checkpoint, extra)
