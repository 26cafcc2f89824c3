"""Response bodies of the public ledger API: proofs as lists of base64 hashes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class InclusionProof(BaseModel):
    """Give the RFC 9162 inclusion proof of one entry in a tree of a given size, nearest the leaf first."""

    index: int = Field(description="叶索引 · leaf index")
    size: int = Field(description="树大小 · tree size")
    proof: list[str] = Field(description="base64 (RFC 4648 §4) SHA-256 hashes")


class ConsistencyProof(BaseModel):
    """Give the RFC 9162 consistency proof between two tree sizes."""

    old: int
    new: int
    proof: list[str] = Field(description="base64 (RFC 4648 §4) SHA-256 hashes")


class EntryWithProof(BaseModel):
    """Give an integrated entry, its index and its inclusion proof to the newest checkpoint."""

    leaf_hash: str = Field(description="hex SHA-256(0x00 || entry)")
    index: int
    entry: str = Field(description="条目原文（RFC 8785 JSON）· the entry bytes, canonical JSON text")
    size: int = Field(description="检查点的树大小 · tree size of the checkpoint")
    proof: list[str] = Field(description="base64 inclusion proof, nearest the leaf first")
    checkpoint: str = Field(description="签名检查点（含见证人联署）· the signed checkpoint note with cosignatures")
