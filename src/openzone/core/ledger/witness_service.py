"""Witness use cases on the log side: register witnesses, send them the newest checkpoint, keep their cosignatures."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core import jobs
from openzone.core.ledger import note, service, witness
from openzone.core.ledger.models import PublishedCheckpoint
from openzone.core.ledger.witness_models import RegisteredWitness
from openzone.kit.errors import problem
from openzone.kit.time import utcnow

WitnessInvalid = problem("ledger-witness-invalid", 422, "见证方信息无效", "The witness details are not valid")
WitnessExists = problem("ledger-witness-exists", 409, "见证方已登记", "The witness is already registered")
WitnessNotFound = problem("ledger-witness-not-found", 404, "没有登记该见证方", "No such witness is registered")

WITNESS_EVERY = dt.timedelta(seconds=3)
# A witness answer is one or a few signature lines; anything longer is refused unread.
MAX_RESPONSE_BYTES = 16 * 1024
_URL_RE = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", re.ASCII)


# --- registry ---

def _httpx_accepts(url: str) -> bool:
    # Every round builds a request to this URL: one httpx cannot parse (bad IPv6 literal, IDNA host) or that names
    # no host or an impossible port would fail there, round after round, instead of being refused once here.
    try:
        parsed = httpx.URL(url)
        # .host decodes the IDNA host: idna raises IDNAError, a UnicodeError, for a host like "xn--".
        return bool(parsed.host) and (parsed.port is None or 1 <= parsed.port <= 65535)
    except (httpx.InvalidURL, UnicodeError):
        return False


def add_witness(session: Session, *, name: str, vkey: str, url: str) -> RegisteredWitness:
    """Register a witness by its cosignature verifier key (type 0x04) and its tlog-witness URL prefix."""
    name, vkey, url = (name or "").strip(), (vkey or "").strip(), (url or "").strip()
    try:
        verifier = note.parse_vkey(vkey)
    except note.NoteError as exc:
        raise WitnessInvalid(f"见证方公钥格式错误：{exc}", f"The witness key is malformed: {exc}",
                             errors=[{"field": "vkey", "code": "format"}]) from None
    if verifier.kind != note.KIND_COSIGNATURE_V1:
        raise WitnessInvalid("见证方公钥须为 C2SP 联署签名公钥（类型 0x04，以 +B 开头的密钥部分）",
                             "A witness key is a C2SP cosignature key (type 0x04)",
                             errors=[{"field": "vkey", "code": "kind"}])
    if name != verifier.name:
        raise WitnessInvalid(f"见证方名称须与公钥中的名称“{verifier.name}”一致",
                             f"The witness name must be the key's name {verifier.name!r}",
                             errors=[{"field": "name", "code": "mismatch"}])
    if not _URL_RE.match(url) or len(url) > 500 or not _httpx_accepts(url):
        raise WitnessInvalid("见证方地址须为 http:// 或 https:// 开头、不含查询参数的有效网址",
                             "The witness URL is a valid http:// or https:// prefix without a query",
                             errors=[{"field": "url", "code": "format"}])
    public_key = verifier.public_raw.hex()
    if session.scalar(select(RegisteredWitness.id).where(
            (RegisteredWitness.name == name) | (RegisteredWitness.public_key == public_key))) is not None:
        raise WitnessExists(f"名称“{name}”或该公钥已被登记", f"The name {name!r} or this key is already registered")
    row = RegisteredWitness(name=name, vkey=vkey, public_key=public_key, url=url.rstrip("/"), active=True, last_size=0)
    session.add(row)
    session.flush()
    return row


def list_witnesses(session: Session) -> list[RegisteredWitness]:
    """List every registered witness, active or not, by name."""
    return list(session.scalars(select(RegisteredWitness).order_by(RegisteredWitness.name)))


def set_witness_active(session: Session, *, name: str, active: bool) -> RegisteredWitness:
    """Start or stop asking a witness to cosign; a stopped witness no longer counts towards the quorum."""
    row = session.scalar(select(RegisteredWitness).where(RegisteredWitness.name == name))
    if row is None:
        raise WitnessNotFound(f"没有名为“{name}”的见证方", f"No witness is named {name!r}")
    row.active = active
    session.flush()
    return row


# --- cosignatures ---

def _verifier(row: RegisteredWitness) -> note.Verifier:
    return note.parse_vkey(row.vkey)


def _stored_lines(checkpoint: PublishedCheckpoint) -> list[note.SignatureLine]:
    if not checkpoint.cosignatures:
        return []
    # tlog-witness: cosignature lines are note signature lines, so the checkpoint text plus the lines is a note.
    try:
        return note.parse_note(checkpoint.body.encode() + b"\n" + checkpoint.cosignatures.encode()).signatures
    except note.NoteError:
        # Unreadable stored lines prove nothing; the next cosignature replaces them.
        return []


def cosigners(checkpoint: PublishedCheckpoint, witnesses: Sequence[RegisteredWitness]) -> list[str]:
    """Name the witnesses among those given whose cosignature on the checkpoint is stored and verifies."""
    lines = _stored_lines(checkpoint)
    body = checkpoint.body.encode()
    names = []
    for row in witnesses:
        verifier = _verifier(row)
        for line in lines:
            if (line.name, line.key_id) != (verifier.name, verifier.key_id):
                continue
            try:
                note.verify_cosignature(verifier, body, line)
            except note.NoteError:
                continue
            names.append(row.name)
            break
    return names


def _keep_cosignature(checkpoint: PublishedCheckpoint, line: note.SignatureLine) -> None:
    kept = [old for old in _stored_lines(checkpoint) if (old.name, old.key_id) != (line.name, line.key_id)]
    kept.append(line)
    kept.sort(key=lambda sl: (sl.name, sl.key_id))
    checkpoint.cosignatures = b"".join(note.format_signature_line(sl) for sl in kept).decode()


@dataclass(frozen=True)
class _Answer:
    status: int = 0
    content_type: str = ""
    body: bytes = b""
    error: str = ""


def _post(url: str, body: bytes, deadline: float) -> _Answer:
    timeout = max(0.1, deadline - time.monotonic())
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client, \
                client.stream("POST", url + witness.ADD_CHECKPOINT_PATH, content=body,
                              headers={"content-type": witness.TEXT_CONTENT_TYPE}) as response:
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_RESPONSE_BYTES:
                    return _Answer(error=f"the answer is longer than {MAX_RESPONSE_BYTES} bytes")
            return _Answer(response.status_code, response.headers.get("content-type", ""), data)
    except (httpx.HTTPError, httpx.InvalidURL, UnicodeError) as exc:
        # InvalidURL and idna's UnicodeError are no HTTPError: a URL registered before add_witness checked it with
        # httpx must refuse this witness, not end the round for all of them.
        return _Answer(error=f"{type(exc).__name__}: {exc}")


@dataclass
class WitnessRound:
    """Report one round of asking the witnesses to cosign the newest checkpoint."""

    size: int | None = None
    asked: list[str] = field(default_factory=list)
    cosigned: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    cosigners: list[str] = field(default_factory=list)
    needed: int | None = None
    final: bool = False


def _refused(row: RegisteredWitness, report: WitnessRound, zh: str, en: str) -> None:
    row.last_error, row.last_error_en, row.last_error_at = zh[:2000], en[:2000], utcnow()
    report.refused[row.name] = en


def _answer_text(answer: _Answer) -> str:
    return answer.body[:200].decode("utf-8", "replace").strip()


def cosign_latest(session: Session, *, quorum: int | None = None, timeout: float | None = None) -> WitnessRound:
    """Send the newest checkpoint to every active witness lacking its cosignature, keep the verified cosignatures, mark it final at quorum."""
    settings = get_settings()
    quorum = settings.ledger_quorum if quorum is None else quorum
    timeout = settings.ledger_witness_timeout if timeout is None else timeout
    report = WitnessRound()
    # The row lock makes concurrent rounds take turns, so cosignature lines are never merged from stale copies.
    checkpoint = session.scalar(select(PublishedCheckpoint).order_by(PublishedCheckpoint.size.desc()).limit(1)
                                .with_for_update().execution_options(populate_existing=True))
    if checkpoint is None:
        return report
    report.size = checkpoint.size
    active = [w for w in list_witnesses(session) if w.active]
    done = set(cosigners(checkpoint, active))
    uncosigned = [w for w in active if w.name not in done]
    body = checkpoint.body.encode()
    deadline = time.monotonic() + timeout
    # Two passes at most: a 409 names the size the witness last cosigned, and the second pass proves from there.
    for second_pass in (False, True):
        requests = []
        for row in uncosigned:
            if row.last_size > checkpoint.size:
                _refused(row, report, f"见证方已联署过更大的树（大小{row.last_size}），大于本账本的{checkpoint.size}：账本可能被回滚或分叉",
                         f"The witness has cosigned a larger tree (size {row.last_size}) than this log's {checkpoint.size}: "
                         "the log may have been rolled back or forked")
                continue
            proof = service.consistency_proof(session, row.last_size, checkpoint.size)
            requests.append((row, row.last_size, witness.format_request(row.last_size, proof, checkpoint.note.encode())))
        if not requests:
            break
        report.asked.extend(row.name for row, _, _ in requests if row.name not in report.asked)
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            answers = list(pool.map(lambda r: _post(r[0].url, r[2], deadline), requests))
        uncosigned = []
        for (row, old, _), answer in zip(requests, answers, strict=True):
            if _handle(row, old, answer, checkpoint, body, report, retry=not second_pass):
                uncosigned.append(row)
        if not uncosigned:
            break
    report.cosigners = cosigners(checkpoint, active)
    report.needed = witness.quorum_needed(len(active), quorum)
    # Finality is a fact about the past: a witness stopped later does not undo it.
    if report.needed is not None and len(report.cosigners) >= report.needed:
        checkpoint.final = True
    report.final = checkpoint.final
    session.flush()
    return report


def _handle(row: RegisteredWitness, old: int, answer: _Answer, checkpoint: PublishedCheckpoint, body: bytes,
            report: WitnessRound, *, retry: bool) -> bool:
    """Apply one witness answer to its row and the checkpoint; return True to ask it again from the size it named."""
    if answer.error:
        _refused(row, report, f"无法联系见证方：{answer.error}", f"The witness could not be reached: {answer.error}")
        return False
    if answer.status == 200:
        verifier = _verifier(row)
        try:
            # tlog-witness: the client ignores cosignatures from unknown keys and verifies its own as a note.
            lines = note.open_note(body + b"\n" + answer.body, [verifier]).signatures
        except note.NoteError as exc:
            _refused(row, report, f"见证方返回的联署签名无效：{exc}", f"The witness returned no valid cosignature: {exc}")
            return False
        _keep_cosignature(checkpoint, lines[0])
        row.last_size, row.last_cosigned_at = checkpoint.size, utcnow()
        row.last_error = row.last_error_en = row.last_error_at = None
        report.cosigned.append(row.name)
        return False
    if answer.status == 409:
        try:
            if not answer.content_type.startswith(witness.SIZE_CONTENT_TYPE):
                raise witness.WitnessError(f"the content type is {answer.content_type!r}, not {witness.SIZE_CONTENT_TYPE}")
            size = witness.parse_size(answer.body)
        except witness.WitnessError as exc:
            _refused(row, report, f"见证方返回了无法识别的冲突应答：{exc}", f"The witness sent an unreadable conflict answer: {exc}")
            return False
        if size == old:
            _refused(row, report, f"见证方拒绝：它在大小{size}处见过根哈希不同的检查点，账本历史与其记录不一致（分叉）",
                     f"Refused by the witness: it saw a checkpoint of size {size} with a different root; the log's "
                     "history differs from its record (a fork)")
            return False
        if size > checkpoint.size:
            # Not stored: the claim is unproven, and a hostile 2^64 - 1 would overflow the BIGINT column and fail the
            # flush, rolling back the round for every witness.
            _refused(row, report, f"见证方已联署过更大的树（大小{size}），大于本账本的{checkpoint.size}：账本可能被回滚或分叉",
                     f"The witness has cosigned a larger tree (size {size}) than this log's {checkpoint.size}: "
                     "the log may have been rolled back or forked")
            return False
        row.last_size = size
        if not retry:
            _refused(row, report, f"见证方再次报告大小冲突（大小{size}）", f"The witness reported a size conflict again (size {size})")
        return retry
    reasons = {
        400: ("见证方认为请求格式错误", "The witness found the request malformed"),
        403: ("见证方不认可账本的签名（未配置本账本的公钥？）", "The witness does not accept the log's signature (is the log key configured?)"),
        404: ("见证方不认识本账本的来源名", "The witness does not know this log's origin"),
        422: ("见证方拒绝：一致性证明不成立，账本历史与其上次联署的检查点不一致（分叉或改写）",
              "Refused by the witness: the consistency proof fails; the log's history is not consistent with the "
              "checkpoint it last cosigned (a fork or a rewrite)"),
    }
    zh, en = reasons.get(answer.status, ("见证方返回了错误", "The witness returned an error"))
    _refused(row, report, f"{zh}（HTTP {answer.status}：{_answer_text(answer)}）", f"{en} (HTTP {answer.status}: {_answer_text(answer)})")
    return False


@jobs.handler("ledger.witness", every=WITNESS_EVERY)
def _witness_job(session: Session, payload: dict) -> None:
    cosign_latest(session)


# --- overview ---

@dataclass(frozen=True)
class WitnessOverview:
    """Give the administrators' view: witnesses, the newest checkpoint, who cosigned it and the quorum."""

    witnesses: list[RegisteredWitness]
    checkpoint: PublishedCheckpoint | None
    cosigners: list[str]
    active: int
    needed: int | None


def witness_overview(session: Session) -> WitnessOverview:
    """Return the witnesses and the state of the newest checkpoint."""
    rows = list_witnesses(session)
    active = [w for w in rows if w.active]
    checkpoint = service.latest_checkpoint(session)
    names = cosigners(checkpoint, active) if checkpoint is not None else []
    return WitnessOverview(rows, checkpoint, names, len(active),
                           witness.quorum_needed(len(active), get_settings().ledger_quorum))
