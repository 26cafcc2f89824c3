"""The public ledger HTTP interface, checked the way a stranger's verifier would use it: C2SP paths and RFC 9162 proofs."""

from __future__ import annotations

import base64

import pytest

from openzone.core import ledger
from openzone.core.ledger import merkle, note
from tests import helpers


@pytest.fixture
def published(client):
    """Commit a few entries and integrate everything pending; return the entries' leaf hashes and the checkpoint."""

    def build(session):
        entries = [ledger.record(session, "test.published", actor_org_id=None, data={"i": i}) for i in range(3)]
        return [merkle.leaf_hash(ledger.entry_bytes(e)) for e in entries]

    leaves = helpers.committed(build)
    while helpers.committed(lambda s: ledger.integrate(s)):
        pass
    response = client.get("/ledger/checkpoint")
    opened = note.open_note(response.content, [note.parse_vkey(ledger.log_vkey())])
    return leaves, note.parse_checkpoint(opened.text), response


def _hashes(items: list[str]) -> list[bytes]:
    return [base64.b64decode(h, validate=True) for h in items]


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title_zh"] and body["title_en"]
    return body


def test_the_checkpoint_is_a_signed_note_served_as_text_to_anyone(published):
    _, checkpoint, response = published
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=5"
    assert checkpoint.origin == ledger.log_origin() and checkpoint.size >= 3


def test_a_stranger_rebuilds_the_signed_root_from_the_tiles(client, published):
    _, checkpoint, _ = published
    tiles = {}
    for level, idx, width in merkle.tile_widths(checkpoint.size):
        response = client.get("/ledger/" + merkle.tile_path(level, idx, width))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/octet-stream"
        assert len(response.content) == width * 32
        immutable = "immutable" in response.headers["cache-control"]
        assert immutable == (width == 256)
        tiles[(level, idx)] = response.content
    assert merkle.tree_root(checkpoint.size, lambda level, idx: tiles[(level, idx)]) == checkpoint.root
    last = (checkpoint.size - 1) // 256
    width = checkpoint.size - last * 256
    bundle = client.get("/ledger/" + merkle.tile_path(-1, last, width))
    assert bundle.status_code == 200
    assert b"".join(merkle.leaf_hash(e) for e in merkle.parse_entry_bundle(bundle.content)) == tiles[(0, last)]


@pytest.mark.parametrize(("path", "status"), [
    ("0/000.p/0", 422), ("0/00", 422), ("entries/000.p/256", 422), ("64/000", 422), ("nonsense", 422),
    ("0/000/", 422), ("0/x001/x000/x000/x000/x000/x000/000", 404), ("30/000", 404),
    # Past uint64, and past the 4,300 digits Python's int() takes: refused before the index is read.
    ("0/x001/x000/x000/x000/x000/x000/x000/x000/000", 422), ("0/" + "x999/" * 1500 + "000", 422),
])
def test_bad_or_missing_tiles_are_problems_not_errors(client, published, path, status):
    body = _problem(client.get(f"/ledger/tile/{path}"), status)
    assert body["type"] == ("/problems/ledger-tile-not-found" if status == 404 else "/problems/ledger-invalid-tile-path")


def test_a_tile_beyond_the_tree_is_not_found(client, published):
    _, checkpoint, _ = published
    idx = checkpoint.size // 256 + 1
    _problem(client.get("/ledger/" + merkle.tile_path(0, idx)), 404)
    _problem(client.get("/ledger/" + merkle.tile_path(-1, idx, 3)), 404)


def test_inclusion_and_consistency_proofs_verify_against_the_checkpoint(client, published):
    leaves, checkpoint, _ = published
    size = checkpoint.size
    index = helpers.committed(lambda s: ledger.entry_by_leaf_hash(s, leaves[1]).leaf_index)
    response = client.get("/ledger/proof/inclusion", params={"index": index, "size": size})
    assert response.status_code == 200
    body = response.json()
    assert (body["index"], body["size"]) == (index, size)
    merkle.verify_inclusion(leaves[1], index, size, _hashes(body["proof"]), checkpoint.root)
    old = index  # a size at or below the current one
    old_root = helpers.committed(lambda s: merkle.tree_root(old, ledger.tile_reader(s)))
    response = client.get("/ledger/proof/consistency", params={"old": old, "new": size})
    assert response.status_code == 200
    merkle.verify_consistency(old, size, _hashes(response.json()["proof"]), old_root, checkpoint.root)


@pytest.mark.parametrize(("path", "params"), [
    ("inclusion", {"index": 5, "size": 5}), ("inclusion", {"index": -1, "size": 5}),
    ("inclusion", {"index": 0, "size": 10**15}), ("inclusion", {"index": 0, "size": 10**30}),
    ("inclusion", {"index": "x", "size": 1}), ("inclusion", {"size": 1}),
    ("consistency", {"old": 3, "new": 2}), ("consistency", {"old": 1, "new": 10**15}), ("consistency", {"old": 1}),
    ("inclusion", {"index": 0, "size": "9" * 19}), ("consistency", {"old": 0, "new": "9" * 19}),  # past 2^63 - 1
])
def test_bad_proof_parameters_are_422_problems(client, published, path, params):
    _problem(client.get(f"/ledger/proof/{path}", params=params), 422)


@pytest.mark.parametrize("bad", ["01", "+1", " 1", "1 ", "1.0", "1_0", "\u0661", "1e0", "0x1", "", "-0", "9" * 20])
def test_proof_sizes_and_indexes_are_canonical_decimals(client, published, bad):
    # Pydantic's lax int read most of these (1_0 as 10); here every number has one spelling, as in C2SP.
    body = _problem(client.get("/ledger/proof/inclusion", params={"index": "0", "size": bad}), 422)
    assert [e["field"] for e in body["errors"]] == ["query.size"]
    body = _problem(client.get("/ledger/proof/consistency", params={"old": bad, "new": "1"}), 422)
    assert [e["field"] for e in body["errors"]] == ["query.old"]
    assert client.get("/ledger/proof/consistency", params={"old": "0", "new": "1"}).json()["new"] == 1


def test_an_entry_is_looked_up_by_its_leaf_hash_with_a_proof_to_the_newest_checkpoint(client, published):
    leaves, checkpoint, _ = published
    response = client.get(f"/ledger/entries/{leaves[0].hex()}")
    assert response.status_code == 200
    body = response.json()
    assert body["leaf_hash"] == leaves[0].hex() and body["size"] == checkpoint.size
    assert merkle.leaf_hash(body["entry"].encode()) == leaves[0]
    assert '"type":"test.published"' in body["entry"]
    merkle.verify_inclusion(leaves[0], body["index"], body["size"], _hashes(body["proof"]), checkpoint.root)
    assert body["checkpoint"].encode().startswith(checkpoint.body())
    assert client.get(f"/ledger/entries/{leaves[0].hex().upper()}").json()["index"] == body["index"]


def test_unknown_or_malformed_leaf_hashes_are_problems(client, published):
    assert _problem(client.get(f"/ledger/entries/{'ab' * 32}"), 404)["type"] == "/problems/ledger-entry-not-found"
    for bad in ("ab" * 31, "zz" * 32, "ab" * 33):
        _problem(client.get(f"/ledger/entries/{bad}"), 422)


def test_the_json_routes_are_documented_and_the_byte_routes_are_not(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/ledger/proof/inclusion", "/ledger/proof/consistency", "/ledger/entries/{leaf_hash_hex}"} <= set(paths)
    assert "/ledger/checkpoint" not in paths and "/ledger/tile/{path}" not in paths
