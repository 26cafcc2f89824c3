"""Consent use cases: grant, request, approve, revoke, present, redeem, the one gate, copies and erasure."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from fastapi import Depends
from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core import identity, jobs, ledger, notify
from openzone.core.consent import domain
from openzone.core.consent.domain import (
    Action,
    Binding,
    Frequency,
    Holder,
    HolderKind,
    Outcome,
    PresentationKind,
    Reason,
    Requester,
    ScopeLine,
    Status,
    UseMode,
)
from openzone.core.consent.models import Access, Copy, Grant, Presentation
from openzone.core.consent.settings import get_consent_settings
from openzone.db import AFTER_ROLLBACK, new_session, stage, stage_update, transaction, write_staged
from openzone.db import request_session as db_request_session
from openzone.kit import crypto
from openzone.kit.errors import Forbidden, NotFound, Problem, RateLimited, ValidationFailed
from openzone.kit.ids import new_id, new_token, sha256_hex
from openzone.kit.pagination import Page, paginate
from openzone.kit.time import rfc3339, utcnow

# --- problems -----------------------------------------------------------------------------------------------------


class Refused(Problem):
    """Signal that the gate or a presentation check refused; the refusal is already recorded and kept."""

    reason: ClassVar[Reason] = Reason.MISSING


def _refusal(reason: Reason, status: int, title: str, title_en: str) -> type[Refused]:
    name = "".join(part.capitalize() for part in reason.value.split("-"))
    return type(name, (Refused,), {"type": reason.value, "reason": reason, "status": status,
                                   "title": title, "title_en": title_en})


GrantMissing = _refusal(Reason.MISSING, 403, "没有有效的授权", "No grant allows this")
GrantNotYetValid = _refusal(Reason.NOT_YET_VALID, 403, "授权尚未生效", "The grant has not started yet")
GrantExpired = _refusal(Reason.EXPIRED, 403, "授权已过期", "The grant has expired")
GrantRevoked = _refusal(Reason.REVOKED, 403, "授权已被撤销", "The grant was revoked")
GrantUsed = _refusal(Reason.USED, 403, "授权已使用完毕", "The grant is used up")
GrantRequester = _refusal(Reason.REQUESTER, 403, "授权不是给予此请求方、窗口或经办人的",
                          "The grant is for another requester, window or clerk")
GrantScope = _refusal(Reason.SCOPE, 403, "请求超出授权范围或用途", "The request is outside the grant's scope or purpose")
GrantFrequency = _refusal(Reason.FREQUENCY, 429, "超过授权允许的使用频率", "The grant is used more often than it allows")
PresentationInvalid = _refusal(Reason.PRESENTATION_INVALID, 403, "二维码或验证码无效", "The QR code or code is not valid")
PresentationExpired = _refusal(Reason.PRESENTATION_EXPIRED, 403, "二维码或验证码已过期", "The QR code or code has expired")
PresentationUsed = _refusal(Reason.PRESENTATION_USED, 409, "二维码或验证码已使用过", "The QR code or code was already used")
PresentationLocked = _refusal(Reason.PRESENTATION_LOCKED, 429, "错误次数过多，验证码已锁定",
                              "Too many wrong tries; the code is locked")

REFUSALS: dict[Reason, type[Refused]] = {cls.reason: cls for cls in (
    GrantMissing, GrantNotYetValid, GrantExpired, GrantRevoked, GrantUsed, GrantRequester, GrantScope,
    GrantFrequency, PresentationInvalid, PresentationExpired, PresentationUsed, PresentationLocked)}

REFUSAL_DETAILS: dict[Reason, tuple[str, str]] = {
    Reason.MISSING: ("数据所有人没有给予此请求方有效授权，或授权仍待确认", "The holder has given no grant, or it awaits approval"),
    Reason.NOT_YET_VALID: ("授权的有效期尚未开始", "The grant's validity has not begun"),
    Reason.EXPIRED: ("授权的有效期已结束", "The grant's validity has ended"),
    Reason.REVOKED: ("数据所有人已撤销此授权", "The holder revoked the grant"),
    Reason.USED: ("授权允许的使用次数已用完", "The grant's uses are spent"),
    Reason.REQUESTER: ("请求方、服务大厅、窗口、经办人或系统与授权不符", "The requester, hall, window, clerk or client differs"),
    Reason.SCOPE: ("请求的资料、字段或用途不在授权范围内", "The item, fields or purpose are not granted"),
    Reason.FREQUENCY: ("本周期内的使用次数已达上限", "The uses allowed in this period are spent"),
    Reason.PRESENTATION_INVALID: ("没有与之相符的二维码或验证码", "No QR code or code matches"),
    Reason.PRESENTATION_EXPIRED: ("二维码或验证码已超过有效时间", "The QR code or code is past its time"),
    Reason.PRESENTATION_USED: ("二维码或验证码只能使用一次", "A QR code or code works once"),
    Reason.PRESENTATION_LOCKED: ("错误次数过多，请数据所有人重新生成验证码", "Too many wrong tries; the holder must make a new code"),
}

# Event types of the ledger entries that are access records (the holder's history) and of grant changes.
EVENT_USED = "consent.grant.used"
EVENT_REFUSED = "consent.grant.refused"
EVENT_REDEEMED = "consent.presentation.redeemed"
EVENT_REDEEM_REFUSED = "consent.presentation.refused"
ACCESS_EVENTS = frozenset({EVENT_USED, EVENT_REFUSED, EVENT_REDEEMED, EVENT_REDEEM_REFUSED})
SMS_PER_HOUR = 3
QR_PREFIX = "ozc1:"  # marks a consent QR payload, so a scanner tells it apart from other codes
HOLDER_KIND = "holder"
STASH = "consent.refusals"
ERASED = "-"  # stands in a grant's scope for a resource id erased with its holder


# --- the registry of resource kinds and purposes ----------------------------------------------------------------

Preview = Callable[[Session, Holder, str, tuple[str, ...]], list[tuple[str, str]]]


@dataclass(frozen=True)
class ResourceKind:
    """Describe a kind of item a service shares under consent, and how to preview it."""

    code: str
    label: tuple[str, str]
    fields: Mapping[str, tuple[str, str]]
    preview: Preview


_kinds: dict[str, ResourceKind] = {}
_purposes: dict[str, tuple[str, str]] = dict(domain.PURPOSES)


def register_kind(code: str, *, label: tuple[str, str], fields: Mapping[str, tuple[str, str]],
                  preview: Preview) -> ResourceKind:
    """Register a resource kind with its fields (code → (中文, English)) and its preview function.

    The preview gets (session, holder, resource_id or "*", fields) and returns (label, value) rows showing the
    holder what would be released; registering the same code again replaces it (a service reloading).
    """
    if not domain.CODE_RE.match(code):
        raise ValueError(f"resource kind {code!r} is not a lower-case code")
    bad = [f for f in fields if not domain.FIELD_RE.match(f)]
    if not fields or bad:
        raise ValueError(f"resource kind {code!r} needs fields named by lower-case codes: {bad}")
    kind = ResourceKind(code, label, dict(fields), preview)
    _kinds[code] = kind
    return kind


def unregister_kind(code: str) -> None:
    """Forget a resource kind (tests that registered one)."""
    _kinds.pop(code, None)


def kinds() -> dict[str, ResourceKind]:
    """Return the registered resource kinds."""
    return dict(_kinds)


def register_purpose(code: str, label: tuple[str, str]) -> None:
    """Add a purpose to the catalogue shown to holders."""
    if not domain.CODE_RE.match(code):
        raise ValueError(f"purpose {code!r} is not a lower-case code")
    _purposes[code] = label


def purposes() -> dict[str, tuple[str, str]]:
    """Return the purpose catalogue."""
    return dict(_purposes)


# --- the organisation directory (identity's public look-up) ------------------------------------------------------

OrgEntry = identity.OrgEntry
organisation = identity.organisation
organisations = identity.organisations


# --- recording accesses -----------------------------------------------------------------------------------------


def holder_value(holder: Holder) -> str:
    """Return the string committed to as "holder" in ledger entries: kind and id."""
    return f"{holder.kind.value}:{holder.id}"


@dataclass
class AccessDraft:
    """Hold everything one access record says, in plain values, so a refusal can be written again after a rollback."""

    action: Action
    outcome: Outcome
    requester: Requester
    at: dt.datetime
    holder: Holder | None = None
    holder_commitment: str | None = None
    grant_id: uuid.UUID | None = None
    presentation_id: uuid.UUID | None = None
    presentation_kind: str | None = None
    resource_kind: str | None = None
    resource_id: str | None = None
    fields: tuple[str, ...] = ()
    purpose: str | None = None
    reason: Reason | None = None
    access_id: uuid.UUID = field(default_factory=new_id)


def _write_access(session: Session, draft: AccessDraft) -> Access:
    holder_c = draft.holder_commitment
    if holder_c is None and draft.holder is not None:
        holder_c = ledger.commit(session, HOLDER_KIND, holder_value(draft.holder))
    resource_c = None
    if draft.resource_kind and draft.resource_id:
        resource_c = ledger.commit(session, "resource", f"{draft.resource_kind}:{draft.resource_id}")
    commitments = {"holder": holder_c, "resource": resource_c}
    if draft.requester.clerk_id is not None:
        commitments["clerk"] = ledger.commit(session, "clerk", str(draft.requester.clerk_id))
    data: dict[str, Any] = {"access": str(draft.access_id), "action": draft.action.value,
                            "outcome": draft.outcome.value}
    optional = {"grant": draft.grant_id and str(draft.grant_id), "reason": draft.reason and draft.reason.value,
                "kind": draft.resource_kind, "fields": list(draft.fields) or None, "purpose": draft.purpose,
                "hall": draft.requester.hall, "window": draft.requester.window,
                "client": draft.requester.client_id and str(draft.requester.client_id),
                "presentation": draft.presentation_kind}
    data.update({k: v for k, v in optional.items() if v})
    if draft.action is Action.USE:
        event = EVENT_USED if draft.outcome is Outcome.ALLOWED else EVENT_REFUSED
    else:
        event = EVENT_REDEEMED if draft.outcome is Outcome.ALLOWED else EVENT_REDEEM_REFUSED
    entry = ledger.record(session, event, actor_org_id=draft.requester.org_id,
                          commitments={k: v for k, v in commitments.items() if v}, data=data)
    row = Access(id=draft.access_id, grant_id=draft.grant_id, presentation_id=draft.presentation_id,
                 holder_kind=draft.holder.kind.value if draft.holder else None,
                 holder_id=draft.holder.id if draft.holder else None,
                 requester_org_id=draft.requester.org_id, hall=draft.requester.hall, window=draft.requester.window,
                 clerk_id=draft.requester.clerk_id, client_id=draft.requester.client_id, action=draft.action.value,
                 resource_kind=draft.resource_kind, resource_id=draft.resource_id, fields=list(draft.fields),
                 purpose_code=draft.purpose, outcome=draft.outcome.value,
                 reason=draft.reason.value if draft.reason else None, at=draft.at, leaf_hash=entry.leaf_hash,
                 holder_commitment=holder_c, resource_commitment=resource_c)
    # Written with the caller's next query or its commit, in one statement with the other rows staged (db.stage): a
    # flush of its own per access cost more than the insert. Every value a caller reads, the id included, is set here;
    # callers only read them, so the written record stays outside the session (a query of it loads it afresh).
    return stage(session, row, join=False)


@dataclass(frozen=True)
class TryCount:
    """Say that one wrong try counts against a short code."""

    presentation_id: uuid.UUID


def _count_try(session: Session, attempt: TryCount) -> bool:
    """Count a wrong try atomically and lock the code at the limit; return whether it is now locked."""
    limit = get_consent_settings().code_max_tries
    # One conditional statement counts and locks: a try replayed after another request's counted none past the limit.
    session.execute(update(Presentation).where(Presentation.id == attempt.presentation_id,
                                               Presentation.locked_at.is_(None), Presentation.attempts < limit)
                    .values(attempts=Presentation.attempts + 1,
                            locked_at=case((Presentation.attempts + 1 >= limit, utcnow()), else_=None)))
    row = session.get(Presentation, attempt.presentation_id, populate_existing=True)
    return row is not None and row.locked_at is not None


def _refuse(session: Session, drafts: list[AccessDraft], reason: Reason, *, tries: Iterable[TryCount] = ()) -> Refused:
    """Record refusals (and wrong tries) in the session, stash them to survive a rollback, and return the problem."""
    tries = list(tries)
    for draft in drafts:
        draft.reason = draft.reason or reason
    for attempt in tries:
        _count_try(session, attempt)
    accesses = [_write_access(session, d) for d in drafts]
    zh, en = REFUSAL_DETAILS[reason]
    refused = REFUSALS[reason](zh, en, access_ids=[str(a.id) for a in accesses],
                               receipts=[a.leaf_hash.hex() for a in accesses])
    stash = session.info.get(STASH)
    if stash is not None:
        stash.append((drafts, tries, refused))
    return refused


def _replay(session: Session, stashed: list[tuple[list[AccessDraft], list[TryCount], Refused]]) -> None:
    for drafts, tries, refused in stashed:
        for attempt in tries:
            _count_try(session, attempt)
        # The entries are new (a new time, new salts): the problem must name the receipts that now exist.
        refused.extensions["receipts"] = [_write_access(session, draft).leaf_hash.hex() for draft in drafts]


@contextmanager
def keeping_refusals(url: str | None = None) -> Iterator[Session]:
    """Open a transaction whose recorded refusals are kept even when it rolls back.

    Every other write of a failed transaction is undone, as usual; then the refusals the gate recorded in it
    (access records, ledger entries, wrong tries) are written again in a second transaction that commits, so no
    refused access goes unrecorded whatever the caller does with the error.
    """
    with new_session(url) as session:
        session.info[STASH] = []
        try:
            with session.begin():
                yield session
        except BaseException:
            stashed = session.info.get(STASH) or []
            if stashed:
                with session.begin():
                    _replay(session, stashed)
            raise
        finally:
            session.info.pop(STASH, None)


async def request_session(session: Session = Depends(db_request_session, scope="function")) -> Session:
    """Return the request's session (the one access checks use), keeping the gate's refusals if the request fails.

    On an error the request's transaction is rolled back whole, as for any failed request; then the refusals it
    recorded are written again in a transaction of their own, which commits before the error response is sent. (A savepoint
    around the route did the same with two more round trips per request, and kept ledger entries from being batched.)
    Not a generator: the request session runs the replay after its rollback (db.AFTER_ROLLBACK), so no second exit
    is entered and left on every request; async, with no I/O, so it takes no worker thread.
    """
    session.info[STASH] = []
    session.info.setdefault(AFTER_ROLLBACK, []).append(_keep_refusals)
    return session


def _keep_refusals(session: Session) -> None:
    stashed = session.info.pop(STASH, None) or []
    if stashed:
        with transaction() as replay:  # after the request's rollback: on SQLite it held the write lock
            _replay(replay, stashed)


# --- grants -----------------------------------------------------------------------------------------------------


def _facts(session: Session, grant: Grant, now: dt.datetime) -> domain.GrantFacts:
    frequency = Frequency(grant.frequency) if grant.frequency else None
    in_period = 0
    if grant.use_mode == UseMode.PERIODIC and frequency is not None:
        in_period = session.scalar(select(func.count()).select_from(Access).where(
            Access.grant_id == grant.id, Access.action == Action.USE.value, Access.outcome == Outcome.ALLOWED.value,
            Access.at > domain.period_start(now, frequency))) or 0
    return domain.GrantFacts(
        status=Status(grant.status), binding=binding_of(grant), scope=scope_of(grant), purpose=grant.purpose_code,
        valid_from=grant.valid_from, valid_until=grant.valid_until, use_mode=UseMode(grant.use_mode),
        max_uses=grant.max_uses, uses=grant.uses, frequency=frequency, frequency_uses=grant.frequency_uses,
        uses_in_period=in_period)


def binding_of(grant: Grant) -> Binding:
    """Return the requester narrowing of a grant."""
    return Binding(grant.requester_org_id, grant.requester_hall, grant.requester_window, grant.requester_clerk_id,
                   grant.requester_client_id)


def scope_of(grant: Grant) -> tuple[ScopeLine, ...]:
    """Return a grant's scope lines."""
    return tuple(ScopeLine(line["kind"], line["id"], tuple(line["fields"])) for line in grant.scope)


