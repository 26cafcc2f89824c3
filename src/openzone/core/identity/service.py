"""Identity use cases: organisations, people, memberships, passwords, TOTP, tokens and sessions."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, bindparam, case, delete, literal, or_, select, update
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core.identity import domain
from openzone.core.identity.domain import OrgKind, Principal, Role
from openzone.core.identity.models import ApiToken, Membership, Organisation, Person, WebSession
from openzone.kit import crypto
from openzone.kit.errors import Conflict, NotFound, ValidationFailed, problem
from openzone.kit.ids import new_token, sha256_hex
from openzone.kit.time import utcnow

_hasher = PasswordHasher()  # argon2-cffi's defaults are Argon2id (RFC 9106 second recommendation)

InvalidCredentials = problem("invalid-credentials", 401, "账号或密码不正确", "The e-mail or password is wrong")
AccountLocked = problem("account-locked", 429, "登录失败次数过多，账号已暂时锁定", "Too many failed sign-ins; the account is locked for a while")
TotpInvalid = problem("totp-invalid", 401, "动态验证码不正确", "The one-time code is wrong")
TokenInvalid = problem("token-invalid", 401, "访问令牌无效、已过期或已撤销", "The API token is unknown, expired or revoked")

USCC_MESSAGES = {
    "length": ("统一社会信用代码应为18位", "A unified social credit code has 18 characters"),
    "charset": ("统一社会信用代码含有不允许的字符（不使用 I、O、S、V、Z）", "The code has a character GB 32100 does not use (I, O, S, V, Z)"),
    "check": ("统一社会信用代码校验位不正确", "The check character of the unified social credit code is wrong"),
}
ID_MESSAGES = {
    "length": ("公民身份号码应为18位", "A resident ID number has 18 characters"),
    "charset": ("公民身份号码只能由数字和末位 X 组成", "A resident ID number is digits with an optional final X"),
    "date": ("公民身份号码中的出生日期无效", "The birth date in the ID number is not valid"),
    "check": ("公民身份号码校验码不正确", "The check digit of the ID number is wrong"),
}


def _keys() -> tuple[bytes, bytes]:
    settings = get_settings()
    return settings.secret("data"), settings.secret("index")


def hash_password(password: str) -> str:
    """Hash a password with Argon2id."""
    return _hasher.hash(password)


def validate_uscc(code: str) -> str:
    """Return the normalised code or raise ValidationFailed saying what is wrong."""
    code = domain.normalise_uscc(code)
    error = domain.uscc_error(code)
    if error:
        zh, en = USCC_MESSAGES[error]
        raise ValidationFailed(zh, en, errors=[{"field": "uscc", "code": error}])
    return code


def validate_id_number(number: str) -> str:
    """Return the normalised resident ID number or raise ValidationFailed saying what is wrong."""
    number = domain.normalise_id_number(number)
    error = domain.id_number_error(number)
    if error:
        zh, en = ID_MESSAGES[error]
        raise ValidationFailed(zh, en, errors=[{"field": "id_number", "code": error}])
    return number


def create_organisation(
    session: Session,
    *,
    name: str,
    kind: OrgKind | str,
    name_en: str = "",
    uscc: str | None = None,
    parent_id: uuid.UUID | None = None,
    region: str = "",
) -> Organisation:
    """Create an organisation after checking its kind and credit code."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed("请填写机构名称（200字以内）", "Enter the organisation's name (at most 200 characters)",
                               errors=[{"field": "name", "code": "required"}])
    try:
        kind = OrgKind(kind)
    except ValueError as exc:
        raise ValidationFailed("机构类型无效", "Unknown organisation kind", errors=[{"field": "kind", "code": "choice"}]) from exc
    if uscc:
        uscc = validate_uscc(uscc)
        if session.scalar(select(Organisation.id).where(Organisation.uscc == uscc)):
            raise Conflict("该统一社会信用代码已登记", "An organisation with this credit code exists",
                           errors=[{"field": "uscc", "code": "taken"}])
    org = Organisation(name=name, name_en=name_en.strip(), kind=kind.value, uscc=uscc or None,
                       parent_id=parent_id, region=region)
    session.add(org)
    session.flush()
    return org


