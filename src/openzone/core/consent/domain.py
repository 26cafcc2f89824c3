"""Pure consent rules: who may receive what, for which purpose and how often, and why a use is refused."""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

ANY = "*"  # a scope line naming every resource of its kind


class HolderKind(enum.StrEnum):
    """List who can own data and grant access to it."""

    PERSON = "person"
    ORGANISATION = "organisation"


class UseMode(enum.StrEnum):
    """List how often a grant may be used (Account Aggregator fetch type, extended with a count)."""

    SINGLE = "single"
    COUNT = "count"
    PERIODIC = "periodic"


class Status(enum.StrEnum):
    """List the stored states of a grant; expiry is also derived from its end."""

    PENDING = "pending"
    ACTIVE = "active"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    DECLINED = "declined"


class Frequency(enum.StrEnum):
    """List the periods a periodic grant's frequency counts uses in."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


FREQUENCY_SPAN: dict[Frequency, dt.timedelta] = {
    Frequency.HOUR: dt.timedelta(hours=1),
    Frequency.DAY: dt.timedelta(days=1),
    Frequency.WEEK: dt.timedelta(days=7),
    Frequency.MONTH: dt.timedelta(days=30),
}


class PresentationKind(enum.StrEnum):
    """List the forms a holder presents a grant in."""

    QR = "qr"
    CODE = "code"
    SMS = "sms"


class Outcome(enum.StrEnum):
    """Say whether an access was allowed."""

    ALLOWED = "allowed"
    REFUSED = "refused"


class Action(enum.StrEnum):
    """List what an access record records: a use at the gate or a presentation being redeemed."""

    USE = "use"
    REDEEM = "redeem"


class Reason(enum.StrEnum):
    """List the stable reasons the gate refuses; each is the end of a problem type URI."""

    MISSING = "grant-missing"
    NOT_YET_VALID = "grant-not-yet-valid"
    EXPIRED = "grant-expired"
    REVOKED = "grant-revoked"
    USED = "grant-used"
    REQUESTER = "grant-requester"
    SCOPE = "grant-scope"
    FREQUENCY = "grant-frequency"
    PRESENTATION_INVALID = "presentation-invalid"
    PRESENTATION_EXPIRED = "presentation-expired"
    PRESENTATION_USED = "presentation-used"
    PRESENTATION_LOCKED = "presentation-locked"


# How far a grant got through the checks: when several grants could apply, the refusal of the one that got
# furthest is the most useful to the requester and to the holder reading the history.
REASON_RANK: dict[Reason, int] = {
    Reason.MISSING: 0,
    Reason.REVOKED: 1,
    Reason.NOT_YET_VALID: 2,
    Reason.EXPIRED: 2,
    Reason.USED: 3,
    Reason.REQUESTER: 4,
    Reason.SCOPE: 5,
    Reason.FREQUENCY: 6,
}

REASON_LABELS: dict[Reason, tuple[str, str]] = {
    Reason.MISSING: ("没有有效授权", "No grant"),
    Reason.NOT_YET_VALID: ("授权尚未生效", "The grant has not started"),
    Reason.EXPIRED: ("授权已过期", "The grant has expired"),
    Reason.REVOKED: ("授权已撤销", "The grant was revoked"),
    Reason.USED: ("授权已用完", "The grant is used up"),
    Reason.REQUESTER: ("请求方、窗口或经办人不符", "Another requester, window or clerk"),
    Reason.SCOPE: ("超出授权范围或用途", "Outside the grant's scope or purpose"),
    Reason.FREQUENCY: ("超过授权的使用频率", "More often than the grant allows"),
    Reason.PRESENTATION_INVALID: ("二维码或验证码无效", "Unknown QR code or code"),
    Reason.PRESENTATION_EXPIRED: ("二维码或验证码已过期", "The QR code or code has expired"),
    Reason.PRESENTATION_USED: ("二维码或验证码已使用", "The QR code or code was already used"),
    Reason.PRESENTATION_LOCKED: ("错误次数过多，验证码已锁定", "Too many wrong tries; the code is locked"),
}

STATUS_LABELS: dict[Status, tuple[str, str]] = {
    Status.PENDING: ("待确认", "Awaiting approval"),
    Status.ACTIVE: ("有效", "Active"),
    Status.USED: ("已用完", "Used"),
    Status.EXPIRED: ("已过期", "Expired"),
    Status.REVOKED: ("已撤销", "Revoked"),
    Status.DECLINED: ("已拒绝", "Declined"),
}

USE_MODE_LABELS: dict[UseMode, tuple[str, str]] = {
    UseMode.SINGLE: ("一次性", "Once"),
    UseMode.COUNT: ("限定次数", "A number of times"),
    UseMode.PERIODIC: ("周期性", "Periodic"),
}

FREQUENCY_LABELS: dict[Frequency, tuple[str, str]] = {
    Frequency.HOUR: ("每小时", "per hour"),
    Frequency.DAY: ("每天", "per day"),
    Frequency.WEEK: ("每周", "per week"),
    Frequency.MONTH: ("每月", "per month"),
}

# The purpose catalogue (Myinfo purpose_id, Account Aggregator purpose code); services add their own.
PURPOSES: dict[str, tuple[str, str]] = {
    "service-window": ("在政务服务窗口办理业务", "Handling a matter at a service window"),
    "account-opening": ("开立银行账户", "Opening a bank account"),
    "credit-assessment": ("授信审查", "Credit assessment"),
    "trade-finance": ("贸易融资", "Trade finance"),
    "insurance-claim": ("保险理赔", "Insurance claim"),
    "litigation": ("诉讼或调解", "Litigation or mediation"),
    "supervision": ("行政监管", "Supervision"),
}

ACTIVE_STATUSES = frozenset({Status.PENDING, Status.ACTIVE})
ENDED_STATUSES = frozenset({Status.USED, Status.EXPIRED, Status.REVOKED, Status.DECLINED})

CODE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")  # resource kinds and purpose codes
PLACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # hall and window codes
FIELD_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_SCOPE_LINES = 32
MAX_FIELDS = 64
MAX_RESOURCE_ID = 128
MAX_TEXT = 500
MAX_DAYS = 366 * 3
MAX_USES = 1000
MAX_DATA_LIFE_DAYS = 730  # relying parties keep copies at most 24 months (italia/eid-wallet-it-docs PR#606)
MIN_CODE_DIGITS = 8


@dataclass(frozen=True)
class Holder:
    """Name the owner of the data: a person or an organisation."""

    kind: HolderKind
    id: uuid.UUID

    @classmethod
    def person(cls, person_id: uuid.UUID) -> Holder:
        """Return the holder that is a person."""
        return cls(HolderKind.PERSON, person_id)

    @classmethod
    def organisation(cls, org_id: uuid.UUID) -> Holder:
        """Return the holder that is an organisation."""
        return cls(HolderKind.ORGANISATION, org_id)


@dataclass(frozen=True)
class Requester:
    """Name who asks: an organisation, optionally at a hall and window, by a named clerk or an API client."""

    org_id: uuid.UUID
    hall: str | None = None
    window: str | None = None
    clerk_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ScopeLine:
    """Allow fields of one resource (or of every resource, id "*") of one kind."""

    kind: str
    resource_id: str
    fields: tuple[str, ...]

    def as_json(self) -> dict:
        """Return the line as stored and served."""
        return {"kind": self.kind, "id": self.resource_id, "fields": list(self.fields)}


@dataclass(frozen=True)
class Binding:
    """Hold the requester narrowing stored on a grant; None means any."""

    org_id: uuid.UUID
    hall: str | None = None
    window: str | None = None
    clerk_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None


@dataclass(frozen=True)
class GrantFacts:
    """Hold what the gate needs to know about one grant, free of storage."""

    status: Status
    binding: Binding
    scope: tuple[ScopeLine, ...]
    purpose: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    use_mode: UseMode
    max_uses: int
    uses: int
    frequency: Frequency | None = None
    frequency_uses: int | None = None
    uses_in_period: int = 0


@dataclass(frozen=True)
class Request:
    """Describe one retrieval the gate is asked to allow."""

    requester: Requester
    resource_kind: str
    resource_id: str
    fields: tuple[str, ...]
    purpose: str


@dataclass(frozen=True)
class Invalid:
    """Say which input is wrong, in both languages."""

    field: str
    code: str
    zh: str
    en: str


@dataclass
class Problems:
    """Collect input errors to raise at once."""

    items: list[Invalid] = field(default_factory=list)

    def add(self, field_name: str, code: str, zh: str, en: str) -> None:
        """Add one error."""
        self.items.append(Invalid(field_name, code, zh, en))


def effective_status(status: Status, valid_until: dt.datetime, now: dt.datetime) -> Status:
    """Return the status as the holder sees it: an active or pending grant past its end is expired."""
    if status in ACTIVE_STATUSES and now >= valid_until:
        return Status.EXPIRED
    return status


def binding_matches(binding: Binding, requester: Requester) -> bool:
    """Say whether a requester fits every narrowing the grant names."""
    if binding.org_id != requester.org_id:
        return False
    pairs = ((binding.hall, requester.hall), (binding.window, requester.window),
             (binding.clerk_id, requester.clerk_id), (binding.client_id, requester.client_id))
    return all(want is None or want == have for want, have in pairs)


def scope_covers(scope: Sequence[ScopeLine], kind: str, resource_id: str, fields: Iterable[str]) -> bool:
    """Say whether one scope line allows every asked field of the resource."""
    asked = set(fields)
    return any(line.kind == kind and line.resource_id in (ANY, resource_id) and asked <= set(line.fields)
               for line in scope)


def check_standing(grant: GrantFacts, requester: Requester, now: dt.datetime) -> Reason | None:
    """Return why the grant cannot serve this requester now, whatever is asked, or None when it can.

    The order is the order a holder would explain it: consent given at all, still standing, in time, uses
    left, then the right requester.
    """
    if grant.status in (Status.PENDING, Status.DECLINED):
        return Reason.MISSING
    if grant.status is Status.REVOKED:
        return Reason.REVOKED
    if grant.status is Status.EXPIRED or now >= grant.valid_until:
        return Reason.EXPIRED
    if now < grant.valid_from:
        return Reason.NOT_YET_VALID
    if grant.status is Status.USED or (grant.use_mode is not UseMode.PERIODIC and grant.uses >= grant.max_uses):
        return Reason.USED
    if not binding_matches(grant.binding, requester):
        return Reason.REQUESTER
    return None


def check(grant: GrantFacts, request: Request, now: dt.datetime) -> Reason | None:
    """Return why the grant does not allow the request, or None when it does (standing, item and purpose, rate)."""
    reason = check_standing(grant, request.requester, now)
    if reason is not None:
        return reason
    if request.purpose != grant.purpose or not scope_covers(grant.scope, request.resource_kind,
                                                             request.resource_id, request.fields):
        return Reason.SCOPE
    if (grant.use_mode is UseMode.PERIODIC and grant.frequency_uses is not None
            and grant.uses_in_period >= grant.frequency_uses):
        return Reason.FREQUENCY
    return None


def worst_to_best(reasons: Iterable[Reason]) -> Reason:
    """Pick the refusal of the grant that got furthest through the checks."""
    return max(reasons, key=lambda r: REASON_RANK.get(r, 0), default=Reason.MISSING)


def used_up_after_use(use_mode: UseMode, uses: int, max_uses: int) -> bool:
    """Say whether a grant is spent once it has been used `uses` times."""
    return use_mode is not UseMode.PERIODIC and uses >= max_uses


def parse_scope(raw: object, problems: Problems) -> tuple[ScopeLine, ...]:
    """Read scope lines from JSON-like input, noting what is wrong."""
    if not isinstance(raw, list) or not raw:
        problems.add("scope", "required", "请至少选择一项授权范围", "Choose at least one item to share")
        return ()
    if len(raw) > MAX_SCOPE_LINES:
        problems.add("scope", "size", f"授权范围最多{MAX_SCOPE_LINES}项", f"At most {MAX_SCOPE_LINES} scope lines")
        return ()
    lines = []
    for item in raw:
        if isinstance(item, ScopeLine):
            item = item.as_json()
        if not isinstance(item, dict):
            problems.add("scope", "type", "授权范围格式不正确", "A scope line must be an object")
            continue
        kind, rid, fields = item.get("kind"), item.get("id", ANY), item.get("fields")
        if not isinstance(kind, str) or not CODE_RE.match(kind):
            problems.add("scope", "kind", "资料类型代码不正确", "A resource kind is a lower-case code")
            continue
        if not isinstance(rid, str) or not rid or len(rid) > MAX_RESOURCE_ID:
            problems.add("scope", "id", "资料编号不正确", f"A resource id has 1 to {MAX_RESOURCE_ID} characters")
            continue
        if (not isinstance(fields, list) or not fields or len(fields) > MAX_FIELDS
                or not all(isinstance(f, str) and FIELD_RE.match(f) for f in fields)):
            problems.add("scope", "fields", "请选择要提供的字段", "Name the fields to share (lower-case codes)")
            continue
        lines.append(ScopeLine(kind, rid, tuple(sorted(set(fields)))))
    return tuple(lines)


def check_place(value: str | None, name: str, problems: Problems) -> str | None:
    """Normalise a hall or window code (None when empty), noting a malformed one."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if not PLACE_RE.match(value):
        problems.add(name, "format", "大厅或窗口编号只能包含字母、数字、点、下划线和连字符",
                     "Hall and window codes use letters, digits, dots, underscores and hyphens")
    return value


def check_text(value: str, name: str, problems: Problems, *, required: bool = False) -> str:
    """Strip free text and check its length."""
    value = (value or "").strip()
    if required and not value:
        problems.add(name, "required", "请填写说明", "Enter the text")
    if len(value) > MAX_TEXT:
        problems.add(name, "size", f"说明不得超过{MAX_TEXT}字", f"At most {MAX_TEXT} characters")
    return value


def period_start(now: dt.datetime, frequency: Frequency) -> dt.datetime:
    """Return the start of the rolling period a periodic grant counts its uses in."""
    return now - FREQUENCY_SPAN[frequency]


def code_is_well_formed(code: str, digits: int) -> bool:
    """Say whether a typed short code has the right number of digits (a cheap refusal before any look-up)."""
    return len(code) == digits and code.isascii() and code.isdigit()
