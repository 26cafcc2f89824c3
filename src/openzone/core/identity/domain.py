"""Pure identity rules: organisation kinds, roles, and the national identifier check characters."""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from dataclasses import dataclass


class OrgKind(enum.StrEnum):
    """List the kinds of organisation that use the platform."""

    GOVERNMENT_AGENCY = "government_agency"
    SERVICE_HALL = "service_hall"
    ENTERPRISE = "enterprise"
    BANK = "bank"
    INSURER = "insurer"
    COURT = "court"
    MEDIATION = "mediation"
    UNIVERSITY = "university"
    EXCHANGE = "exchange"


ORG_KIND_LABELS: dict[OrgKind, tuple[str, str]] = {
    OrgKind.GOVERNMENT_AGENCY: ("政府部门", "Government agency"),
    OrgKind.SERVICE_HALL: ("政务服务大厅", "Service hall"),
    OrgKind.ENTERPRISE: ("企业", "Enterprise"),
    OrgKind.BANK: ("银行", "Bank"),
    OrgKind.INSURER: ("保险公司", "Insurer"),
    OrgKind.COURT: ("法院", "Court"),
    OrgKind.MEDIATION: ("调解组织", "Mediation organisation"),
    OrgKind.UNIVERSITY: ("高校或科研院所", "University or research institute"),
    OrgKind.EXCHANGE: ("交易所", "Exchange"),
}


class Role(enum.StrEnum):
    """List the roles a person can hold in an organisation."""

    ORG_ADMIN = "org_admin"
    OFFICIAL = "official"
    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    STAFF = "staff"


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.ORG_ADMIN: ("机构管理员", "Organisation administrator"),
    Role.OFFICIAL: ("审批人员", "Official"),
    Role.CLERK: ("窗口工作人员", "Service-window clerk"),
    Role.SUPERVISOR: ("监管人员", "Supervisor"),
    Role.STAFF: ("业务人员", "Staff member"),
}

# Staff who see personal data must use a second factor outside demo mode.
PERSONAL_DATA_ROLES = frozenset({Role.CLERK, Role.SUPERVISOR})


def requires_second_factor(*, is_platform_admin: bool, roles: set[str], demo_mode: bool) -> bool:
    """Say whether a person must sign in with a TOTP code."""
    if demo_mode:
        return False
    return is_platform_admin or bool(PERSONAL_DATA_ROLES & set(roles))


# GB 32100-2015: 18 characters from this 31-character set (no I, O, S, V, Z).
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_RE = re.compile(f"^[{USCC_CHARS}]{{18}}$")


def uscc_check_char(first17: str) -> str:
    """Compute the GB 32100-2015 check character for the first 17 characters of a code."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def normalise_uscc(code: str) -> str:
    """Strip spaces and fold case so that a typed code can be validated."""
    return code.strip().replace(" ", "").upper()


def uscc_error(code: str) -> str | None:
    """Return why a unified social credit code is invalid, or None if it is valid."""
    if len(code) != 18:
        return "length"
    if not _USCC_RE.match(code):
        return "charset"
    if uscc_check_char(code[:17]) != code[17]:
        return "check"
    return None


# GB 11643-1999: 6-digit area, 8-digit birth date, 3-digit sequence, ISO 7064 MOD 11-2 check.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_RE = re.compile(r"^\d{17}[\dX]$")


def id_check_char(first17: str) -> str:
    """Compute the ISO 7064 MOD 11-2 check character of a resident ID number."""
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def normalise_id_number(number: str) -> str:
    """Strip spaces and upper-case the trailing x."""
    return number.strip().replace(" ", "").upper()


def id_number_error(number: str, *, today: dt.date | None = None) -> str | None:
    """Return why a resident ID number is invalid (length, charset, date, check), or None."""
    if len(number) != 18:
        return "length"
    if not _ID_RE.match(number):
        return "charset"
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "date"
    if born.year < 1900 or born > (today or dt.date.today()):
        return "date"
    if id_check_char(number[:17]) != number[17]:
        return "check"
    return None


def mask(value: str, *, head: int = 6, tail: int = 4) -> str:
    """Mask the middle of an identifier, e.g. 110105********1234."""
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def mask_phone(phone: str) -> str:
    """Mask a mobile number as 138****5678."""
    return mask(phone, head=3, tail=4)


_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def phone_error(phone: str) -> str | None:
    """Return why a mainland mobile number is invalid, or None."""
    return None if _PHONE_RE.match(phone) else "format"


MIN_PASSWORD_LENGTH = 10


def password_error(password: str) -> str | None:
    """Return why a new password is too weak, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return "short"
    if password.isdigit() or password.isalpha():
        return "simple"
    return None


TOKEN_SCOPES: dict[str, tuple[str, str]] = {
    "read": ("读取本机构数据", "Read the organisation's data"),
    "write": ("代表本机构提交数据", "Submit data on the organisation's behalf"),
    "admin": ("管理本机构人员与令牌", "Manage the organisation's people and tokens"),
}
MAX_TOKEN_DAYS = 366


@dataclass(frozen=True)
class Principal:
    """Describe who is making a request: a signed-in person or an organisation's API token."""

    person_id: uuid.UUID
    name: str
    roles: frozenset[tuple[uuid.UUID, str]] = frozenset()
    is_platform_admin: bool = False
    token_id: uuid.UUID | None = None
    token_org_id: uuid.UUID | None = None
    scopes: frozenset[str] | None = None  # None for people: a person is not limited by scope

    @property
    def is_token(self) -> bool:
        """Say whether the request came with an API token."""
        return self.token_id is not None

    def role_names(self) -> set[str]:
        """Return the roles held in any organisation."""
        return {role for _, role in self.roles}

    def orgs_with(self, *roles: str) -> set[uuid.UUID]:
        """Return the organisations in which the principal holds one of the roles."""
        return {org for org, role in self.roles if role in roles}

    def has_role(self, org_id: uuid.UUID, *roles: str) -> bool:
        """Say whether the principal holds one of the roles in the organisation."""
        return any((org_id, role) in self.roles for role in roles)