def create_person(
    session: Session,
    *,
    name: str,
    email: str,
    password: str | None = None,
    password_hash: str | None = None,
    phone: str | None = None,
    id_number: str | None = None,
    is_platform_admin: bool = False,
) -> Person:
    """Create a person; the phone and ID number are encrypted, the password hashed."""
    name, email = name.strip(), email.strip().lower()
    errors = []
    if not name:
        errors.append(("name", "required", "请填写姓名", "Enter the person's name"))
    if "@" not in email or len(email) > 254 or " " in email:
        errors.append(("email", "format", "请填写有效的电子邮箱", "Enter a valid e-mail address"))
    if password is not None and domain.password_error(password):
        errors.append(("password", "weak", f"密码至少{domain.MIN_PASSWORD_LENGTH}位，且须同时包含字母和数字或符号",
                       f"A password needs at least {domain.MIN_PASSWORD_LENGTH} characters mixing letters with digits or symbols"))
    if phone and domain.phone_error(phone.strip()):
        errors.append(("phone", "format", "请填写11位手机号码", "Enter an 11-digit mobile number"))
    if errors:
        raise ValidationFailed(errors[0][2], errors[0][3],
                               errors=[{"field": f, "code": c, "message": zh, "message_en": en} for f, c, zh, en in errors])
    if id_number:
        id_number = validate_id_number(id_number)
    if session.scalar(select(Person.id).where(Person.email == email)):
        raise Conflict("该电子邮箱已注册", "This e-mail address is already registered", errors=[{"field": "email", "code": "taken"}])
    data_key, index_key = _keys()
    person = Person(name=name, email=email, is_platform_admin=is_platform_admin,
                    password_hash=password_hash or hash_password(password or new_token(24)))
    if phone:
        person.phone_enc = crypto.encrypt(data_key, phone.strip(), context="identity_person.phone")
    if id_number:
        index = crypto.blind_index(index_key, id_number, context="id_number")
        if session.scalar(select(Person.id).where(Person.id_number_index == index)):
            raise Conflict("该公民身份号码已登记", "This ID number is already registered", errors=[{"field": "id_number", "code": "taken"}])
        person.id_number_enc = crypto.encrypt(data_key, id_number, context="identity_person.id_number")
        person.id_number_index = index
    session.add(person)
    session.flush()
    return person


def masked_identifiers(person: Person) -> dict[str, str | None]:
    """Return the person's phone and ID number masked for display."""
    data_key, _ = _keys()
    phone = crypto.decrypt(data_key, person.phone_enc, context="identity_person.phone") if person.phone_enc else None
    idn = crypto.decrypt(data_key, person.id_number_enc, context="identity_person.id_number") if person.id_number_enc else None
    return {"phone": domain.mask_phone(phone) if phone else None, "id_number": domain.mask(idn) if idn else None}


