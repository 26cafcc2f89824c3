"""Encrypt personal identifiers at rest with AES-256-GCM and index them with keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Stored layout: version byte, 12-byte nonce, ciphertext with its 16-byte tag.
_VERSION = b"\x01"


class DecryptionFailed(Exception):
    """Signal that a stored value was altered or was encrypted under another key."""


def encrypt(key: bytes, plaintext: str, *, context: str) -> bytes:
    """Encrypt a string; context (e.g. the column name) is bound as associated data."""
    nonce = os.urandom(12)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())


def decrypt(key: bytes, blob: bytes, *, context: str) -> str:
    """Decrypt a value made by encrypt with the same key and context."""
    if len(blob) < 29 or blob[:1] != _VERSION:
        raise DecryptionFailed("unknown ciphertext format")
    try:
        return AESGCM(key).decrypt(blob[1:13], blob[13:], context.encode()).decode()
    except InvalidTag as exc:
        raise DecryptionFailed("ciphertext does not verify") from exc


def blind_index(key: bytes, value: str, *, context: str) -> str:
    """Return a keyed hash of a value so equal values can be found without decrypting."""
    return hmac.new(key, f"{context}\x00{value}".encode(), hashlib.sha256).hexdigest()
