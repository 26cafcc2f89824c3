"""Public ledger HTTP: the checkpoint and C2SP tiles at their standard paths, proofs and entry look-up, for anyone."""

from __future__ import annotations

import base64
import re

from fastapi import Depends, Query, Response
from sqlalchemy.orm import Session

from openzone.core import identity
from openzone.core.ledger import schemas, service
from openzone.db import request_session
from openzone.kit.routing import Router

router = Router(prefix="/ledger", tags=["ledger"])
PROBLEMS = {404: {"description": "Not found (problem+json)"}, 422: {"description": "Invalid parameters (problem+json)"}}
# C2SP tlog-tiles: the checkpoint is mutable, cache it for a few seconds at most; full tiles never change.
CHECKPOINT_CACHE = "public, max-age=5"
FULL_TILE_CACHE = "public, max-age=31536000, immutable"
PARTIAL_TILE_CACHE = "public, max-age=60"
HEX_HASH_RE = re.compile(r"[0-9a-fA-F]{64}")
# Sizes and indexes are taken as text in canonical decimal: Pydantic's lax int would also read 01, +1, " 1", 1.0 and
# 1_0 (as 10). Nineteen digits cover 2^63 - 1; the service refuses any value beyond the newest checkpoint.
COUNT_PATTERN = r"^(0|[1-9][0-9]{0,18})$"


def _count(description: str):
    return Query(..., pattern=COUNT_PATTERN, description=f"{description}, a decimal integer without leading zeros")


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


@router.get("/checkpoint", include_in_schema=False)
def checkpoint(_=Depends(identity.public()), session: Session = Depends(request_session, scope="function")):
    """Serve the newest signed checkpoint with its cosignatures (C2SP tlog-checkpoint, signed-note)."""
    return Response(service.current_checkpoint_note(session), media_type="text/plain; charset=utf-8",
                    headers={"cache-control": CHECKPOINT_CACHE})


@router.get("/tile/{path:path}", include_in_schema=False)
def tile(path: str, _=Depends(identity.public()), session: Session = Depends(request_session, scope="function")):
    """Serve a hash tile or entry bundle at its C2SP tlog-tiles path."""
    found = service.tile_at(session, "tile/" + path)
    return Response(found.data, media_type="application/octet-stream",
                    headers={"cache-control": FULL_TILE_CACHE if found.full else PARTIAL_TILE_CACHE})


@router.get("/proof/inclusion", response_model=schemas.InclusionProof, responses=PROBLEMS)
def inclusion(index: str = _count("叶索引 · leaf index"), size: str = _count("树大小 · tree size"),
              _=Depends(identity.public()), session: Session = Depends(request_session, scope="function")):
    """Prove that the entry at index is in the tree of the given size (RFC 9162 §2.1.3)."""
    proof = service.inclusion_proof(session, int(index), int(size))
    return schemas.InclusionProof(index=int(index), size=int(size), proof=_b64(proof))


@router.get("/proof/consistency", response_model=schemas.ConsistencyProof, responses=PROBLEMS)
def consistency(old: str = _count("旧树大小 · old tree size"), new: str = _count("新树大小 · new tree size"),
                _=Depends(identity.public()), session: Session = Depends(request_session, scope="function")):
    """Prove that the tree of size new extends the tree of size old (RFC 9162 §2.1.4)."""
    proof = service.consistency_proof(session, int(old), int(new))
    return schemas.ConsistencyProof(old=int(old), new=int(new), proof=_b64(proof))


@router.get("/entries/{leaf_hash_hex}", response_model=schemas.EntryWithProof, responses=PROBLEMS)
def entry(leaf_hash_hex: str, _=Depends(identity.public()), session: Session = Depends(request_session, scope="function")):
    """Find an integrated entry by its leaf hash and prove it is in the newest checkpoint."""
    if not HEX_HASH_RE.fullmatch(leaf_hash_hex):
        raise service.InvalidProofRequest("叶哈希须为64位十六进制数", "The leaf hash is 64 hexadecimal digits",
                                          errors=[{"field": "leaf_hash_hex", "code": "format"}])
    found = service.entry_proof(session, bytes.fromhex(leaf_hash_hex))
    return schemas.EntryWithProof(leaf_hash=found.leaf_hash.hex(), index=found.index,
                                  entry=service.entry_bytes(found.entry).decode("utf-8"), size=found.size,
                                  proof=_b64(found.proof), checkpoint=service.served_note(found.checkpoint).decode())
