"""Idempotency-Key for POST APIs: a retried request gets the first response instead of doing the work twice."""

from openzone.core.idempotency.api import KEY, REPLAYED, respond
from openzone.core.idempotency.domain import fingerprint, valid_key
from openzone.core.idempotency.models import StoredResponse
from openzone.core.idempotency.service import (
    KEEP,
    IdempotencyKeyInFlight,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    purge,
)

__all__ = [
    "KEEP",
    "KEY",
    "REPLAYED",
    "IdempotencyKeyInFlight",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyReused",
    "StoredResponse",
    "fingerprint",
    "purge",
    "respond",
    "valid_key",
]
