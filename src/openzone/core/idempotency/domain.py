"""Pure rules for Idempotency-Key: which keys are acceptable and how a request is fingerprinted."""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_KEY_LENGTH = 255


def valid_key(key: str) -> bool:
    """Say whether a key is 1–255 printable ASCII characters (an sf-string, draft-ietf-httpapi-idempotency-key-header §2.1)."""
    return 0 < len(key) <= MAX_KEY_LENGTH and all(0x20 <= ord(c) <= 0x7E for c in key)


def fingerprint(scope: str, request: Any) -> str:
    """Return the SHA-256 hex digest of the scope and the request's JSON, so a reused key can be told apart."""
    payload = json.dumps([scope, request], ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def principal_key(person_id: Any, token_id: Any | None) -> str:
    """Name whose keys these are: an API token's keys are its own, a signed-in person's are the person's."""
    return f"token:{token_id}" if token_id is not None else f"person:{person_id}"
