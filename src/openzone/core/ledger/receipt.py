"""Build and check offline receipts: a C2SP tlog-proof whose extra data is the ledger entry itself."""

# Pure: stdlib and the ledger's pure merkle and note modules. A receipt is exactly a c2sp.org/tlog-proof@v1 file
# (tlog-proof.md @ 0065ea5b): its optional "extra" line carries the entry bytes, which the spec allows as "additional
# data necessary to reconstruct the record hash". The spec also says the extra data is not authenticated; it need not
# be: the verifier hashes it into the leaf and proves that leaf into a checkpoint signed by keys the verifier chose.

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openzone.core.ledger import merkle, note

# tlog-proof "Format": proofs SHOULD be stored with this file extension.
RECEIPT_SUFFIX = ".tlog-proof"
# The largest entry (16 KiB, base64 ~22 KB), 63 proof hashes and a note with 100 signature lines fit well inside.
MAX_RECEIPT_BYTES = 64 * 1024
MAX_ENTRY_BYTES = 16 * 1024
ENTRY_MEMBERS = frozenset({"v", "type", "time", "actor", "digests", "commitments", "data"})
ENTRY_VERSION = 1


class ReceiptError(ValueError):
    """Signal a receipt or key list that does not check out, with the reason in Chinese and in English."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en


class MalformedReceipt(ReceiptError):
    """Signal bytes that are not a well-formed receipt (a tlog-proof carrying one entry)."""


class InvalidKeys(ReceiptError):
    """Signal a verifier key list that cannot be used (bad vkey, no log key, impossible quorum)."""


class UntrustedCheckpoint(ReceiptError):
    """Signal a checkpoint that no trusted log key signed, or a trusted signature that fails."""


class NotIncluded(ReceiptError):
    """Signal an entry whose leaf hash the inclusion proof does not lead to the checkpoint's root."""


class QuorumNotMet(ReceiptError):
    """Signal a checkpoint cosigned by fewer trusted witnesses than the quorum, or with a failing cosignature."""


class UnknownEntry(ReceiptError):
    """Signal proven entry bytes that are not a version-1 ledger entry, so their fields cannot be shown."""


def _note_reason(exc: note.NoteError | merkle.MerkleError) -> tuple[str, str]:
    # NoteError classes carry a Chinese title; the detail of both error families is English, shown after it.
    zh = getattr(exc, "zh", "证明无效")
    return zh, str(exc)


@dataclass(frozen=True)
class Receipt:
    """Hold a parsed receipt: the entry bytes, its index, the inclusion proof and the signed checkpoint."""

    entry: bytes
    index: int
    proof: tuple[bytes, ...]
    signed_checkpoint: bytes
    checkpoint: note.Checkpoint

    @property
    def leaf_hash(self) -> bytes:
        """Return the RFC 9162 leaf hash SHA-256(0x00 || entry)."""
        return merkle.leaf_hash(self.entry)


def build_receipt(*, entry: bytes, index: int, proof: Sequence[bytes], signed_checkpoint: bytes) -> bytes:
    """Return the receipt file for an entry: a tlog-proof with the entry as extra data, checked before it is handed out."""
    if not isinstance(entry, bytes) or not entry or len(entry) > MAX_ENTRY_BYTES:
        raise MalformedReceipt(f"条目须为1到{MAX_ENTRY_BYTES}字节", f"An entry has 1 to {MAX_ENTRY_BYTES} bytes")
    try:
        data = note.format_tlog_proof(index=index, size=_checkpoint_of(signed_checkpoint).size, proof=proof,
                                      signed_checkpoint=signed_checkpoint, extra=[entry])
    except note.NoteError as exc:
        raise MalformedReceipt(*_prefixed("无法生成收据", "Cannot build the receipt", exc)) from exc
    receipt = parse_receipt(data)
    _check_inclusion(receipt)
    return data


def _prefixed(zh: str, en: str, exc: note.NoteError | merkle.MerkleError) -> tuple[str, str]:
    reason_zh, reason_en = _note_reason(exc)
    return f"{zh}：{reason_zh}（{reason_en}）", f"{en}: {reason_en}"


def _checkpoint_of(signed_checkpoint: bytes) -> note.Checkpoint:
    try:
        return note.parse_checkpoint(note.parse_note(signed_checkpoint).text)
    except note.NoteError as exc:
        raise MalformedReceipt(*_prefixed("收据中的检查点格式错误", "The checkpoint in the receipt is malformed", exc)) from exc


