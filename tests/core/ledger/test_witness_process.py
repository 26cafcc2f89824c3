"""`openzone witness keygen` and `openzone witness run`: a real witness process answering C2SP tlog-witness over HTTP."""

from __future__ import annotations

import base64
import json
import signal
import socket
import stat

import httpx
import pytest
from typer.testing import CliRunner

from openzone.cli import app
from openzone.core.ledger import note, witness
from tests.core.ledger import witness_helpers as wh
from tests.core.ledger.witness_helpers import MemoryLog

ORIGINS = ("honest", "stale", "fork", "proof", "empty", "keys")


@pytest.fixture(scope="module")
def logs() -> dict[str, MemoryLog]:
    return {name: MemoryLog(f"{name}.log.example.test/v1") for name in ORIGINS}


@pytest.fixture(scope="module")
def server(tmp_path_factory, logs):
    """Start one witness process that witnesses several logs; each test uses a log of its own."""
    directory = tmp_path_factory.mktemp("witness")
    with wh.witnesses(directory, ["witness.example.test/court"], [log.signer.vkey for log in logs.values()]) as started:
        yield started[0]


def post(server: wh.WitnessProcess, body: bytes) -> httpx.Response:
    return httpx.post(server.url + "/add-checkpoint", content=body, timeout=30)


def add(server, log: MemoryLog, old: int, proof=None, checkpoint: bytes | None = None) -> httpx.Response:
    proof = (log.proof(old) if old else []) if proof is None else proof
    return post(server, witness.format_request(old, proof, checkpoint or log.checkpoint()))


def test_keygen_writes_a_private_key_file_and_prints_the_cosignature_key(tmp_path):
    key = tmp_path / "w.skey"
    result = CliRunner().invoke(app, ["witness", "keygen", "witness.example.test/bank", "--key", str(key)])
    assert result.exit_code == 0, result.output
    vkey = result.output.strip()
    verifier = note.parse_vkey(vkey)
    assert (verifier.name, verifier.kind) == ("witness.example.test/bank", note.KIND_COSIGNATURE_V1)
    signer = note.parse_skey(key.read_text().strip())
    assert note.as_cosigner(signer).vkey == vkey
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    again = CliRunner().invoke(app, ["witness", "keygen", "witness.example.test/bank", "--key", str(key)])
    assert again.exit_code == 1 and "exists" in again.output
    assert key.read_bytes() == before


def test_an_honest_log_gets_a_verifiable_cosignature(server, logs):
    log = logs["honest"]
    log.grow(3)
    first = add(server, log, 0)
    assert first.status_code == 200, first.text
    opened = note.open_note(log.checkpoint() + first.content, [server.verifier])
    assert [line.name for line in opened.signatures] == [server.name]
    log.grow(600)
    second = add(server, log, 3)
    assert second.status_code == 200, second.text
    text = note.parse_note(log.checkpoint()).text
    line = note.parse_note(log.checkpoint() + second.content).signatures[-1]
    assert note.verify_cosignature(server.verifier, text, line) > 1_700_000_000


def test_a_stale_old_size_gets_409_with_the_size_in_text_x_tlog_size(server, logs):
    log = logs["stale"]
    log.grow(10)
    assert add(server, log, 0).status_code == 200
    log.grow(5)
    for old in (0, 4):
        response = add(server, log, old)
        assert response.status_code == 409
        assert response.content == b"10\n"
        assert response.headers["content-type"] == "text/x.tlog.size"
    assert add(server, log, 10).status_code == 200


def test_a_checkpoint_signed_by_an_unknown_key_gets_403(server, logs):
    log = logs["keys"]
    log.grow(2)
    impostor = note.generate_signer(log.origin)[0]
    assert add(server, log, 0, checkpoint=log.checkpoint(signers=[impostor])).status_code == 403
    stranger = MemoryLog("stranger.example.test/v1")
    stranger.grow(1)
    assert add(server, stranger, 0).status_code == 404
    assert add(server, log, 0).status_code == 200


def test_a_forked_log_is_refused(server, logs):
    log = logs["fork"]
    log.grow(40)
    assert add(server, log, 0).status_code == 200
    rewritten = log.fork(at=39)
    same_size = add(server, rewritten, 40, proof=[])
    assert (same_size.status_code, same_size.content) == (409, b"40\n")
    rewritten.grow(1)
    assert add(server, rewritten, 40).status_code == 422
    assert add(server, log, 40, proof=[]).status_code == 200


