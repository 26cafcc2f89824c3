"""The transparency log's front door: services record events here, in their own transaction."""

from openzone.core.ledger.domain import (
    ENTRY_VERSION,
    InvalidCommitment,
    InvalidEntry,
    Opening,
    check_opening,
    commitment_of,
)
from openzone.core.ledger.models import Entry
from openzone.core.ledger.service import (
    canonical_json,
    commit,
    entry_bytes,
    erase_salts,
    open_commitment,
    opening,
    pending,
    record,
)

__all__ = [
    "ENTRY_VERSION",
    "Entry",
    "InvalidCommitment",
    "InvalidEntry",
    "Opening",
    "canonical_json",
    "check_opening",
    "commit",
    "commitment_of",
    "entry_bytes",
    "erase_salts",
    "open_commitment",
    "opening",
    "pending",
    "record",
]
