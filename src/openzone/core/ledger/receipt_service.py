"""Receipt use cases: issue a receipt for an integrated entry, publish the keys to check it, check one against them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select, true
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core.ledger import note, receipt, service, witness, witness_service
from openzone.core.ledger.models import PublishedCheckpoint
from openzone.core.ledger.receipt import ReceiptError, Verdict


@dataclass(frozen=True)
class PublishedKeys:
    """Hold what this deployment publishes for checking its receipts: origin, log key, active witness keys, quorum."""

    origin: str
    log: note.Verifier
    witnesses: tuple[note.Verifier, ...]
    quorum: int

    def text(self) -> str:
        """Return the keys file: comment lines, then one vkey a line (the log's first), as openzone verify reads it."""
        lines = [
            "# OpenZone 透明账本验证密钥 · transparency log verifier keys (C2SP signed-note vkeys)",
            f"# origin {self.origin}",
            f"# quorum {self.quorum} of {len(self.witnesses)} witnesses",
            "# openzone verify RECEIPT --keys-file THIS_FILE" + (f" --quorum {self.quorum}" if self.witnesses else ""),
            self.log.vkey,
            *(w.vkey for w in self.witnesses),
        ]
        return "".join(line + "\n" for line in lines)


def published_keys(session: Session) -> PublishedKeys:
    """Return the log's verifier key, the active witnesses' cosignature keys and the quorum this deployment applies."""
    active = [note.parse_vkey(w.vkey) for w in witness_service.list_witnesses(session) if w.active]
    quorum = witness.quorum_needed(len(active), get_settings().ledger_quorum) or 0
    return PublishedKeys(service.log_origin(), service.log_signer().verifier(), tuple(active), quorum)


def verify(session: Session, data: bytes) -> Verdict:
    """Check a receipt against the keys this deployment publishes (never keys inside it); raise ReceiptError if it fails."""
    keys = published_keys(session)
    return receipt.verify_receipt(data, log_keys=[keys.log], witness_keys=keys.witnesses, quorum=keys.quorum,
                                  origin=keys.origin)


# "final = true" (SQLite: "final = 1"), the predicate of the partial index ix_ledger_checkpoint_final (migration
# 0021): the planners do not match "final IS true" to it, and without it they walk every checkpoint, none of which is
# final on a log without witnesses.
NEWEST_FINAL = (select(PublishedCheckpoint)
                .where(PublishedCheckpoint.final == true(), PublishedCheckpoint.size > bindparam("index"))
                .order_by(PublishedCheckpoint.size.desc()).limit(1).execution_options(populate_existing=True))


def receipt_checkpoint(session: Session, index: int) -> PublishedCheckpoint | None:
    """Return the checkpoint a receipt for entry index leads to: the newest final one covering it, else the newest."""
    final = session.scalar(NEWEST_FINAL, {"index": index})
    if final is not None:
        return final
    latest = service.latest_checkpoint(session)
    return latest if latest is not None and latest.size > index else None


@dataclass(frozen=True)
class IssuedReceipt:
    """Hold a receipt file for an entry, the checkpoint it leads to, its check against the published keys and the quorum."""

    data: bytes
    verdict: Verdict
    checkpoint: PublishedCheckpoint
    tree_size: int
    quorum: int
    final: bool

    @property
    def filename(self) -> str:
        """Return the file name to save the receipt under, with the tlog-proof extension."""
        return f"openzone-{self.verdict.leaf_hash.hex()[:16]}{receipt.RECEIPT_SUFFIX}"


def issue(session: Session, leaf_hash: bytes) -> IssuedReceipt:
    """Build the receipt of the integrated entry with this leaf hash, or raise EntryNotFound."""
    entry = service.entry_by_leaf_hash(session, leaf_hash)
    checkpoint = receipt_checkpoint(session, entry.leaf_index) if entry is not None else None
    if entry is None or checkpoint is None:
        raise service.EntryNotFound("没有叶哈希为此值的已入账条目（刚记录的条目要等下一个检查点）",
                                    "No integrated entry has this leaf hash (a new entry waits for the next checkpoint)")
    proof = service.inclusion_proof(session, entry.leaf_index, checkpoint.size)
    keys = published_keys(session)
    try:
        data = receipt.build_receipt(entry=service.entry_bytes(entry), index=entry.leaf_index, proof=proof,
                                     signed_checkpoint=service.served_note(checkpoint))
        # Quorum 0: list every published witness that cosigned, whether or not enough did yet.
        verdict = receipt.verify_receipt(data, log_keys=[keys.log], witness_keys=keys.witnesses, quorum=0,
                                         origin=keys.origin)
    except ReceiptError as exc:
        raise service.LedgerInconsistent(f"无法为此条目生成可核验的收据：{exc.zh}",
                                         f"No verifiable receipt can be made for this entry: {exc.en}") from exc
    return IssuedReceipt(data, verdict, checkpoint, service.tree_size(session), keys.quorum,
                         final=len(verdict.cosigners) >= keys.quorum)
