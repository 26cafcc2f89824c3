"""Compute RFC 9162 Merkle tree hashes and proofs over C2SP tlog-tiles, remembering interior tile hashes in an LRU keyed by tile content."""

# Pure: stdlib only, no I/O; the caller passes a TileReader. Errors are MerkleError (ValueError) subclasses; the service
# layer turns them into Problems. Sources: RFC 9162 §2.1 (hashing, PATH, SUBPROOF and their verification), C2SP
# tlog-tiles "Merkle Tree", "Partial Tiles" and "Log entries" (C2SP/C2SP @ 5ba5ee83); byte layouts and pitfalls in
# reference/transparency-log-formats.md (a) and (d). Written from those texts, not from another implementation.
#
# Speed. Every tree node of height h = 8*l + r whose leaves all lie below the tree size lies inside ONE tile at level l:
# its 2^r hashes there are consecutive and aligned. A root or proof needs O(log n) such nodes from a few tiles per
# level, so it reads O(log n) tiles. Rebuilding a node of relative height r costs 2^r - 1 hashes, and an inclusion proof
# needs a sibling at each r = 0..7 in its level-0 tile: 247 of the tile's 255 interior hashes (~0.2 ms in CPython,
# where one SHA-256 call costs ~0.8 us). We therefore cache all interior levels of a tile, computed once, in an LRU
# keyed by the tile's BYTES rather than by (level, index): equal bytes always have equal interior hashes, so the cache
# stays correct across logs, across rolled-back transactions and as partial tiles grow, with nothing to invalidate.
# The tiles above level 0 are few (154 for 10^7 leaves), so they stay cached; with a warm level-0 tile a proof takes
# ~0.05 ms. append_leaves warms the cache with every tile it fills.

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence

HASH_SIZE = 32
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
# tlog-tiles "Merkle Tree": full tiles are exactly 256 hashes, 8,192 bytes.
FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE
# tlog-tiles "Merkle Tree": <L> is between 0 and 63; level -1 stands for entry bundles (tile/entries/...).
MAX_LEVEL = 63
ENTRIES_LEVEL = -1
# tlog-tiles "Log entries": each entry carries a big-endian uint16 length.
MAX_ENTRY_BYTES = 0xFFFF
# A cached full tile takes ~16 KiB (its bytes and its interior levels), so 4,096 tiles hold ~64 MiB: every tile of a
# log of 10^6 leaves (3,924 tiles in all), a tenth of the level-0 tiles at 10^7.
INTERIOR_CACHE_TILES = 4096

# RFC 9162 §2.1.1: MTH({}) = SHA-256() of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()
# RFC 9162 §2.1.1: domain separation between leaves (0x00) and interior nodes (0x01).
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_NODE_HASHER = hashlib.sha256(_NODE_PREFIX)

TileReader = Callable[[int, int], bytes]
"""Return the current bytes of tile (level, index), full or partial, holding every hash below the tree size asked about."""


class MerkleError(ValueError):
    """Signal a Merkle tree computation that cannot proceed or a proof that does not hold."""

    zh = "默克尔树计算失败"


class InvalidProof(MerkleError):
    """Signal an inclusion or consistency proof that does not verify."""

    zh = "默克尔证明验证失败"


class InvalidRange(MerkleError):
    """Signal a leaf index, tree size, range or hash argument that does not fit the tree."""

    zh = "叶索引、树大小或哈希参数超出范围"


class InvalidTile(MerkleError):
    """Signal a tile from the reader that is malformed or lacks a hash below the tree size."""

    zh = "瓦片数据缺失或格式错误"


class InvalidTilePath(MerkleError):
    """Signal a tile path that breaks the C2SP tlog-tiles grammar."""

    zh = "瓦片路径格式错误"


class InvalidEntryBundle(MerkleError):
    """Signal an entry bundle that breaks the C2SP tlog-tiles format."""

    zh = "条目包格式错误"