def parse_receipt(data: bytes) -> Receipt:
    """Read a receipt strictly: a c2sp.org/tlog-proof@v1 file with exactly one extra data item, the entry."""
    if not isinstance(data, bytes):
        raise MalformedReceipt("收据须为字节内容", "A receipt is bytes")
    if len(data) > MAX_RECEIPT_BYTES:
        raise MalformedReceipt(f"收据不得超过{MAX_RECEIPT_BYTES // 1024} KiB",
                               f"A receipt may take at most {MAX_RECEIPT_BYTES // 1024} KiB")
    try:
        proof = note.parse_tlog_proof(data)
    except note.NoteError as exc:
        raise MalformedReceipt(*_prefixed("收据格式错误", "The receipt is malformed", exc)) from exc
    if len(proof.extra) != 1 or not proof.extra[0]:
        raise MalformedReceipt("收据缺少条目原文（tlog-proof 的 extra 行）",
                               "The receipt does not carry the entry (the tlog-proof extra line)")
    entry = proof.extra[0]
    if len(entry) > MAX_ENTRY_BYTES:
        raise MalformedReceipt(f"收据中的条目超过{MAX_ENTRY_BYTES}字节",
                               f"The entry in the receipt exceeds {MAX_ENTRY_BYTES} bytes")
    return Receipt(entry, proof.index, tuple(proof.proof), proof.checkpoint, _checkpoint_of(proof.checkpoint))


def parse_keys(text: str) -> list[note.Verifier]:
    """Read verifier keys, one C2SP vkey per line; blank lines and lines starting with # are skipped."""
    keys: list[note.Verifier] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            key = note.parse_vkey(line)
        except note.NoteError as exc:
            raise InvalidKeys(f"第{number}行不是有效的验证密钥（vkey）：{exc}",
                              f"Line {number} is not a valid verifier key (vkey): {exc}") from exc
        if key not in keys:
            keys.append(key)
    return keys


def split_keys(keys: Sequence[note.Verifier]) -> tuple[list[note.Verifier], list[note.Verifier]]:
    """Split verifier keys into log keys (type 0x01) and witness keys (type 0x04, cosignature/v1)."""
    logs = [k for k in keys if k.kind == note.KIND_ED25519]
    witnesses = [k for k in keys if k.kind == note.KIND_COSIGNATURE_V1]
    return logs, witnesses


@dataclass(frozen=True)
class Cosigner:
    """Name a trusted witness that cosigned the checkpoint, and when (POSIX seconds) it says it did."""

    name: str
    key_id: bytes
    timestamp: int

    @property
    def time(self) -> dt.datetime:
        """Return the cosignature time as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.timestamp, dt.UTC)


@dataclass(frozen=True)
class EntryFields:
    """Hold the members of a version-1 ledger entry, as the receipt proves them."""

    type: str
    time: str
    actor: str | None
    digests: dict[str, str]
    commitments: dict[str, str]
    data: dict[str, Any]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate member {key!r}")
        out[key] = value
    return out


def entry_fields(entry: bytes) -> EntryFields:
    """Read the members of a version-1 entry (UTF-8 JSON object, exactly the seven members, v = 1)."""
    try:
        body = json.loads(entry.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UnknownEntry("条目不是有效的 JSON", f"The entry is not valid JSON: {exc}") from exc
    if not isinstance(body, dict) or set(body) != ENTRY_MEMBERS:
        raise UnknownEntry("条目不是第1版账本条目（成员不符）", "The entry is not a version-1 ledger entry (wrong members)")
    if body["v"] != ENTRY_VERSION or isinstance(body["v"], bool):
        raise UnknownEntry(f"不支持的条目版本：{body['v']!r}", f"Unsupported entry version: {body['v']!r}")
    shapes = (isinstance(body["type"], str) and isinstance(body["time"], str)
              and (body["actor"] is None or isinstance(body["actor"], str))
              and all(isinstance(body[k], dict) for k in ("digests", "commitments", "data"))
              and all(isinstance(v, str) for k in ("digests", "commitments") for v in body[k].values()))
    if not shapes:
        raise UnknownEntry("条目成员的类型不符合第1版格式", "The entry's members do not have the version-1 types")
    return EntryFields(body["type"], body["time"], body["actor"], body["digests"], body["commitments"], body["data"])


@dataclass(frozen=True)
class Verdict:
    """Report a receipt that checked out: what it proves, which log key signed it and which witnesses cosigned."""

    receipt: Receipt
    log_key: str
    cosigners: tuple[Cosigner, ...]
    quorum: int
    witnesses: int
    fields: EntryFields

    @property
    def index(self) -> int:
        """Return the entry's index in the log."""
        return self.receipt.index

    @property
    def size(self) -> int:
        """Return the tree size of the checkpoint the entry is proven into."""
        return self.receipt.checkpoint.size

    @property
    def root(self) -> bytes:
        """Return the checkpoint's root hash."""
        return self.receipt.checkpoint.root

    @property
    def origin(self) -> str:
        """Return the checkpoint's origin line (the log's name)."""
        return self.receipt.checkpoint.origin

    @property
    def leaf_hash(self) -> bytes:
        """Return the entry's leaf hash."""
        return self.receipt.leaf_hash