def holder_of(grant: Grant) -> Holder | None:
    """Return a grant's holder, or None once erased."""
    return Holder(HolderKind(grant.holder_kind), grant.holder_id) if grant.holder_id else None


def status_of(grant: Grant, now: dt.datetime | None = None) -> Status:
    """Return the status the holder sees (expired once past its end)."""
    return domain.effective_status(Status(grant.status), grant.valid_until, now or utcnow())


def raise_problems(problems: domain.Problems) -> None:
    if problems.items:
        first = problems.items[0]
        raise ValidationFailed(first.zh, first.en, errors=[
            {"field": p.field, "code": p.code, "message": p.zh, "message_en": p.en} for p in problems.items])


@dataclass(frozen=True)
class Terms:
    """Hold what a holder is asked to agree to: scope, purpose, validity and use."""

    scope: tuple[ScopeLine, ...]
    purpose: str
    purpose_text: str
    reason: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    use_mode: UseMode
    max_uses: int
    frequency: Frequency | None
    frequency_uses: int | None
    data_life_days: int


def check_terms(*, scope: object, purpose: str, purpose_text: str = "", reason: str = "",
                valid_from: dt.datetime | None = None, valid_until: dt.datetime | None = None, days: int | None = None,
                use_mode: str = "single", max_uses: int | None = None, frequency: str | None = None,
                frequency_uses: int | None = None, data_life_days: int = 0, now: dt.datetime | None = None) -> Terms:
    """Validate grant terms against the registry and the limits, raising ValidationFailed with every error."""
    problems = domain.Problems()
    now = now or utcnow()
    lines = domain.parse_scope(scope, problems)
    for line in lines:
        kind = _kinds.get(line.kind)
        if kind is None:
            problems.add("scope", "kind", f"未登记的资料类型：{line.kind}", f"Unregistered resource kind: {line.kind}")
        elif unknown := [f for f in line.fields if f not in kind.fields]:
            problems.add("scope", "fields", f"资料类型 {line.kind} 没有字段：{', '.join(unknown)}",
                         f"Kind {line.kind} has no fields: {', '.join(unknown)}")
    if purpose not in _purposes:
        problems.add("purpose", "choice", "请从目录中选择用途", "Choose a purpose from the catalogue")
    purpose_text = domain.check_text(purpose_text, "purpose_text", problems)
    reason = domain.check_text(reason, "reason", problems)
    start = valid_from or now
    span = dt.timedelta(days=domain.MAX_DAYS)
    if days is not None and not (isinstance(days, int) and 1 <= days <= domain.MAX_DAYS):
        # Checked before any date arithmetic: a day count past datetime's range raised OverflowError.
        problems.add("valid_until", "range", f"有效天数须在1到{domain.MAX_DAYS}之间",
                     f"The number of days must be between 1 and {domain.MAX_DAYS}")
        days = 1
    if start.tzinfo is None or (valid_until is not None and valid_until.tzinfo is None):
        problems.add("valid_until", "timezone", "时间须带时区", "Times must carry a time zone")
    elif not now - span <= start <= now + span:
        # Also keeps start + MAX_DAYS inside datetime's range (year 9999 raised OverflowError).
        problems.add("valid_from", "range", f"开始时间须在前后{domain.MAX_DAYS}天之内",
                     f"The start must be within {domain.MAX_DAYS} days of now")
    else:
        if valid_until is None:
            valid_until = start + dt.timedelta(days=days if days is not None else 1)
        try:
            in_range = start < valid_until <= start + span
        except OverflowError:  # an end of year 1 or 9999 with a far offset
            in_range = False
        if not in_range:
            problems.add("valid_until", "range", f"有效期须在开始之后且不超过{domain.MAX_DAYS}天",
                         f"The end must follow the start by at most {domain.MAX_DAYS} days")
    try:
        mode = UseMode(use_mode)
    except ValueError:
        problems.add("use_mode", "choice", "使用方式无效", "Unknown use mode")
        mode = UseMode.SINGLE
    freq = None
    uses = 1
    if mode is UseMode.COUNT:
        uses = max_uses if isinstance(max_uses, int) else 0
        if not 1 <= uses <= domain.MAX_USES:
            problems.add("max_uses", "range", f"使用次数须在1到{domain.MAX_USES}之间",
                         f"Uses must be between 1 and {domain.MAX_USES}")
    elif mode is UseMode.PERIODIC:
        uses = 0
        try:
            freq = Frequency(frequency or "")
        except ValueError:
            problems.add("frequency", "choice", "请选择周期", "Choose a period")
        if not isinstance(frequency_uses, int) or not 1 <= frequency_uses <= domain.MAX_USES:
            problems.add("frequency_uses", "range", f"每周期次数须在1到{domain.MAX_USES}之间",
                         f"Uses per period must be between 1 and {domain.MAX_USES}")
    if not isinstance(data_life_days, int) or not 0 <= data_life_days <= domain.MAX_DATA_LIFE_DAYS:
        problems.add("data_life_days", "range", f"副本保存期须在0到{domain.MAX_DATA_LIFE_DAYS}天之间",
                     f"The data life must be between 0 and {domain.MAX_DATA_LIFE_DAYS} days")
    raise_problems(problems)
    return Terms(lines, purpose, purpose_text, reason, start, valid_until, mode, uses, freq,
                 frequency_uses if mode is UseMode.PERIODIC else None, data_life_days)


