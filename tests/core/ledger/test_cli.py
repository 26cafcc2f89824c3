"""The `openzone ledger` commands, run as processes against a separate database: vkey, integrate, export-tiles, audit."""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from openzone.cli import app
from openzone.config import get_settings
from openzone.core import ledger
from openzone.core.ledger import merkle, note
from openzone.core.ledger.models import LogState, Tile
from openzone.db import transaction
from tests.core.ledger import scratch


@pytest.fixture(scope="module")
def log_db():
    """A database with 600 entries integrated by the command in batches of 250: checkpoints 250, 500 and 600."""
    with scratch.scratch_database() as url:
        scratch.add_entries(url, 600)
        result = scratch.run_cli("ledger", "integrate", "--batch", "250", url=url)
        assert result.returncode == 0, result.stderr
        assert [line for line in result.stdout.splitlines() if "checkpoint" in line] == [
            "检查点 · checkpoint 250 (+250)", "检查点 · checkpoint 500 (+250)", "检查点 · checkpoint 600 (+100)"]
        assert "600 entries integrated" in result.stdout
        yield url


def test_vkey_prints_the_log_verifier_key(log_db):
    result = scratch.run_cli("ledger", "vkey", url=log_db)
    assert result.returncode == 0
    assert result.stdout.strip() == ledger.log_vkey()
    assert note.parse_vkey(result.stdout.strip()).name == ledger.log_origin()


def test_integrate_with_nothing_pending_changes_nothing(log_db):
    result = scratch.run_cli("ledger", "integrate", url=log_db)
    assert result.returncode == 0 and "0 entries integrated" in result.stdout and "checkpoint" not in result.stdout


def test_an_idle_integrator_does_not_wait_for_the_writers(log_db):
    # A writer holds the write lock (SQLite) or the log's state row (PostgreSQL) for longer than the busy timeout:
    # with nothing pending the integrator only reads, so it finishes at once instead of waiting or failing.
    with transaction(log_db) as session:
        session.execute(select(LogState).with_for_update())
        proc = scratch.cli("ledger", "integrate", url=log_db, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=8)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail("the idle integrator waited for the write lock")
    assert proc.returncode == 0, err
    assert "0 entries integrated" in out


def test_export_tiles_writes_a_static_log_a_verifier_can_read(log_db, tmp_path):
    result = scratch.run_cli("ledger", "export-tiles", str(tmp_path), url=log_db)
    assert result.returncode == 0, result.stderr
    with transaction(log_db) as session:
        served = ledger.current_checkpoint_note(session)
    assert (tmp_path / "checkpoint").read_bytes() == served
    checkpoint = note.parse_checkpoint(note.open_note(served, [note.parse_vkey(ledger.log_vkey())]).text)
    assert checkpoint.size == 600

    def read(level: int, idx: int) -> bytes:
        width = next(w for lv, i, w in merkle.tile_widths(600) if (lv, i) == (level, idx))
        return (tmp_path / merkle.tile_path(level, idx, width)).read_bytes()

    assert merkle.tree_root(600, read) == checkpoint.root
    entries = [e for idx, width in ((0, 256), (1, 256), (2, 88))
               for e in merkle.parse_entry_bundle((tmp_path / merkle.tile_path(-1, idx, width)).read_bytes())]
    assert b"".join(merkle.leaf_hash(e) for e in entries) == b"".join(read(0, i) for i in range(3))
    # Partial tiles of earlier checkpoints that are still partial now (sizes 500 and 600 at level 1) stay readable;
    # partial tiles that have since filled up (size 250 at level 0) are left to the full tile.
    assert (tmp_path / "tile/1/000.p/1").read_bytes() == read(1, 0)[:32]
    assert not (tmp_path / "tile/0/000.p/250").exists()
    assert "files written" in result.stdout


def test_export_tiles_to_an_unwritable_target_fails_readably(log_db, tmp_path):
    (tmp_path / "afile").write_text("")
    result = scratch.run_cli("ledger", "export-tiles", str(tmp_path / "afile" / "out"), url=log_db)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "无法写入" in result.stdout and "cannot write to" in " ".join(result.stdout.split())


def test_vkey_with_a_key_file_that_is_not_utf8_fails_readably(monkeypatch, tmp_path):
    monkeypatch.setattr(get_settings(), "var_dir", tmp_path)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ledger.skey").write_bytes(b"PRIVATE+KEY+\xff\n")
    result = CliRunner().invoke(app, ["ledger", "vkey"])
    assert result.exit_code == 1 and not isinstance(result.exception, UnicodeDecodeError), repr(result.exception)
    assert "Cannot read the signing key file" in " ".join(result.output.split())  # Rich wraps long paths


def test_audit_passes_then_reports_a_tampered_tile_and_exits_1(log_db):
    result = scratch.run_cli("ledger", "audit", url=log_db)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit passed" in result.stdout
    with transaction(log_db) as session:
        original = ledger.read_tile(session, 0, 2)
        session.execute(update(Tile).where(Tile.level == 0, Tile.idx == 2)
                        .values(data=original[:40] + bytes([original[40] ^ 1]) + original[41:]))
    try:
        result = scratch.run_cli("ledger", "audit", url=log_db)
        assert result.returncode == 1
        assert "audit FAILED: 1 differences" in result.stdout
        assert "tile 0/2: stored bytes differ from the entries" in result.stdout
    finally:
        with transaction(log_db) as session:
            session.execute(update(Tile).where(Tile.level == 0, Tile.idx == 2).values(data=original))


def test_integrate_reports_an_inconsistent_log_in_both_languages_and_exits_1(log_db):
    scratch.add_entries(log_db, 1)
    # The partial tile the next leaf joins: its old hashes feed the new root, so the pre-signing check sees the change.
    # (An interior full tile is never read when appending; `ledger audit` is what catches that.)
    with transaction(log_db) as session:
        original = ledger.read_tile(session, 0, 2)
        session.execute(update(Tile).where(Tile.level == 0, Tile.idx == 2).values(data=bytes(32) + original[32:]))
    try:
        result = scratch.run_cli("ledger", "integrate", url=log_db)
        assert result.returncode == 1
        assert "错误：新的树" in result.stdout and "Error: The new tree (size 601) is not consistent" in result.stdout
        with transaction(log_db) as session:
            assert ledger.tree_size(session) == 600 and ledger.pending_count(session) == 1
    finally:
        with transaction(log_db) as session:
            session.execute(update(Tile).where(Tile.level == 0, Tile.idx == 2).values(data=original))


def test_an_idle_integrator_still_reports_a_state_that_disagrees_with_the_newest_checkpoint(log_db):
    assert scratch.run_cli("ledger", "integrate", url=log_db).returncode == 0
    with transaction(log_db) as session:
        session.execute(update(LogState).values(size=LogState.size + 1))
    try:
        result = scratch.run_cli("ledger", "integrate", url=log_db)
        assert result.returncode == 1
        assert "does not match the newest checkpoint" in result.stdout
    finally:
        with transaction(log_db) as session:
            session.execute(update(LogState).values(size=LogState.size - 1))