def contact_for(session: Session, person_id: uuid.UUID) -> tuple[str, str | None]:
    """Return a person's e-mail address and decrypted mobile number (None when not given), for delivering notices."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("人员不存在", "No such person")
    data_key, _ = _keys()
    phone = crypto.decrypt(data_key, person.phone_enc, context="identity_person.phone") if person.phone_enc else None
    return person.email, phone


def platform_admin_ids(session: Session) -> list[uuid.UUID]:
    """List the active platform administrators, for notices about the deployment itself."""
    return list(session.scalars(select(Person.id).where(Person.is_platform_admin.is_(True), Person.active.is_(True))
                                .order_by(Person.id)))


def find_person_by_id_number(session: Session, id_number: str) -> Person | None:
    """Find a person by resident ID number through the blind index."""
    _, index_key = _keys()
    index = crypto.blind_index(index_key, domain.normalise_id_number(id_number), context="id_number")
    return session.scalar(select(Person).where(Person.id_number_index == index))


def add_membership(session: Session, *, person_id: uuid.UUID, org_id: uuid.UUID, role: Role | str) -> Membership:
    """Give a person a role in an organisation; giving the same role twice is refused."""
    try:
        role = Role(role)
    except ValueError as exc:
        raise ValidationFailed("角色无效", "Unknown role", errors=[{"field": "role", "code": "choice"}]) from exc
    if session.get(Person, person_id) is None or session.get(Organisation, org_id) is None:
        raise NotFound("人员或机构不存在", "No such person or organisation")
    exists = session.scalar(select(Membership.id).where(
        Membership.person_id == person_id, Membership.org_id == org_id, Membership.role == role.value))
    if exists:
        raise Conflict("该人员已担任此角色", "The person already holds this role")
    membership = Membership(person_id=person_id, org_id=org_id, role=role.value)
    session.add(membership)
    session.flush()
    return membership


def memberships(session: Session, person_id: uuid.UUID) -> list[tuple[Membership, Organisation]]:
    """List a person's memberships with their organisations."""
    rows = session.execute(
        select(Membership, Organisation).join(Organisation, Organisation.id == Membership.org_id)
        .where(Membership.person_id == person_id).order_by(Organisation.name, Membership.role))
    return [(m, o) for m, o in rows]


def principal_for(session: Session, person: Person, *, token: ApiToken | None = None) -> Principal:
    """Build the principal of a person, narrowed to one organisation when acting through a token."""
    stmt = select(Membership.org_id, Membership.role).where(Membership.person_id == person.id)
    if token is not None:
        stmt = stmt.where(Membership.org_id == token.org_id)
    roles = frozenset((org, role) for org, role in session.execute(stmt))
    return Principal(
        person_id=person.id, name=person.name, roles=roles,
        is_platform_admin=person.is_platform_admin and token is None,
        token_id=token.id if token else None, token_org_id=token.org_id if token else None,
        scopes=frozenset(token.scopes) if token else None,
    )


def needs_second_factor(session: Session, person: Person) -> bool:
    """Say whether this person must give a TOTP code to sign in in this deployment."""
    roles = {role for _, role in session.execute(select(Membership.org_id, Membership.role)
                                                   .where(Membership.person_id == person.id))}
    return domain.requires_second_factor(is_platform_admin=person.is_platform_admin, roles=roles,
                                         demo_mode=get_settings().demo_mode)


@dataclass
class LoginResult:
    """Tell the caller what a password check decided."""

    person: Person | None
    problem: type | None = None


def check_password(session: Session, *, email: str, password: str) -> LoginResult:
    """Check a password, counting failures and locking the account after too many.

    Failures are flushed, not raised, so the caller's transaction keeps the count.
    """
    settings = get_settings()
    person = session.scalar(select(Person).where(Person.email == email.strip().lower()))
    now = utcnow()
    if person is None or not person.active:
        _spend_hash_time(password)  # so that response time does not tell which e-mails exist
        return LoginResult(None, InvalidCredentials)
    if person.locked_until and person.locked_until > now:
        return LoginResult(None, AccountLocked)
    try:
        _hasher.verify(person.password_hash, password)
    except (VerificationError, InvalidHashError):
        person.failed_logins += 1
        if person.failed_logins >= settings.login_max_failures:
            person.locked_until = now + dt.timedelta(minutes=settings.login_lock_minutes)
            person.failed_logins = 0
            session.flush()
            return LoginResult(None, AccountLocked)
        session.flush()
        return LoginResult(None, InvalidCredentials)
    person.failed_logins = 0
    person.locked_until = None
    if _hasher.check_needs_rehash(person.password_hash):
        person.password_hash = hash_password(password)
    session.flush()
    return LoginResult(person)