def _check_binding(session: Session, binding: Binding) -> tuple[Binding, str]:
    problems = domain.Problems()
    hall = domain.check_place(binding.hall, "hall", problems)
    window = domain.check_place(binding.window, "window", problems)
    raise_problems(problems)
    org = organisation(session, binding.org_id)
    if org is None:
        raise NotFound("请求方机构不存在", "No such requesting organisation")
    return Binding(binding.org_id, hall, window, binding.clerk_id, binding.client_id), org.name


def _lifecycle(session: Session, grant: Grant, event: str, *, actor_org_id: uuid.UUID | None, **data: Any) -> bytes:
    body = {"grant": str(grant.id), "purpose": grant.purpose_code, "use": grant.use_mode,
            "kinds": sorted({line["kind"] for line in grant.scope}), "until": rfc3339(grant.valid_until)}
    body.update({k: v for k, v in data.items() if v is not None})
    entry = ledger.record(session, event, actor_org_id=actor_org_id, commitments={"holder": grant.holder_commitment},
                          data=body)
    return entry.leaf_hash


def _holder_actor(holder: Holder) -> uuid.UUID | None:
    return holder.id if holder.kind is HolderKind.ORGANISATION else None


def _new_grant(session: Session, *, holder: Holder, binding: Binding, terms: Terms, status: Status,
               requested_by: str, created_by: uuid.UUID | None) -> Grant:
    binding, name = _check_binding(session, binding)
    now = utcnow()
    return Grant(
        id=new_id(), holder_kind=holder.kind.value, holder_id=holder.id,
        holder_commitment=ledger.commit(session, HOLDER_KIND, holder_value(holder)),
        requester_org_id=binding.org_id, requester_name=name, requester_hall=binding.hall,
        requester_window=binding.window, requester_clerk_id=binding.clerk_id, requester_client_id=binding.client_id,
        scope=[line.as_json() for line in terms.scope], purpose_code=terms.purpose, purpose_text=terms.purpose_text,
        reason=terms.reason, valid_from=terms.valid_from, valid_until=terms.valid_until, use_mode=terms.use_mode.value,
        max_uses=terms.max_uses, uses=0, frequency=terms.frequency.value if terms.frequency else None,
        frequency_uses=terms.frequency_uses, data_life_days=terms.data_life_days, status=status.value,
        requested_by=requested_by, created_by=created_by, created_at=now,
        approved_at=now if status is Status.ACTIVE else None, created_leaf=b"")