# ---------------------------------------------------------------------------------------------------------------------
# Hashing (RFC 9162 §2.1.1)


def leaf_hash(entry: bytes) -> bytes:
    """Return the leaf hash SHA-256(0x00 || entry)."""
    return hashlib.sha256(_LEAF_PREFIX + bytes(entry)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the interior node hash SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + bytes(left) + bytes(right)).digest()


def _split(n: int) -> int:
    # RFC 9162 §2.1.1: k is the largest power of two strictly less than n (n >= 2).
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH of the leaf hashes straight from the RFC 9162 §2.1.1 definition, for tests and audits."""

    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return bytes(leaf_hashes[lo])
        k = _split(hi - lo)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return mth(0, len(leaf_hashes)) if leaf_hashes else EMPTY_ROOT


# ---------------------------------------------------------------------------------------------------------------------
# Tiles (tlog-tiles "Merkle Tree", "Partial Tiles")


def _parents(hashes: bytes) -> bytes:
    # Siblings are adjacent in a tile, so left || right is one 64-byte slice; a lone last hash has no parent yet.
    view = memoryview(hashes)
    out = []
    for at in range(0, len(hashes) - 2 * HASH_SIZE + 1, 2 * HASH_SIZE):
        hasher = _NODE_HASHER.copy()
        hasher.update(view[at:at + 2 * HASH_SIZE])
        out.append(hasher.digest())
    return b"".join(out)


def _compute_levels(data: bytes) -> tuple[bytes, ...]:
    # levels[r] holds, concatenated, the roots of the complete height-r subtrees inside the tile; a full tile has
    # levels 0..8 and levels[8] is its own root (the hash it contributes to the level above).
    levels = [data]
    while len(levels[-1]) >= 2 * HASH_SIZE:
        levels.append(_parents(levels[-1]))
    return tuple(levels)


_tile_levels = functools.lru_cache(maxsize=INTERIOR_CACHE_TILES)(_compute_levels)


def set_interior_cache_size(tiles: int) -> None:
    """Replace the cache of interior tile hashes by an empty one holding up to the given number of tiles."""
    global _tile_levels
    if not _is_count(tiles):
        raise InvalidRange(f"a cache size is a non-negative number of tiles, not {tiles!r}")
    _tile_levels = functools.lru_cache(maxsize=tiles)(_compute_levels)


def _tile_bytes(data: bytes, level: int, index: int) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidTile(f"tile {level}/{index} is {type(data).__name__}, not bytes")
    data = bytes(data)
    if not data or len(data) % HASH_SIZE or len(data) > FULL_TILE_BYTES:
        raise InvalidTile(f"tile {level}/{index} has {len(data)} bytes, not 32 to 8192 in whole hashes")
    return data


class _Tree:
    """Read tiles at most once per operation and give the hash of any complete subtree below the tree size."""

    __slots__ = ("_read", "_tiles")

    def __init__(self, read: TileReader) -> None:
        self._read = read
        self._tiles: dict[tuple[int, int], tuple[bytes, ...]] = {}

    def _levels(self, level: int, index: int) -> tuple[bytes, ...]:
        levels = self._tiles.get((level, index))
        if levels is None:
            levels = _tile_levels(_tile_bytes(self._read(level, index), level, index))
            self._tiles[(level, index)] = levels
        return levels

    def node(self, height: int, k: int) -> bytes:
        """Return MTH(D[k * 2^height : (k + 1) * 2^height]), which must lie below the tree size."""
        # The node's 2^r hashes at tile level l start at k * 2^r, a multiple of 2^r <= 128, so one tile holds them all.
        level, r = divmod(height, TILE_HEIGHT)
        index, offset = divmod(k << r, TILE_WIDTH)
        levels = self._levels(level, index)
        at = (offset >> r) * HASH_SIZE
        found = levels[r][at:at + HASH_SIZE] if r < len(levels) else b""
        if len(found) != HASH_SIZE:
            raise InvalidTile(f"tile {level}/{index} lacks the hashes under node {k} at height {height}")
        return found

    def mth(self, start: int, count: int) -> bytes:
        """Return MTH(D[start : start + count]) per RFC 9162 §2.1.1."""
        if count == 0:
            return EMPTY_ROOT
        top = count.bit_length() - 1
        if start % (1 << top):
            # Not aligned to a tree node: split as the definition does until the parts are.
            k = _split(count)
            return node_hash(self.mth(start, k), self.mth(start + k, count - k))
        # Aligned: the definition splits off the largest power of two each time, so the range is the complete subtrees
        # for the set bits of count, left to right, folded from the right.
        nodes = []
        while count:
            height = count.bit_length() - 1
            nodes.append(self.node(height, start >> height))
            start += 1 << height
            count -= 1 << height
        root = nodes.pop()
        while nodes:
            root = node_hash(nodes.pop(), root)
        return root


def tile_widths(size: int) -> list[tuple[int, int, int]]:
    """Return (level, index, width) of every tile, full and partial, of a tree of the given size."""
    _check_size(size)
    tiles = []
    level, count = 0, size
    while count:
        # tlog-tiles "Partial Tiles": level l holds floor(size / 256^l) hashes; the last tile is partial unless that
        # count is a multiple of 256.
        full, partial = divmod(count, TILE_WIDTH)
        tiles.extend((level, index, TILE_WIDTH) for index in range(full))
        if partial:
            tiles.append((level, full, partial))
        level, count = level + 1, count >> TILE_HEIGHT
    return tiles


def _changed_tiles(old_size: int, new_size: int, height: int) -> list[tuple[int, int, int]]:
    # Height is a parameter only so the golang.org/x/mod NewTiles vectors (height 10) can check the counting.
    width = 1 << height
    tiles = []
    level, old, new = 0, old_size, new_size
    while new > old:
        tiles.extend((level, index, min(width, new - index * width)) for index in range(old // width, (new - 1) // width + 1))
        level, old, new = level + 1, old >> height, new >> height
    return tiles


def changed_tiles(old_size: int, new_size: int) -> list[tuple[int, int, int]]:
    """Return (level, index, new width) of every tile whose bytes differ between the two tree sizes."""
    _check_size(old_size)
    _check_size(new_size)
    if new_size < old_size:
        raise InvalidRange(f"the tree cannot shrink from {old_size} to {new_size}")
    return _changed_tiles(old_size, new_size, TILE_HEIGHT)


def append_leaves(size: int, leaf_hashes: Sequence[bytes], read: TileReader) -> dict[tuple[int, int], bytes]:
    """Return the new bytes of every tile changed by appending the leaf hashes at indices size and up."""
    _check_size(size)
    added = list(leaf_hashes)
    if not all(type(h) is bytes and len(h) == HASH_SIZE for h in added):
        added = [_check_hash(h, "leaf hash") for h in added]
    tiles: dict[tuple[int, int], bytes] = {}
    level, count = 0, size
    while added:
        filled = []
        position, taken = count, 0
        while taken < len(added):
            index, offset = divmod(position, TILE_WIDTH)
            take = min(TILE_WIDTH - offset, len(added) - taken)
            kept = b""
            if offset:
                kept = _tile_bytes(read(level, index), level, index)[:offset * HASH_SIZE]
                if len(kept) != offset * HASH_SIZE:
                    raise InvalidTile(f"tile {level}/{index} holds fewer than the {offset} hashes below size {size}")
            data = kept + b"".join(added[taken:taken + take])
            tiles[(level, index)] = data
            if offset + take == TILE_WIDTH:
                # tlog-tiles "Partial Tiles": only a full tile is hashed into the level above.
                filled.append(_tile_levels(data)[TILE_HEIGHT])
            position += take
            taken += take
        # The tiles filled here are the next ones after the full tiles that existed at the old size, in order.
        level, count, added = level + 1, count >> TILE_HEIGHT, filled
    return tiles


class TileCache:
    """Serve each tile from memory after its first read, and take the tiles append_leaves returned, for one transaction."""

    def __init__(self, read: TileReader) -> None:
        self._read = read
        self._tiles: dict[tuple[int, int], bytes] = {}

    def __call__(self, level: int, index: int) -> bytes:
        """Return the bytes of tile (level, index), reading it through on first use."""
        data = self._tiles.get((level, index))
        if data is None:
            data = self._tiles[(level, index)] = self._read(level, index)
        return data

    def update(self, tiles: Mapping[tuple[int, int], bytes]) -> None:
        """Replace the remembered bytes of the given tiles, as after append_leaves."""
        self._tiles.update(tiles)


# ---------------------------------------------------------------------------------------------------------------------
# Roots and proofs from tiles (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1)


def _check_size(size: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidRange(f"a tree size is a non-negative integer, not {size!r}")


def _check_hash(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview) or len(value) != HASH_SIZE:
        raise InvalidRange(f"a {what} is {HASH_SIZE} bytes")
    return bytes(value)


def tree_root(size: int, read: TileReader) -> bytes:
    """Return the root hash MTH(D[0:size]) of the tree of the given size."""
    _check_size(size)
    return _Tree(read).mth(0, size)


def subtree_hash(start: int, count: int, read: TileReader) -> bytes:
    """Return MTH(D[start : start + count]) for a range inside the tree."""
    _check_size(start)
    _check_size(count)
    return _Tree(read).mth(start, count)


def inclusion_proof(index: int, size: int, read: TileReader) -> list[bytes]:
    """Return the RFC 9162 inclusion proof of leaf index in the tree of the given size, nearest the leaf first."""
    _check_size(index)
    _check_size(size)
    if index >= size:
        raise InvalidRange(f"leaf {index} is not in a tree of size {size}")
    tree = _Tree(read)
    # PATH(m, D[n]) of §2.1.3.1, unrolled. Let inner = bitlen(index XOR (size - 1)): below height inner - 1 the leaf's
    # ancestors lie in a complete subtree, so each sibling is the whole node next to them; at height inner - 1 the
    # sibling is the (maybe incomplete) rest of the tree on the right; above, the ancestors run along the right border
    # and only those that are right children have a (left, complete) sibling.
    inner = (index ^ (size - 1)).bit_length()
    path = [tree.node(height, (index >> height) ^ 1) for height in range(inner - 1)]
    if inner:
        start = ((index >> (inner - 1)) | 1) << (inner - 1)
        path.append(tree.mth(start, size - start))
    path.extend(tree.node(height, (index >> height) ^ 1) for height in range(inner, index.bit_length()) if index >> height & 1)
    return path


def consistency_proof(old_size: int, new_size: int, read: TileReader) -> list[bytes]:
    """Return the RFC 9162 consistency proof from old_size to new_size, empty when they are equal or old_size is 0."""
    _check_size(old_size)
    _check_size(new_size)
    if new_size < old_size:
        raise InvalidRange(f"the tree cannot shrink from {old_size} to {new_size}")
    if old_size == 0 or old_size == new_size:
        # §2.1.4.1 defines PROOF only for 0 < m < n; tlog-witness sends an empty proof from size 0.
        return []
    tree = _Tree(read)
    # SUBPROOF(m, D[n], b): descend until the old tree is a whole subtree; its hash joins the proof unless it is the
    # whole old tree (b still true), which the verifier already holds.
    proof = []
    start, m, n, whole_old_tree = 0, old_size, new_size, True
    while m != n:
        k = _split(n)
        if m <= k:
            proof.append(tree.mth(start + k, n - k))
            n = k
        else:
            proof.append(tree.mth(start, k))
            start, m, n, whole_old_tree = start + k, m - k, n - k, False
    if not whole_old_tree:
        proof.append(tree.mth(start, n))
    proof.reverse()
    return proof


# ---------------------------------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2, §2.1.4.2)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray | memoryview) and len(value) == HASH_SIZE


def _as_bytes(value: object) -> bytes | None:
    return bytes(value) if isinstance(value, bytes | bytearray | memoryview) else None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that the leaf hash sits at index in the tree of the given size and root, or raise InvalidProof."""
    if not (_is_count(index) and _is_count(size)) or index >= size:
        raise InvalidProof(f"leaf {index!r} is not in a tree of size {size!r}")
    if not (_is_hash(leaf) and _is_hash(root) and all(_is_hash(p) for p in proof)):
        raise InvalidProof(f"the leaf, the root and every proof hash must be {HASH_SIZE} bytes")
    fn, sn, r, root = index, size - 1, bytes(leaf), bytes(root)
    for p in proof:
        if sn == 0:
            raise InvalidProof("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # The right border of the tree: climb past the levels where this node has no right sibling.
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidProof("the inclusion proof is too short")
    if r != root:
        raise InvalidProof("the inclusion proof does not lead to the root")


def verify_consistency(old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> None:
    """Check that the tree of new_size and new_root extends the tree of old_size and old_root, or raise InvalidProof."""
    if not (_is_count(old_size) and _is_count(new_size)) or new_size < old_size:
        raise InvalidProof(f"a tree of size {new_size!r} cannot extend one of size {old_size!r}")
    old_root, new_root = _as_bytes(old_root), _as_bytes(new_root)
    if old_size == new_size:
        # Same tree: nothing to prove, the roots must agree (as the transparency-dev probes require, any length).
        if proof or old_root is None or old_root != new_root or (old_size == 0 and old_root != EMPTY_ROOT):
            raise InvalidProof("equal tree sizes need equal roots and an empty proof")
        return
    if old_size == 0:
        # tlog-witness "add-checkpoint": from the empty tree (root SHA-256("")) the proof is empty.
        if proof or old_root != EMPTY_ROOT or not _is_hash(new_root):
            raise InvalidProof("from the empty tree the proof is empty and the old root is SHA-256(\"\")")
        return
    if not proof:
        raise InvalidProof("a consistency proof between different sizes is not empty")
    if not (_is_hash(old_root) and _is_hash(new_root) and all(_is_hash(p) for p in proof)):
        raise InvalidProof(f"the roots and every proof hash must be {HASH_SIZE} bytes")
    path = [bytes(p) for p in proof]
    # §2.1.4.2 step 2: when the old tree is a whole subtree its root is the start of the path, not part of the proof.
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidProof("the consistency proof is too short")
    if fr != old_root or sr != new_root:
        raise InvalidProof("the consistency proof does not lead to both roots")


# ---------------------------------------------------------------------------------------------------------------------
# Paths and entry bundles (tlog-tiles "Merkle Tree", "Log entries")

_LEVEL_RE = re.compile(r"0|[1-9][0-9]?", re.ASCII)
_WIDTH_RE = re.compile(r"[1-9][0-9]{0,2}", re.ASCII)
_GROUP_RE = re.compile(r"x[0-9]{3}", re.ASCII)
_LAST_GROUP_RE = re.compile(r"[0-9]{3}", re.ASCII)
# A tile index is a uint64, at most 20 digits: 7 groups. Bounding the groups first keeps int() clear of Python's
# 4,300-digit limit, whose plain ValueError would escape the MerkleError handlers.
MAX_TILE_INDEX = 2**64 - 1
_MAX_INDEX_GROUPS = 7


def encode_tile_index(n: int) -> str:
    """Return the tile index in zero-padded 3-digit path elements, all but the last prefixed with x."""
    if not _is_count(n):
        raise InvalidTilePath(f"a tile index is a non-negative integer, not {n!r}")
    digits = str(n)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[at:at + 3] for at in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """Return "tile/<L>/<N>[.p/<W>]", or "tile/entries/<N>[.p/<W>]" for level -1."""
    if not isinstance(level, int) or isinstance(level, bool) or not ENTRIES_LEVEL <= level <= MAX_LEVEL:
        raise InvalidTilePath(f"a tile level is -1 (entries) or 0 to {MAX_LEVEL}, not {level!r}")
    if not _is_count(width) or not 1 <= width <= TILE_WIDTH:
        raise InvalidTilePath(f"a tile width is 1 to {TILE_WIDTH}, not {width!r}")
    path = f"tile/{'entries' if level == ENTRIES_LEVEL else level}/{encode_tile_index(index)}"
    return path if width == TILE_WIDTH else f"{path}.p/{width}"


_SHOWN_PATH = 80  # characters of a refused path an error message quotes


def parse_tile_path(path: str) -> tuple[int, int, int]:
    """Return (level, index, width) of a canonical tile path, with level -1 for entry bundles."""
    parts = path.split("/") if isinstance(path, str) else []
    shown = path
    if isinstance(path, str) and len(path) > _SHOWN_PATH:
        shown = path[:_SHOWN_PATH] + "…"  # a path of any length comes from a request: quote its start only
    if len(parts) < 3 or parts[0] != "tile":
        raise InvalidTilePath(f"{shown!r} is not tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]")
    if parts[1] == "entries":
        level = ENTRIES_LEVEL
    elif _LEVEL_RE.fullmatch(parts[1]) and int(parts[1]) <= MAX_LEVEL:
        level = int(parts[1])
    else:
        raise InvalidTilePath(f"the level in {shown!r} is not 0 to {MAX_LEVEL} without leading zeros")
    groups, width = parts[2:], TILE_WIDTH
    if len(groups) >= 2 and groups[-2].endswith(".p"):
        if not _WIDTH_RE.fullmatch(groups[-1]) or int(groups[-1]) >= TILE_WIDTH:
            raise InvalidTilePath(f"the partial width in {shown!r} is not 1 to 255 without leading zeros")
        groups, width = [*groups[:-2], groups[-2][:-2]], int(groups[-1])
    if not (all(_GROUP_RE.fullmatch(g) for g in groups[:-1]) and _LAST_GROUP_RE.fullmatch(groups[-1])):
        raise InvalidTilePath(f"the index in {shown!r} is not 3-digit groups, all but the last prefixed with x")
    if len(groups) > 1 and groups[0] == "x000":
        raise InvalidTilePath(f"the index in {shown!r} has a leading group of zeros")
    if len(groups) > _MAX_INDEX_GROUPS:
        raise InvalidTilePath(f"the index in {shown!r} has more than {_MAX_INDEX_GROUPS} groups")
    index = int("".join(g.removeprefix("x") for g in groups))
    if index > MAX_TILE_INDEX:
        raise InvalidTilePath(f"the index in {shown!r} is larger than 2^64 - 1")
    return level, index, width


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Return the entry bundle: each entry as a big-endian uint16 length and its bytes."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise InvalidEntryBundle(f"an entry bundle holds 1 to {TILE_WIDTH} entries, not {len(entries)}")
    out = []
    for entry in entries:
        if not isinstance(entry, bytes | bytearray | memoryview) or len(entry) > MAX_ENTRY_BYTES:
            raise InvalidEntryBundle(f"an entry is bytes of at most {MAX_ENTRY_BYTES} bytes")
        out.append(len(entry).to_bytes(2, "big") + bytes(entry))
    return b"".join(out)


def parse_entry_bundle(data: bytes) -> list[bytes]:
    """Return the entries of an entry bundle, rejecting a truncated, empty or over-long bundle."""
    data = bytes(data)
    entries, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise InvalidEntryBundle(f"the bundle ends inside the length of entry {len(entries)}")
        length = int.from_bytes(data[at:at + 2], "big")
        at += 2
        if at + length > len(data):
            raise InvalidEntryBundle(f"entry {len(entries)} is cut short")
        entries.append(data[at:at + length])
        at += length
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise InvalidEntryBundle(f"an entry bundle holds 1 to {TILE_WIDTH} entries, not {len(entries)}")
    return entries