@lru_cache
def _dummy_hash() -> str:
    return hash_password(new_token(16))


def _spend_hash_time(password: str) -> None:
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_dummy_hash(), password)


def change_password(session: Session, person: Person, *, current: str, new: str) -> None:
    """Change a password after checking the current one."""
    try:
        _hasher.verify(person.password_hash, current)
    except (VerificationError, InvalidHashError) as exc:
        raise ValidationFailed("当前密码不正确", "The current password is wrong",
                               errors=[{"field": "current", "code": "wrong"}]) from exc
    if domain.password_error(new):
        raise ValidationFailed(f"新密码至少{domain.MIN_PASSWORD_LENGTH}位，且须同时包含字母和数字或符号",
                               f"A new password needs at least {domain.MIN_PASSWORD_LENGTH} characters mixing letters with digits or symbols",
                               errors=[{"field": "new", "code": "weak"}])
    person.password_hash = hash_password(new)
    # Every other session ends when the password changes.
    session.execute(delete(WebSession).where(WebSession.person_id == person.id))
    session.flush()


# --- TOTP (RFC 6238, 30-second steps, 6 digits) ---

def new_totp_secret() -> str:
    """Return a fresh base32 TOTP secret for enrolment."""
    return pyotp.random_base32()


def totp_uri(person: Person, secret: str) -> str:
    """Return the otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=person.email, issuer_name="OpenZone")


def _totp_step(secret: str, code: str, *, after: int) -> int | None:
    totp = pyotp.TOTP(secret)
    now = utcnow()
    code = code.strip().replace(" ", "")
    for drift in (-1, 0, 1):  # one step either side for clock skew
        at = now + dt.timedelta(seconds=30 * drift)
        step = totp.timecode(at)
        if step > after and pyotp.utils.strings_equal(totp.at(at), code):
            return step
    return None


def enrol_totp(session: Session, person: Person, *, secret: str, code: str) -> None:
    """Turn on TOTP once the person proves their app produces the right code."""
    step = _totp_step(secret, code, after=0)
    if step is None:
        raise TotpInvalid("动态验证码不正确，请核对手机时间后重试", "The code is wrong; check the phone's clock and try again")
    data_key, _ = _keys()
    person.totp_secret_enc = crypto.encrypt(data_key, secret, context="identity_person.totp")
    person.totp_last_step = step
    session.flush()


def verify_totp(session: Session, person: Person, code: str) -> bool:
    """Check a TOTP code, refusing a code that was already used."""
    if not person.totp_secret_enc:
        return False
    data_key, _ = _keys()
    secret = crypto.decrypt(data_key, person.totp_secret_enc, context="identity_person.totp")
    step = _totp_step(secret, code, after=person.totp_last_step)
    if step is None:
        return False
    person.totp_last_step = step
    session.flush()
    return True


# --- web sessions ---

def start_web_session(session: Session, person: Person, *, verified: bool) -> str:
    """Create a browser session and return the cookie value (only its hash is stored)."""
    token = new_token(32)
    hours = get_settings().session_hours
    session.add(WebSession(token_hash=sha256_hex(token), person_id=person.id, verified=verified,
                           expires_at=utcnow() + dt.timedelta(hours=hours)))
    session.flush()
    return token


def web_session(session: Session, cookie: str) -> WebSession | None:
    """Return the live session for a cookie value, or None."""
    ws = session.scalar(select(WebSession).where(WebSession.token_hash == sha256_hex(cookie)))
    if ws is None or ws.expires_at <= utcnow():
        return None
    return ws


def end_web_session(session: Session, cookie: str) -> None:
    """End a browser session."""
    session.execute(delete(WebSession).where(WebSession.token_hash == sha256_hex(cookie)))


# --- API tokens ---

TOKEN_PREFIX = "oz_"  # noqa: S105 - a public marker, not a secret


def create_token(
    session: Session, *, person: Person, org_id: uuid.UUID, name: str, scopes: list[str], days: int = 90
) -> tuple[ApiToken, str]:
    """Create an API token for an organisation the person administers; return it and its secret once."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("请填写令牌名称（100字以内）", "Enter a token name (at most 100 characters)",
                               errors=[{"field": "name", "code": "required"}])
    unknown = sorted(set(scopes) - set(domain.TOKEN_SCOPES))
    if not scopes or unknown:
        raise ValidationFailed("请选择有效的权限范围", "Choose at least one valid scope",
                               errors=[{"field": "scopes", "code": "choice", "unknown": unknown}])
    if not 1 <= days <= domain.MAX_TOKEN_DAYS:
        raise ValidationFailed(f"有效期须在1到{domain.MAX_TOKEN_DAYS}天之间",
                               f"A token lasts between 1 and {domain.MAX_TOKEN_DAYS} days",
                               errors=[{"field": "days", "code": "range"}])
    secret = TOKEN_PREFIX + new_token(32)  # 256 random bits
    token = ApiToken(org_id=org_id, created_by=person.id, name=name, prefix=secret[:10],
                     token_hash=sha256_hex(secret), scopes=sorted(set(scopes)),
                     expires_at=utcnow() + dt.timedelta(days=days))
    session.add(token)
    session.flush()
    return token, secret