def give_grant(session: Session, *, holder: Holder, requester: Binding, terms: Terms,
               by_person: uuid.UUID | None = None) -> Grant:
    """Create an active grant the holder gives after seeing the preview."""
    grant = _new_grant(session, holder=holder, binding=requester, terms=terms, status=Status.ACTIVE,
                       requested_by="holder", created_by=by_person)
    session.add(grant)
    grant.created_leaf = _lifecycle(session, grant, "consent.grant.given", actor_org_id=_holder_actor(holder),
                                    hall=grant.requester_hall, window=grant.requester_window,
                                    requester=str(grant.requester_org_id))
    session.flush()
    return grant


def request_grant(session: Session, *, requester: Requester, holder: Holder, terms: Terms,
                  narrow_to_client: bool = False, by_person: uuid.UUID | None = None) -> Grant:
    """Create a pending grant a requester asks for; it does nothing until the holder approves it."""
    binding = Binding(requester.org_id, requester.hall, requester.window, None,
                      requester.client_id if narrow_to_client else None)
    grant = _new_grant(session, holder=holder, binding=binding, terms=terms, status=Status.PENDING,
                       requested_by="requester", created_by=by_person)
    session.add(grant)
    grant.created_leaf = _lifecycle(session, grant, "consent.grant.requested", actor_org_id=requester.org_id,
                                    hall=requester.hall, window=requester.window)
    session.flush()
    notify_holder(session, grant, "您有一项新的数据授权请求", f"{grant.requester_name}请求使用您的数据，请在“我的授权”中查看并确认。",
                  "A new request to use your data", f"{grant.requester_name} asks to use your data; see My grants.")
    return grant


def notify_holder(session: Session, grant: Grant, subject: str, body: str, subject_en: str, body_en: str) -> None:
    """Put a notice in a person holder's inbox (organisation holders see their grants page)."""
    if grant.holder_kind == HolderKind.PERSON and grant.holder_id is not None:
        notify.send(session, person_id=grant.holder_id, subject=subject, body=body, subject_en=subject_en,
                    body_en=body_en, dedupe_key=f"consent:{grant.id}:{grant.status}")


def _holder_grant(session: Session, grant_id: uuid.UUID, holders: Iterable[Holder], *, lock: bool = False) -> Grant:
    stmt = select(Grant).where(Grant.id == grant_id)
    if lock:
        stmt = stmt.with_for_update()
    grant = session.scalar(stmt)
    if grant is None or holder_of(grant) not in set(holders):
        raise NotFound("授权不存在", "No such grant")
    return grant


def grant_for_holder(session: Session, grant_id: uuid.UUID, *, holders: Iterable[Holder]) -> Grant:
    """Return one of the holders' grants, or raise NotFound (also for another holder's grant)."""
    return _holder_grant(session, grant_id, holders)


def approve(session: Session, grant_id: uuid.UUID, *, holders: Iterable[Holder]) -> Grant:
    """Approve a pending grant after the holder has seen its preview."""
    grant = _holder_grant(session, grant_id, holders, lock=True)
    if status_of(grant) is not Status.PENDING:
        raise ValidationFailed("只能确认待确认的授权", "Only a pending grant can be approved")
    grant.status = Status.ACTIVE.value
    grant.approved_at = utcnow()
    _lifecycle(session, grant, "consent.grant.approved", actor_org_id=_holder_actor(holder_of(grant)))
    session.flush()
    return grant


def decline(session: Session, grant_id: uuid.UUID, *, holders: Iterable[Holder]) -> Grant:
    """Decline a pending grant."""
    grant = _holder_grant(session, grant_id, holders, lock=True)
    if status_of(grant) is not Status.PENDING:
        raise ValidationFailed("只能拒绝待确认的授权", "Only a pending grant can be declined")
    grant.status = Status.DECLINED.value
    grant.ended_at = utcnow()
    _kill_presentations(session, grant, grant.ended_at)
    grant.ended_leaf = _lifecycle(session, grant, "consent.grant.declined", actor_org_id=_holder_actor(holder_of(grant)))
    session.flush()
    return grant


def _kill_presentations(session: Session, grant: Grant, now: dt.datetime) -> None:
    session.execute(update(Presentation).where(Presentation.grant_id == grant.id, Presentation.redeemed_at.is_(None),
                                               Presentation.expires_at > now).values(expires_at=now))


def revoke(session: Session, grant_id: uuid.UUID, *, holders: Iterable[Holder]) -> Grant:
    """Revoke a grant at once: every later use, periodic ones included, is refused; live QR codes and codes die."""
    grant = _holder_grant(session, grant_id, holders, lock=True)
    if status_of(grant) not in (Status.PENDING, Status.ACTIVE):
        raise ValidationFailed("此授权已结束，无需撤销", "The grant has already ended")
    now = utcnow()
    grant.status = Status.REVOKED.value
    grant.ended_at = now
    _kill_presentations(session, grant, now)
    grant.ended_leaf = _lifecycle(session, grant, "consent.grant.revoked", actor_org_id=_holder_actor(holder_of(grant)))
    session.flush()
    return grant


