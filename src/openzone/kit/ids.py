"""Generate time-ordered UUIDv7 identifiers (RFC 9562 §5.7) and random tokens."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
import uuid


def new_id() -> uuid.UUID:
    """Return a new UUIDv7: 48-bit Unix milliseconds, then random bits, so ids sort by creation."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # RFC 9562 variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return uuid.UUID(int=value)


def new_token(nbytes: int = 24) -> str:
    """Return a URL-safe random token of nbytes (at least 16, i.e. 128 bits)."""
    if nbytes < 16:
        raise ValueError("tokens carry at least 128 bits")
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str | bytes) -> str:
    """Return the hex SHA-256 digest of a string (UTF-8) or bytes."""
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()