def resolve_token(session: Session, secret: str) -> tuple[ApiToken, Person] | None:
    """Return a live token and its creator for a presented secret, or None."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == sha256_hex(secret)))
    now = utcnow()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    person = session.get(Person, token.created_by)
    if person is None or not person.active:
        return None
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        token.last_used_at = now  # coarse, so that every request does not write
    return token, person


# Built once: constructing a select and computing its cache key cost more than running it (about 0.5 ms a request);
# SQLAlchemy remembers the cache key of a statement object, so reusing the object skips both.
_TOKEN_PRINCIPAL = (
    select(ApiToken.id, ApiToken.org_id, ApiToken.scopes, ApiToken.expires_at, ApiToken.revoked_at,
           ApiToken.last_used_at, Person.id, Person.name, Person.active, Membership.role)
    .join(Person, Person.id == ApiToken.created_by)
    .outerjoin(Membership, and_(Membership.person_id == Person.id, Membership.org_id == ApiToken.org_id))
    .where(ApiToken.token_hash == bindparam("token_hash")))

# Built once as well. The row is picked FOR UPDATE SKIP LOCKED, so that a burst of requests presenting the same token
# does not queue behind the first one's transaction.
_TOUCH_TOKEN = (
    update(ApiToken)
    .where(ApiToken.id.in_(
        select(ApiToken.id).where(ApiToken.id == bindparam("token_id"), or_(
            ApiToken.last_used_at.is_(None), ApiToken.last_used_at < bindparam("stale_before")))
        .with_for_update(skip_locked=True)))
    .values(last_used_at=bindparam("now"))
    .execution_options(synchronize_session=False))


def token_principal(session: Session, secret: str) -> Principal | None:
    """Return the principal of a live token's secret in one query (token, creator and roles), or None."""
    # The same checks as resolve_token() followed by principal_for(), read in one round trip on every API request.
    # Plain rows, so run on the session's connection: the ORM's execution costs a third more and adds nothing here.
    rows = session.connection().execute(_TOKEN_PRINCIPAL, {"token_hash": sha256_hex(secret)}).all()
    now = utcnow()
    if not rows:
        return None
    token_id, org_id, scopes, expires_at, revoked_at, last_used_at, person_id, name, active, _ = rows[0]
    if revoked_at is not None or expires_at <= now or not active:
        return None
    if last_used_at is None or now - last_used_at > dt.timedelta(minutes=1):
        # Coarse, so that every request does not write. A request that finds the row locked by another one writing the
        # same minute skips it rather than wait for that transaction (PostgreSQL; SQLite serialises writers anyway).
        session.execute(_TOUCH_TOKEN, {"token_id": token_id, "now": now,
                                       "stale_before": now - dt.timedelta(minutes=1)})
    return Principal(person_id=person_id, name=name, roles=frozenset((org_id, r[-1]) for r in rows if r[-1]),
                     is_platform_admin=False, token_id=token_id, token_org_id=org_id, scopes=frozenset(scopes))


