"""`openzone verify RECEIPT`: offline, with keys the user supplies or pinned in a file, never keys inside the receipt."""

from __future__ import annotations

import base64

import pytest
from typer.testing import CliRunner

from openzone.cli import app
from openzone.core.ledger import note
from tests.core.ledger.test_receipt import BANK, COURT, ENTRIES, LOG, ORIGIN, ROOT, sample_receipt

runner = CliRunner()


def _run(*args: str, stdin: bytes | None = None):
    return runner.invoke(app, ["verify", *args], input=stdin)


@pytest.fixture
def keys_file(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text(f"# pinned from https://oz.example.cn/ledger/keys\n{LOG.vkey}\n{COURT.vkey}\n{BANK.vkey}\n")
    return path


@pytest.fixture
def receipt_file(tmp_path):
    path = tmp_path / "r.tlog-proof"
    path.write_bytes(sample_receipt())
    return path


def test_a_valid_receipt_passes_with_a_bilingual_verdict(receipt_file, keys_file):
    result = _run(str(receipt_file), "--keys-file", str(keys_file))
    assert result.exit_code == 0, result.output
    assert "收据有效 · The receipt is valid" in result.output
    assert "事件类型 · event type: test.receipt" in result.output
    assert "叶索引 · leaf index: 5" in result.output
    assert f"根哈希 · root hash: {ROOT.hex()}" in result.output
    assert "witness.court.example (2026-09-21 14:13:20 UTC)" in result.output
    assert "法定人数 · quorum: 2 / 2" in result.output


def test_keys_can_be_given_one_by_one_and_the_receipt_read_from_stdin():
    result = _run("-", "--key", LOG.vkey, stdin=sample_receipt(witnesses=()))
    assert result.exit_code == 0, result.output
    assert "见证人联署 · cosigned by: —" in result.output


def _swap_char(data: bytes, position: int) -> bytes:
    # Another base64 letter, so the line still parses and only the signature check can catch it.
    return data[:position] + (b"B" if data[position:position + 1] == b"A" else b"A") + data[position + 1:]


@pytest.mark.parametrize(("tamper", "reason"), [
    (lambda d: d.replace(base64.b64encode(ENTRIES[5]), base64.b64encode(ENTRIES[6])), "not in the checkpoint's tree"),
    (lambda d: d.replace(b"index 5\n", b"index 6\n"), "not in the checkpoint's tree"),
    (lambda d: d.replace(base64.b64encode(ROOT), base64.b64encode(bytes(32))), "does not verify"),
    (lambda d: d.replace(b"\n\n" + ORIGIN.encode(), b"\n\n" + ORIGIN.encode() + b"x"), "does not verify"),
    (lambda d: d.replace(b"c2sp.org/tlog-proof@v1", b"c2sp.org/tlog-proof@v0"), "malformed"),
    (lambda d: _swap_char(d, len(d) - 20), "witness.bank.example"),
    (lambda d: d.replace(b"\n", b"\r\n"), "malformed"),
    (lambda d: d.replace(b"index 5\n", b"index 1" + b"0" * 5000 + b"\n"), "malformed"),  # past int()'s digit limit
])
def test_every_tampering_fails_with_a_reason(tmp_path, keys_file, tamper, reason):
    path = tmp_path / "tampered.tlog-proof"
    data = sample_receipt()
    path.write_bytes(tamper(data))
    assert path.read_bytes() != data
    result = _run(str(path), "--keys-file", str(keys_file))
    assert result.exit_code == 1, result.output
    assert "收据无效 · The receipt is NOT valid" in result.output
    assert "原因：" in result.output and "Reason: " in result.output
    assert reason in result.output


def test_the_receipts_own_keys_are_not_enough(receipt_file):
    impostor, _ = note.generate_signer(ORIGIN)
    result = _run(str(receipt_file), "--key", impostor.vkey)
    assert result.exit_code == 1
    assert "no signature by a trusted log key" in result.output


def test_witnesses_count_against_the_quorum(tmp_path, keys_file):
    path = tmp_path / "one-witness.tlog-proof"
    path.write_bytes(sample_receipt(witnesses=(COURT,)))
    result = _run(str(path), "--keys-file", str(keys_file))
    assert result.exit_code == 1 and "at least 2 are required" in result.output
    result = _run(str(path), "--keys-file", str(keys_file), "--quorum", "1")
    assert result.exit_code == 0 and "法定人数 · quorum: 1 / 2" in result.output


def test_the_origin_can_be_required(receipt_file, keys_file):
    assert _run(str(receipt_file), "--keys-file", str(keys_file), "--origin", ORIGIN).exit_code == 0
    result = _run(str(receipt_file), "--keys-file", str(keys_file), "--origin", "ledger.other.example/v1")
    assert result.exit_code == 1 and "ledger.other.example/v1" in result.output


def test_without_a_log_key_nothing_is_trusted(receipt_file):
    result = _run(str(receipt_file), "--key", COURT.vkey)
    assert result.exit_code == 1
    assert "At least one log verifier key" in result.output


def test_a_bad_key_line_is_named(receipt_file, tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text(f"{LOG.vkey}\n\nnot-a-key\n")
    result = _run(str(receipt_file), "--keys-file", str(path))
    assert result.exit_code == 1
    assert "第3行" in result.output and "Line 3" in result.output


def test_an_unreadable_receipt_is_reported(tmp_path, keys_file):
    result = _run(str(tmp_path / "missing.tlog-proof"), "--keys-file", str(keys_file))
    assert result.exit_code == 1 and "Cannot read the file" in result.output