def test_bad_proofs_and_bad_sizes_are_refused(server, logs):
    log = logs["proof"]
    log.grow(20)
    assert add(server, log, 0).status_code == 200
    log.grow(20)
    proof = log.proof(20)
    proof[-1] = bytes(32)
    assert add(server, log, 20, proof=proof).status_code == 422
    assert add(server, log, 41, proof=[]).status_code == 400
    assert post(server, b"old 20\nnot base64\n\n" + log.checkpoint()).status_code == 400
    assert add(server, log, 20).status_code == 200


def test_the_empty_tree_must_carry_the_empty_root(server, logs):
    log = logs["empty"]
    bad = note.sign_note(f"{log.origin}\n0\n{base64.b64encode(bytes(32)).decode()}\n".encode(), [log.signer])
    assert post(server, witness.format_request(0, [], bad)).status_code == 422
    assert add(server, log, 0).status_code == 200


def test_only_post_add_checkpoint_is_served(server):
    assert httpx.get(server.url + "/add-checkpoint").status_code == 405
    assert httpx.post(server.url + "/other", content=b"x").status_code == 404
    assert httpx.post(server.url + "/add-checkpoint", content=b"x" * (witness.MAX_REQUEST_BYTES + 1)).status_code == 413


def _raw(server: wh.WitnessProcess, request: bytes) -> bytes:
    url = httpx.URL(server.url)
    with socket.create_connection((url.host, url.port), timeout=30) as conn:
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(("length", "status"), [
    (b"\xb2", b"400"), (b"\xd9\xa3", b"400"), (b"-1", b"400"), (b"1" * 5000, b"413"), (None, b"411"),
])
def test_a_content_length_that_is_not_ascii_digits_is_refused(server, length, status):
    # "²" passes str.isdigit() but not int(); the handler must answer, not die.
    header = b"" if length is None else b"Content-Length: " + length + b"\r\n"
    answer = _raw(server, b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\n" + header + b"\r\nab")
    assert answer.startswith(b"HTTP/1.1 " + status), answer


def test_a_checkpoint_size_past_the_int_digit_limit_is_400(server, logs):
    log = logs["keys"]
    signed = note.sign_note(f"{log.origin}\n1{'0' * 5000}\n{base64.b64encode(log.root()).decode()}\n".encode(),
                            [log.signer])
    response = post(server, witness.format_request(0, [], signed))
    assert response.status_code == 400 and "tree size" in response.text


def test_the_witness_stops_cleanly_keeps_its_state_and_refuses_a_second_process(tmp_path):
    log = MemoryLog()
    log.grow(12)
    with wh.witnesses(tmp_path, ["witness.example.test/regulator"], [log.signer.vkey]) as (w,):
        assert add(w, log, 0).status_code == 200
        twin = wh.cli(*wh.run_args(w.name, w.key, w.state, [log.signer.vkey]), log=tmp_path / "twin.log")
        out, _ = twin.communicate()
        assert twin.returncode == 1 and "another witness process" in out
        w.proc.send_signal(signal.SIGTERM)
        out, _ = w.proc.communicate()
        assert w.proc.returncode == 0 and "stopped" in out
    saved = json.loads(w.state.read_text())
    assert saved["logs"][log.origin]["size"] == 12
    restarted = wh.cli(*wh.run_args(w.name, w.key, w.state, [log.signer.vkey]), log=tmp_path / "restart.log")
    try:
        line = wh.read_line(restarted, "listening on ")
        url = line.split("listening on ", 1)[1].split()[0]
        response = httpx.post(url + "/add-checkpoint", content=witness.format_request(0, [], log.checkpoint()))
        assert (response.status_code, response.content) == (409, b"12\n")
    finally:
        assert wh.stop(restarted) == 0


def test_run_refuses_a_key_file_that_is_not_utf8(tmp_path):
    key = tmp_path / "bad.skey"
    key.write_bytes(b"\xff\xfe")
    result = CliRunner().invoke(app, ["witness", "run", "--name", "w", "--key", str(key), "--state",
                                      str(tmp_path / "s.json"), "--log-vkey", MemoryLog().signer.vkey])
    assert result.exit_code == 1 and not isinstance(result.exception, UnicodeDecodeError), repr(result.exception)
    assert "is not UTF-8 text" in " ".join(result.output.split())  # Rich wraps long paths


@pytest.mark.parametrize("args", [
    ["--name", "someone.else"],
    ["--log-vkey", "not-a-key"],
])
def test_run_refuses_a_mismatched_name_or_a_bad_log_key(tmp_path, args):
    key, _ = wh.make_key(tmp_path, "witness.example.test/w")
    base = {"--name": "witness.example.test/w", "--log-vkey": MemoryLog().signer.vkey}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = CliRunner().invoke(app, ["witness", "run", "--key", str(key), "--state", str(tmp_path / "s.json"),
                                      *[x for kv in base.items() for x in kv]])
    assert result.exit_code == 1