def expire_due(session: Session, *, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Mark grants past their end as expired, each with a ledger entry; return how many."""
    now = now or utcnow()
    due = list(session.scalars(select(Grant).where(Grant.status.in_([Status.PENDING.value, Status.ACTIVE.value]),
                                                    Grant.valid_until <= now)
                               .order_by(Grant.valid_until).limit(limit).with_for_update()))
    for grant in due:
        grant.status = Status.EXPIRED.value
        grant.ended_at = now
        grant.ended_leaf = _lifecycle(session, grant, "consent.grant.expired", actor_org_id=None)
    session.flush()
    return len(due)


def grants_of(session: Session, holders: Iterable[Holder]) -> list[Grant]:
    """List the holders' grants, newest first."""
    clauses = [(Grant.holder_kind == h.kind.value) & (Grant.holder_id == h.id) for h in holders]
    if not clauses:
        return []
    return list(session.scalars(select(Grant).where(or_(*clauses)).order_by(Grant.created_at.desc())))


def requested_by_org(session: Session, org_id: uuid.UUID, *, cursor: str | None = None, limit: int = 50) -> Page:
    """Page through the grants an organisation asked for or received, oldest first (ids are time-ordered)."""
    return paginate(session, select(Grant).where(Grant.requester_org_id == org_id), Grant.id, cursor=cursor,
                    limit=limit, convert=uuid.UUID)


def history(session: Session, holder: Holder, *, limit: int = 500) -> list[Access]:
    """List the holder's access records, newest first: every use, refusal and presentation try."""
    return list(session.scalars(select(Access).where(Access.holder_kind == holder.kind.value,
                                                     Access.holder_id == holder.id)
                                .order_by(Access.at.desc(), Access.id.desc()).limit(limit)))


def history_page(session: Session, holders: Iterable[Holder], *, resource_kind: str | None = None,
                 cursor: str | None = None, limit: int = 100) -> Page:
    """Page through the holders' access records (of one resource kind, or all), newest first (UUIDv7 ids follow time).

    Without a kind the page holds every record, presentation tries and refusals that named no kind included.
    """
    clauses = [(Access.holder_kind == h.kind.value) & (Access.holder_id == h.id) for h in holders]
    if not clauses:
        return Page([], None)
    stmt = select(Access).where(or_(*clauses))
    if resource_kind is not None:
        stmt = stmt.where(Access.resource_kind == resource_kind)
    return paginate(session, stmt, Access.id, cursor=cursor, limit=limit, convert=uuid.UUID, descending=True)


# --- preview ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewItem:
    """Show one scope line as the holder will see it released."""

    kind: str
    kind_label: tuple[str, str]
    resource_id: str
    fields: list[tuple[str, str]]  # (field code, field label zh) pairs, in order
    field_labels: list[tuple[str, str]]
    rows: list[tuple[str, str]]


def preview(session: Session, *, holder: Holder, scope: Iterable[ScopeLine]) -> list[PreviewItem]:
    """Return what each scope line would release, from the services' registered preview functions."""
    items = []
    for line in scope:
        kind = _kinds.get(line.kind)
        if kind is None:
            continue
        rows = kind.preview(session, holder, line.resource_id, line.fields)
        items.append(PreviewItem(line.kind, kind.label, line.resource_id,
                                 [(f, kind.fields[f][0]) for f in line.fields if f in kind.fields],
                                 [kind.fields[f] for f in line.fields if f in kind.fields], rows))
    return items


# --- the gate ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Permit:
    """Hold the grant the gate allowed a retrieval under and the access record it wrote."""

    grant: Grant
    access: Access


def require_grant(session: Session, *, requester: Requester, holder: Holder | None, resource_kind: str,
                  resource_id: str, fields: Iterable[str], purpose: str, grant_id: uuid.UUID | None = None) -> Grant:
    """Allow one retrieval under a grant and return the grant, or raise Refused; both are recorded (see gate)."""
    return gate(session, requester=requester, holder=holder, resource_kind=resource_kind, resource_id=resource_id,
                fields=fields, purpose=purpose, grant_id=grant_id).grant


def _gate_select(by_id: bool, with_holder: bool):
    # Each grant comes with whether its holder commitment's salt is kept: the access record commits to the holder
    # with it, and record() would otherwise look the salt up with a statement of its own.
    stmt = select(Grant, ledger.salt_kept(Grant.holder_commitment)).where(
        Grant.id == bindparam("grant_id") if by_id else Grant.requester_org_id == bindparam("org_id"))
    if with_holder:
        stmt = stmt.where(Grant.holder_kind == bindparam("holder_kind"), Grant.holder_id == bindparam("holder_id"))
    # populate_existing: a grant the caller read before the lock takes the locked row's uses and status, so two
    # concurrent retrievals cannot both count from the same stale value.
    return stmt.order_by(Grant.created_at).with_for_update().execution_options(populate_existing=True)


# The gate's four reads, built once: a statement object keeps its cache key, and building one cost more than running it.
_GATE_SELECTS = {(by_id, with_holder): _gate_select(by_id, with_holder)
                 for by_id in (False, True) for with_holder in (False, True)}


def with_locked_grant(stmt: Any, grant_id: Any, *, of: Sequence[Any]) -> Any:
    """Add to a caller's locked read the grant one of its entities names (grant_id: its mapped attribute).

    The grant joins on grant_id (rows without a grant drop out), comes with whether its holder commitment's salt is
    kept, and is locked FOR UPDATE along with the caller's own tables `of` and read afresh, exactly as the gate reads
    it: the caller saves the gate's own statement. The grant and the flag are the row's last two columns.
    """
    return (stmt.add_columns(Grant, ledger.salt_kept(Grant.holder_commitment))
            .join_from(grant_id.class_, Grant, Grant.id == grant_id)
            .with_for_update(of=[*of, Grant]).execution_options(populate_existing=True))


def gate(session: Session, *, requester: Requester, holder: Holder | None, resource_kind: str,
         resource_id: str, fields: Iterable[str], purpose: str, grant_id: uuid.UUID | None = None,
         locked: tuple[Grant, bool] | None = None) -> Permit:
    """Allow one retrieval under a grant, or raise Refused; either way write an access record and a ledger entry.

    Looks among the holder's grants to this requester's organisation (or at the one grant named by grant_id,
    whoever it was given to, so that a stolen id shows up in the holder's history). A refusal is recorded in the
    session before it is raised; open the transaction with keeping_refusals() (request_session() on a route) so
    it is kept when the error rolls the rest back. `locked` is the (grant, salt kept) pair of a read built with
    with_locked_grant() in this transaction for the grant named by grant_id; the gate then does not read it again.
    """
    fields_t = tuple(sorted(set(fields)))
    if holder is None and grant_id is None:
        raise ValueError("require_grant needs a holder or a grant id")
    now = utcnow()
    resource_id = str(resource_id)
    well_formed = _well_formed(resource_kind, resource_id, fields_t, purpose)
    ask = domain.Request(requester, resource_kind, resource_id, fields_t, purpose)
    params: dict[str, Any] = {"grant_id": grant_id} if grant_id is not None else {"org_id": requester.org_id}
    if holder is not None:
        params.update(holder_kind=holder.kind.value, holder_id=holder.id)
    if locked is None:
        rows = session.execute(_GATE_SELECTS[grant_id is not None, holder is not None], params)
    elif grant_id is None or locked[0].id != grant_id:
        raise ValueError("gate(locked=...) takes the grant named by grant_id")
    elif holder is None or (locked[0].holder_kind, locked[0].holder_id) == (holder.kind.value, holder.id):
        rows = [locked]
    else:
        rows = []  # as the gate's own read: a grant of another holder is no candidate
    candidates = []
    for grant, kept in rows:
        # erased_at is the locked row's own: the EXISTS may date from before a wait on an erasure's lock (PostgreSQL).
        if kept and grant.holder_commitment and grant.erased_at is None:
            ledger.note_kept(session, grant.holder_commitment)
        candidates.append(grant)
    naming = [g for g in candidates if any(line["kind"] == resource_kind for line in g.scope)]
    outcomes: list[tuple[Grant, Reason]] = []
    for grant in naming or candidates:
        reason = domain.check(_facts(session, grant, now), ask, now) if well_formed else Reason.SCOPE
        if reason is None:
            return _allow(session, grant, ask, now)
        outcomes.append((grant, reason))
    draft = AccessDraft(action=Action.USE, outcome=Outcome.REFUSED, requester=requester, at=now, holder=holder,
                        resource_kind=resource_kind, resource_id=resource_id, fields=fields_t, purpose=purpose)
    if not well_formed:
        # Only what a grant could name goes into the record: a field name of 9,000 characters made the ledger
        # refuse the entry, and the refusal went unrecorded.
        draft.resource_kind = resource_kind if _is_code(resource_kind) else None
        draft.resource_id = resource_id if 1 <= len(resource_id) <= domain.MAX_RESOURCE_ID else None
        draft.fields = tuple(f for f in fields_t if _is_field(f))[:domain.MAX_FIELDS]
        draft.purpose = purpose if _is_code(purpose) else None
    if outcomes:
        grant, reason = max(outcomes, key=lambda o: domain.REASON_RANK.get(o[1], 0))
        draft.grant_id = grant.id
        draft.holder = holder_of(grant)
        draft.holder_commitment = grant.holder_commitment
    else:
        reason = Reason.MISSING if well_formed else Reason.SCOPE
    raise _refuse(session, [draft], reason)


def _is_code(value: object) -> bool:
    return isinstance(value, str) and domain.CODE_RE.fullmatch(value) is not None


def _is_field(value: object) -> bool:
    return isinstance(value, str) and domain.FIELD_RE.fullmatch(value) is not None


def _well_formed(resource_kind: str, resource_id: str, fields: tuple[str, ...], purpose: str) -> bool:
    """Say whether a request names a kind, fields and a purpose a grant could hold (the registry's own patterns)."""
    return (_is_code(resource_kind) and _is_code(purpose) and 1 <= len(resource_id) <= domain.MAX_RESOURCE_ID
            and 1 <= len(fields) <= domain.MAX_FIELDS and all(_is_field(f) for f in fields))


def _allow(session: Session, grant: Grant, ask: domain.Request, now: dt.datetime) -> Permit:
    uses = grant.uses + 1
    if domain.used_up_after_use(UseMode(grant.use_mode), uses, grant.max_uses):
        status, ended_at = Status.USED.value, now
    else:
        status, ended_at = grant.status, grant.ended_at
    # The count goes in with the access record's statement (db.stage_update), before any later query of the
    # transaction: the unit of work's flush of the changed grant cost more than the rest of the gate, and a statement
    # of its own a round trip (docs/performance.md). The grant's row is locked, so the count read is current.
    stage_update(session, grant, uses=uses, status=status, ended_at=ended_at)
    access = _write_access(session, AccessDraft(
        action=Action.USE, outcome=Outcome.ALLOWED, requester=ask.requester, at=now, holder=holder_of(grant),
        holder_commitment=grant.holder_commitment, grant_id=grant.id, resource_kind=ask.resource_kind,
        resource_id=ask.resource_id, fields=ask.fields, purpose=ask.purpose))
    return Permit(grant, access)


# --- presentations ----------------------------------------------------------------------------------------------


def _code_hash(code: str) -> str:
    key = get_settings().secret("consent-code")
    return hmac.new(key, f"consent-code\x00{code}".encode(), hashlib.sha256).hexdigest()


def _presentable(session: Session, grant: Grant) -> None:
    reason = domain.check_standing(_facts(session, grant, utcnow()),
                                   Requester(grant.requester_org_id, grant.requester_hall, grant.requester_window,
                                             grant.requester_clerk_id, grant.requester_client_id), utcnow())
    if reason is not None:
        zh, en = domain.REASON_LABELS[reason]
        raise ValidationFailed(f"此授权不能出示：{zh}", f"This grant cannot be presented: {en}")


@dataclass(frozen=True)
class Shown:
    """Hold a new presentation and its secret, which is shown once and never stored."""

    presentation: Presentation
    secret: str

    @property
    def qr_payload(self) -> str:
        """Return the text a QR code carries."""
        return QR_PREFIX + self.secret


def present_qr(session: Session, grant_id: uuid.UUID, *, holders: Iterable[Holder]) -> Shown:
    """Make a QR token (256 random bits, stored hashed) for an active grant; it replaces the grant's earlier ones."""
    grant = _holder_grant(session, grant_id, holders, lock=True)
    _presentable(session, grant)
    now = utcnow()
    session.execute(update(Presentation).where(Presentation.grant_id == grant.id,
                                               Presentation.kind == PresentationKind.QR.value,
                                               Presentation.redeemed_at.is_(None), Presentation.expires_at > now)
                    .values(expires_at=now))
    token = new_token(32)
    until = min(now + dt.timedelta(minutes=get_consent_settings().qr_minutes), grant.valid_until)
    row = Presentation(grant_id=grant.id, kind=PresentationKind.QR.value, secret_hash=sha256_hex(token),
                       requester_org_id=grant.requester_org_id, hall=grant.requester_hall,
                       window=grant.requester_window, expires_at=until, attempts=0)
    session.add(row)
    session.flush()
    return Shown(row, token)


def _new_code() -> str:
    digits = get_consent_settings().code_digits
    return f"{secrets.randbelow(10 ** digits):0{digits}d}"


def present_code(session: Session, grant_id: uuid.UUID, *, holders: Iterable[Holder], window: str,
                 hall: str | None = None) -> Shown:
    """Make a short code for reading over the counter of one window; it replaces the grant's earlier codes."""
    grant = _holder_grant(session, grant_id, holders, lock=True)
    _presentable(session, grant)
    problems = domain.Problems()
    window = domain.check_place(window, "window", problems)
    hall = domain.check_place(hall, "hall", problems) or grant.requester_hall
    if window is None:
        problems.add("window", "required", "请填写窗口编号", "Enter the window number")
    elif grant.requester_window and window != grant.requester_window:
        problems.add("window", "binding", "此授权只能在指定窗口使用", "The grant is bound to another window")
    raise_problems(problems)
    return _issue_code(session, grant, PresentationKind.CODE, hall=hall, window=window,
                       minutes=get_consent_settings().code_minutes)


def _issue_code(session: Session, grant: Grant, kind: PresentationKind, *, hall: str | None, window: str,
                minutes: int) -> Shown:
    now = utcnow()
    session.execute(update(Presentation).where(Presentation.grant_id == grant.id,
                                               Presentation.kind.in_([PresentationKind.CODE.value,
                                                                      PresentationKind.SMS.value]),
                                               Presentation.redeemed_at.is_(None), Presentation.expires_at > now)
                    .values(expires_at=now))
    code = _new_code()
    row = Presentation(grant_id=grant.id, kind=kind.value, secret_hash=_code_hash(code),
                       requester_org_id=grant.requester_org_id, hall=hall, window=window,
                       expires_at=min(now + dt.timedelta(minutes=minutes), grant.valid_until), attempts=0)
    session.add(row)
    session.flush()
    return Shown(row, code)


def send_sms_code(session: Session, grant_id: uuid.UUID, *, requester: Requester) -> Presentation:
    """Text the holder a one-time code for the requester's window, for a holder who cannot show a screen.

    The message names the requester and the purpose, so reading the code out is the holder's consent: redeeming it
    approves a pending grant. The code goes only to the holder's phone, never back to the requester.
    """
    grant = session.scalar(select(Grant).where(Grant.id == grant_id).with_for_update())
    if grant is None or grant.requester_org_id != requester.org_id:
        raise NotFound("授权不存在", "No such grant")
    if grant.holder_kind != HolderKind.PERSON or grant.holder_id is None:
        raise ValidationFailed("短信验证码只能发给个人", "Text codes go to people only")
    if requester.window is None:
        raise ValidationFailed("请填写窗口编号", "Enter the window number", errors=[{"field": "window", "code": "required"}])
    status = status_of(grant)
    if status is Status.PENDING:
        if not domain.binding_matches(binding_of(grant), requester):
            raise NotFound("授权不存在", "No such grant")
    else:
        _presentable(session, grant)
    recent = session.scalar(select(func.count()).select_from(Presentation).where(
        Presentation.grant_id == grant.id, Presentation.kind == PresentationKind.SMS.value,
        Presentation.created_at > utcnow() - dt.timedelta(hours=1))) or 0
    if recent >= SMS_PER_HOUR:
        # Each text costs money and disturbs the holder: a few per hour is enough for any counter.
        raise RateLimited(f"每小时最多发送{SMS_PER_HOUR}次短信验证码", f"At most {SMS_PER_HOUR} texted codes per hour")
    minutes = get_consent_settings().sms_minutes
    shown = _issue_code(session, grant, PresentationKind.SMS, hall=requester.hall, window=requester.window,
                        minutes=minutes)
    purpose_zh, purpose_en = _purposes.get(grant.purpose_code, (grant.purpose_code, grant.purpose_code))
    notify.send(session, person_id=grant.holder_id, channel=notify.Channel.SMS, sensitive=True,
                subject="数据授权验证码", subject_en="Consent code",
                body=(f"【开放区】{grant.requester_name}（窗口 {requester.window}）请求使用您的数据，用途：{purpose_zh}。"
                      f"同意请把验证码 {shown.secret} 告诉窗口工作人员，{minutes}分钟内有效。不同意请勿告诉任何人。"),
                body_en=(f"[OpenZone] {grant.requester_name} (window {requester.window}) asks to use your data for: "
                         f"{purpose_en}. To agree, read code {shown.secret} to the clerk within {minutes} minutes. "
                         "Otherwise tell it to no one."))
    return shown.presentation


def redeem(session: Session, *, requester: Requester, token: str | None = None, code: str | None = None) -> Grant:
    """Accept a QR token or a short code at a window, binding the grant to that window and clerk; log every try."""
    now = utcnow()
    if token is not None:
        return _redeem_token(session, requester, token.strip().removeprefix(QR_PREFIX), now)
    if code is None:
        raise ValidationFailed("请提供二维码内容或验证码", "Give a QR token or a code")
    return _redeem_code(session, requester, code.strip(), now)


def _try_draft(requester: Requester, now: dt.datetime, grant: Grant | None, presentation: Presentation | None,
               outcome: Outcome, reason: Reason | None = None) -> AccessDraft:
    return AccessDraft(action=Action.REDEEM, outcome=outcome, requester=requester, at=now,
                       holder=holder_of(grant) if grant else None,
                       holder_commitment=grant.holder_commitment if grant else None,
                       grant_id=grant.id if grant else None,
                       presentation_id=presentation.id if presentation else None,
                       presentation_kind=presentation.kind if presentation else None,
                       purpose=grant.purpose_code if grant else None, reason=reason)


def _redeem_token(session: Session, requester: Requester, token: str, now: dt.datetime) -> Grant:
    digest = sha256_hex(token) if token else ""
    row = session.scalar(select(Presentation).where(Presentation.secret_hash == digest,
                                                    Presentation.kind == PresentationKind.QR.value)
                         .with_for_update()) if token else None
    if row is None or not hmac.compare_digest(row.secret_hash, digest):
        raise _refuse(session, [_try_draft(requester, now, None, None, Outcome.REFUSED, Reason.PRESENTATION_INVALID)],
                      Reason.PRESENTATION_INVALID)
    return _accept(session, requester, row, now)


def _accept(session: Session, requester: Requester, row: Presentation, now: dt.datetime) -> Grant:
    grant = session.scalar(select(Grant).where(Grant.id == row.grant_id).with_for_update())
    reason = None
    if row.locked_at is not None:
        reason = Reason.PRESENTATION_LOCKED
    elif row.redeemed_at is not None:
        reason = Reason.PRESENTATION_USED
    elif row.expires_at <= now:
        reason = Reason.PRESENTATION_EXPIRED
    elif not domain.binding_matches(Binding(row.requester_org_id, row.hall, row.window), requester):
        reason = Reason.REQUESTER
    elif not (row.kind == PresentationKind.SMS and grant.status == Status.PENDING.value):
        reason = domain.check_standing(_facts(session, grant, now), requester, now)
    elif now >= grant.valid_until:
        reason = Reason.EXPIRED
    if reason is not None:
        raise _refuse(session, [_try_draft(requester, now, grant, row, Outcome.REFUSED, reason)], reason)
    row.redeemed_at = now
    if grant.status == Status.PENDING.value:
        # Reading out a texted code that named the requester and the purpose is the holder's approval.
        grant.status = Status.ACTIVE.value
        grant.approved_at = now
        _lifecycle(session, grant, "consent.grant.approved", actor_org_id=None, channel="sms")
    if grant.requester_window is None and requester.window is not None:
        grant.requester_hall = grant.requester_hall or requester.hall
        grant.requester_window = requester.window
    if grant.requester_clerk_id is None and requester.clerk_id is not None:
        grant.requester_clerk_id = requester.clerk_id
    if grant.requester_client_id is None and requester.client_id is not None and requester.clerk_id is None:
        grant.requester_client_id = requester.client_id
    _write_access(session, _try_draft(requester, now, grant, row, Outcome.ALLOWED))
    session.flush()
    return grant


def _redeem_code(session: Session, requester: Requester, code: str, now: dt.datetime) -> Grant:
    if requester.window is None:
        raise ValidationFailed("请填写窗口编号", "Enter the window number", errors=[{"field": "window", "code": "required"}])
    candidates = list(session.scalars(select(Presentation).where(
        Presentation.requester_org_id == requester.org_id, Presentation.window == requester.window,
        Presentation.kind.in_([PresentationKind.CODE.value, PresentationKind.SMS.value]),
        Presentation.redeemed_at.is_(None), Presentation.expires_at > now).with_for_update()))
    wellformed = domain.code_is_well_formed(code, get_consent_settings().code_digits)
    digest = _code_hash(code) if wellformed else ""
    # Compare with every live code of the window in constant time, so timing tells nothing about near misses.
    match = None
    for row in candidates:
        if hmac.compare_digest(row.secret_hash, digest or "-" * 64):
            match = row
    if match is not None:
        return _accept(session, requester, match, now)
    live = [row for row in candidates if row.locked_at is None]
    limit = get_consent_settings().code_max_tries
    drafts = []
    for row in live:
        grant = session.get(Grant, row.grant_id)
        reason = Reason.PRESENTATION_LOCKED if row.attempts + 1 >= limit else Reason.PRESENTATION_INVALID
        drafts.append(_try_draft(requester, now, grant, row, Outcome.REFUSED, reason))
    if not drafts:
        drafts.append(_try_draft(requester, now, None, None, Outcome.REFUSED, Reason.PRESENTATION_INVALID))
    refused = _refuse(session, drafts, Reason.PRESENTATION_INVALID, tries=[TryCount(row.id) for row in live])
    _commit_tries(session)
    raise refused


def _commit_tries(session: Session) -> None:
    """Commit a wrong try (and its refusal) while this transaction still holds the window's codes.

    Under request_session and keeping_refusals a failed request was rolled back and its try written again afterwards:
    in between, a request waiting on the rows (PostgreSQL) or on the write lock (SQLite) had its code checked against
    a count without that try, so a burst of wrong codes got more than five checked. Committing here counts the try
    before anything else can read the code. Redeeming is the first write of the routes that call it (they look the
    caller and the application up first); a session without the stash (a caller's own transaction) is left alone.
    """
    stash = session.info.get(STASH)
    if stash:
        session.commit()
        stash.clear()  # written for good: nothing to write again after the rollback


# --- copies and their data-life (PIPL art. 19: keep no longer than the purpose needs) --------------------------

_data_keys: dict[Path, tuple[int, bytes]] = {}


def _data_key() -> bytes:
    """Return the data key, read from its file once per change of the file rather than once per copy."""
    settings = get_settings()
    path = settings.var_dir / "secrets" / "data.key"
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return settings.secret("data")  # the first use writes the key
    known = _data_keys.get(path)
    if known is None or known[0] != stamp:
        # A restored backup replaces the file: its new time stamp makes every process read it again.
        known = _data_keys[path] = (stamp, settings.secret("data"))
    return known[1]


def keep_copy(session: Session, *, grant: Grant, requester: Requester, resource_kind: str,
              payload: Mapping[str, Any], access: Access | None = None) -> Copy:
    """Keep an encrypted copy of data released under a grant, deleted when the grant's data-life ends.

    The copy is tied to an allowed retrieval of the kind under the grant: `access` when the caller holds the one the
    gate just wrote (Permit.access), otherwise the latest such record.
    """
    if grant.data_life_days <= 0:
        raise Forbidden("此授权不允许保存副本", "This grant allows no copy to be kept")
    if grant.requester_org_id != requester.org_id:
        raise Forbidden("只有被授权方可以保存副本", "Only the grantee may keep a copy")
    if access is None:
        access = session.scalar(select(Access).where(Access.grant_id == grant.id, Access.action == Action.USE.value,
                                                     Access.outcome == Outcome.ALLOWED.value,
                                                     Access.resource_kind == resource_kind)
                                .order_by(Access.at.desc(), Access.id.desc()).limit(1))
    elif (access.grant_id != grant.id or access.action != Action.USE.value or access.outcome != Outcome.ALLOWED.value
          or access.resource_kind != resource_kind):
        access = None
    if access is None:
        raise Forbidden("没有经授权的取用记录，不能保存副本", "No allowed retrieval under this grant to copy")
    # The caller's grant is the one the gate locked in this transaction (or read in it), so its status is current; a
    # further locked read cost a statement on every retrieval.
    if grant.status == Status.REVOKED.value:
        raise Forbidden("此授权已被撤销，不能再保存副本", "The grant was revoked; no copy may be kept now")
    # The data-life runs from the retrieval, not from the saving: saving again must not make the copy live longer.
    delete_after = access.at + dt.timedelta(days=grant.data_life_days)
    if delete_after <= utcnow():
        raise Forbidden("此次取用的副本保存期已过", "The data life of this retrieval has ended")
    blob = crypto.encrypt(_data_key(), json.dumps(dict(payload), ensure_ascii=False),
                          context="consent_copy.payload")
    copy = Copy(id=new_id(), grant_id=grant.id, access_id=access.id, requester_org_id=requester.org_id,
                resource_kind=resource_kind, payload_enc=blob,
                delete_after=delete_after)
    stage(session, copy)  # written with the caller's next statement or commit, like the access record
    return copy


def read_copy(session: Session, copy_id: uuid.UUID, *, requester: Requester) -> dict[str, Any]:
    """Return a kept copy to its requester, or raise NotFound once its data-life has ended."""
    # A copy kept in this transaction may still be staged: written now (with whatever else is staged, as the commit
    # would), it is in the identity map and get() reads nothing back.
    write_staged(session)
    copy = session.get(Copy, copy_id)
    if (copy is None or copy.requester_org_id != requester.org_id or copy.payload_enc is None
            or copy.delete_after <= utcnow()):
        raise NotFound("副本不存在或已到期删除", "No such copy, or its data life ended")
    return json.loads(crypto.decrypt(_data_key(), copy.payload_enc, context="consent_copy.payload"))


def delete_expired_copies(session: Session, *, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Delete copies past their data-life, each with a ledger entry; return how many."""
    now = now or utcnow()
    due = list(session.scalars(select(Copy).where(Copy.deleted_at.is_(None), Copy.delete_after <= now)
                               .order_by(Copy.delete_after).limit(limit).with_for_update()))
    for copy in due:
        grant = session.get(Grant, copy.grant_id)
        copy.payload_enc = None
        copy.deleted_at = now
        entry = ledger.record(session, "consent.copy.deleted", actor_org_id=copy.requester_org_id,
                              commitments={"holder": grant.holder_commitment},
                              data={"copy": str(copy.id), "grant": str(grant.id), "kind": copy.resource_kind})
        copy.deleted_leaf = entry.leaf_hash
    session.flush()
    return len(due)


@jobs.handler("consent.data_life", every=dt.timedelta(minutes=5))
def _data_life_job(session: Session, payload: dict) -> None:
    delete_expired_copies(session)
    expire_due(session)


# --- erasure (PIPL art. 47) -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    """Say what a holder's erasure removed."""

    grants: int
    accesses: int
    copies: int
    salts: int


def erase_holder(session: Session, holder: Holder) -> Erasure:
    """Carry out a holder's erasure request: end their grants, delete personal data and the salts of their commitments.

    The ledger entries stay and still verify, but nothing links them to the holder any more: the rows keep no
    holder id, free text or copy, and the commitments can no longer be opened.
    """
    grants = grants_of(session, [holder])
    now = utcnow()
    for grant in grants:
        if status_of(grant, now) in (Status.PENDING, Status.ACTIVE):
            revoke(session, grant.id, holders=[holder])
    accesses = history(session, holder, limit=1_000_000)
    commitments = {g.holder_commitment for g in grants}
    commitments |= {c for a in accesses for c in (a.holder_commitment, a.resource_commitment) if c}
    grant_ids = [g.id for g in grants]
    copies = list(session.scalars(select(Copy).where(Copy.grant_id.in_(grant_ids)))) if grant_ids else []
    for copy in copies:
        copy.payload_enc = None
        copy.deleted_at = copy.deleted_at or now
    if grant_ids:
        session.execute(update(Presentation).where(Presentation.grant_id.in_(grant_ids))
                        .values(secret_hash="", expires_at=now))
    for grant in grants:
        grant.holder_id = None
        grant.created_by = None  # the holder themself when they gave it on their pages
        # A resource id names the holder's own item (a licence number, an ID number): keep only that there was one.
        # The ledger committed to the scope's kinds only, so its entries still verify.
        grant.scope = [line | {"id": line["id"] if line["id"] == domain.ANY else ERASED} for line in grant.scope]
        grant.purpose_text = ""
        grant.reason = ""
        grant.erased_at = now
    for access in accesses:
        access.holder_id = None
        access.resource_id = None
    salts = ledger.erase_salts(session, commitments)
    ledger.record(session, "consent.holder.erased", actor_org_id=None,
                  data={"grants": len(grants), "accesses": len(accesses), "copies": len(copies)})
    session.flush()
    return Erasure(len(grants), len(accesses), len(copies), salts)