def _check_inclusion(receipt: Receipt) -> None:
    try:
        merkle.verify_inclusion(receipt.leaf_hash, receipt.index, receipt.checkpoint.size, receipt.proof,
                                receipt.checkpoint.root)
    except merkle.MerkleError as exc:
        raise NotIncluded(f"条目不在检查点的树中：叶哈希经包含证明算不出检查点的根哈希（{exc}）",
                          f"The entry is not in the checkpoint's tree: its leaf hash and the inclusion proof do not "
                          f"lead to the checkpoint's root ({exc})") from exc


def _check_log_signature(receipt: Receipt, log_keys: Sequence[note.Verifier]) -> str:
    try:
        opened = note.open_note(receipt.signed_checkpoint, log_keys)
    except note.UnverifiedNote as exc:
        names_zh, names_en = "、".join(k.name for k in log_keys), ", ".join(k.name for k in log_keys)
        raise UntrustedCheckpoint(f"检查点没有所信任的账本密钥（{names_zh}）的签名",
                                  f"The checkpoint carries no signature by a trusted log key ({names_en})") from exc
    except note.NoteError as exc:
        raise UntrustedCheckpoint(*_prefixed("检查点的账本签名验证失败",
                                             "The log's signature on the checkpoint does not verify", exc)) from exc
    return opened.signatures[0].name


def _check_cosignatures(receipt: Receipt, witness_keys: Sequence[note.Verifier], quorum: int) -> tuple[Cosigner, ...]:
    trusted = {(k.name, k.key_id): k for k in witness_keys}
    signed = note.parse_note(receipt.signed_checkpoint)
    cosigners: dict[tuple[str, bytes], Cosigner] = {}
    for line in signed.signatures:
        key = trusted.get((line.name, line.key_id))
        if key is None:
            # signed-note: lines from keys the verifier does not trust are ignored, not counted.
            continue
        try:
            timestamp = note.verify_cosignature(key, signed.text, line)
        except note.NoteError as exc:
            raise QuorumNotMet(*_prefixed(f"见证人 {line.name} 的联署验证失败",
                                          f"The cosignature of witness {line.name} does not verify", exc)) from exc
        cosigners.setdefault((line.name, line.key_id), Cosigner(line.name, line.key_id, timestamp))
    if len(cosigners) < quorum:
        raise QuorumNotMet(f"检查点只有{len(cosigners)}个所信任见证人的联署，要求至少{quorum}个",
                           f"The checkpoint is cosigned by {len(cosigners)} trusted witnesses; at least {quorum} are "
                           "required")
    return tuple(cosigners.values())


def verify_receipt(data: bytes, *, log_keys: Sequence[note.Verifier], witness_keys: Sequence[note.Verifier] = (),
                   quorum: int | None = None, origin: str | None = None) -> Verdict:
    """Check a receipt against keys the verifier trusts, never keys inside the receipt; return the verdict or raise.

    The checkpoint must be signed by one of log_keys (type 0x01) and cosigned by at least quorum of witness_keys
    (type 0x04; all of them when quorum is None); the entry's leaf hash must lead to the checkpoint's root.
    """
    log_keys, witness_keys = list(log_keys), list(witness_keys)
    if not log_keys or any(k.kind != note.KIND_ED25519 for k in log_keys):
        raise InvalidKeys("至少需要一个账本验证密钥（类型 0x01）", "At least one log verifier key (type 0x01) is needed")
    if any(k.kind != note.KIND_COSIGNATURE_V1 for k in witness_keys):
        raise InvalidKeys("见证人密钥须为联署密钥（类型 0x04）", "Witness keys are cosignature keys (type 0x04)")
    quorum = len(witness_keys) if quorum is None else quorum
    if isinstance(quorum, bool) or not isinstance(quorum, int) or not 0 <= quorum <= len(witness_keys):
        raise InvalidKeys(f"法定人数须在0到{len(witness_keys)}（所信任见证人数）之间",
                          f"The quorum must be between 0 and {len(witness_keys)} (the number of trusted witnesses)")
    receipt = parse_receipt(data)
    if origin is not None and receipt.checkpoint.origin != origin:
        raise UntrustedCheckpoint(f"检查点来自“{receipt.checkpoint.origin}”，不是所信任的账本“{origin}”",
                                  f"The checkpoint comes from {receipt.checkpoint.origin!r}, not the trusted log {origin!r}")
    log_key = _check_log_signature(receipt, log_keys)
    _check_inclusion(receipt)
    cosigners = _check_cosignatures(receipt, witness_keys, quorum)
    return Verdict(receipt, log_key, cosigners, quorum, len(witness_keys), entry_fields(receipt.entry))