def tokens_for(session: Session, org_ids: set[uuid.UUID]) -> list[ApiToken]:
    """List the tokens of some organisations, newest first."""
    if not org_ids:
        return []
    return list(session.scalars(select(ApiToken).where(ApiToken.org_id.in_(org_ids))
                                .order_by(ApiToken.created_at.desc())))


def revoke_token(session: Session, token_id: uuid.UUID, *, allowed_orgs: set[uuid.UUID]) -> ApiToken:
    """Revoke a token of one of the allowed organisations."""
    token = session.get(ApiToken, token_id)
    if token is None or token.org_id not in allowed_orgs:
        raise NotFound("令牌不存在", "No such token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return token


@dataclass(frozen=True)
class OrgEntry:
    """Name an active organisation for other modules' pages: id, names, kind and unified social credit code."""

    id: uuid.UUID
    name: str
    name_en: str
    kind: str
    uscc: str | None = None
    active: bool = True


def find_organisation(session: Session, ref: str) -> Organisation:
    """Find the one organisation an operator names by id, credit code or name; NotFound, or Conflict if several."""
    try:
        found = session.scalars(select(Organisation).where(Organisation.id == uuid.UUID(ref))).all()
    except ValueError:
        found = session.scalars(select(Organisation).where((Organisation.uscc == ref) | (Organisation.name == ref))).all()
    if len(found) > 1:
        raise Conflict(f"有 {len(found)} 个机构名为 {ref}，请用 id 或统一社会信用代码",
                       f"{len(found)} organisations are named {ref}: give the id or credit code")
    if not found:
        raise NotFound(f"找不到机构：{ref}", f"No organisation: {ref}")
    return found[0]


def organisation(session: Session, org_id: uuid.UUID) -> OrgEntry | None:
    """Return an active organisation's names and kind, or None."""
    row = session.execute(select(Organisation.id, Organisation.name, Organisation.name_en, Organisation.kind,
                                 Organisation.uscc).where(Organisation.id == org_id, Organisation.active.is_(True))).first()
    return OrgEntry(*row) if row else None


def role_org_name(person_id: Any, org_id: Any, role: str) -> Any:
    """Return SQL for the name of the organisation in which a person holds a role, for a caller's own query.

    person_id and org_id are columns (or values) of that query. The value is NULL when the person does not hold the
    role there, and "" when the organisation is no longer active, so one statement reads both a caller's own rows
    and whether the role still stands (the e-license desk: clerk, window and hall role in one round trip).
    """
    return (select(case((Organisation.active, Organisation.name), else_=literal("")))
            .join(Membership, Membership.org_id == Organisation.id)
            .where(Membership.person_id == person_id, Membership.org_id == org_id, Membership.role == role,
                   Organisation.id == org_id)
            .scalar_subquery())


def organisations(session: Session, ids: Iterable[uuid.UUID] | None = None) -> list[OrgEntry]:
    """List active organisations (all, or those with the given ids) by name."""
    stmt = select(Organisation.id, Organisation.name, Organisation.name_en, Organisation.kind,
                  Organisation.uscc).where(Organisation.active.is_(True))
    if ids is not None:
        wanted = list(set(ids))
        if not wanted:
            return []
        stmt = stmt.where(Organisation.id.in_(wanted))
    return [OrgEntry(*row) for row in session.execute(stmt.order_by(Organisation.name))]
