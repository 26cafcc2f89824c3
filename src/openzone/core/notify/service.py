"""Notify use cases: queue notices in the caller's transaction, deliver them from the worker, read the inbox."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openzone.config import Settings, get_settings
from openzone.core import identity, jobs
from openzone.core.notify import domain
from openzone.core.notify.channels import SENDERS
from openzone.core.notify.domain import Channel, DeliveryFailed, Letter, Round, Status
from openzone.core.notify.models import Message
from openzone.kit import crypto
from openzone.kit.errors import NotFound, ValidationFailed
from openzone.kit.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor
from openzone.kit.time import utcnow

log = logging.getLogger("openzone.notify")

DELIVERY_INTERVAL = dt.timedelta(seconds=5)
# A round stops starting new sends after this many seconds, so that on SQLite (one writer) the
# write lock it holds stays well under the 10-second busy timeout of other writers.
ROUND_SECONDS = 2.0
ADDRESS_CONTEXT = "notify_message.address"
CONTENT_CONTEXT = "notify_message.content"

CONTENT_MESSAGES = {
    "subject": ("请填写标题（200字以内，不换行）", "Enter a subject (at most 200 characters, one line)"),
    "body": (f"请填写正文（{domain.BODY_MAX}字以内）", f"Enter a body (at most {domain.BODY_MAX} characters)"),
    "subject_en": ("英文标题不能超过200字，且不能换行", "The English subject is one line of at most 200 characters"),
    "body_en": (f"英文正文不能超过{domain.BODY_MAX}字", f"The English body has at most {domain.BODY_MAX} characters"),
}


def _channel(value: Channel | str) -> Channel:
    try:
        return Channel(value)
    except ValueError as exc:
        raise ValidationFailed("通知渠道无效", "Unknown notification channel",
                               errors=[{"field": "channel", "code": "choice"}]) from exc


def _check_content(subject: str, body: str, subject_en: str, body_en: str, dedupe_key: str | None) -> None:
    error = domain.content_error(subject, body, subject_en, body_en)
    if error:
        zh, en = CONTENT_MESSAGES[error]
        raise ValidationFailed(zh, en, errors=[{"field": error, "code": "length"}])
    if dedupe_key is not None and not 1 <= len(dedupe_key) <= domain.DEDUPE_KEY_MAX:
        raise ValidationFailed("去重键须为1到200个字符", "A dedupe key has 1 to 200 characters",
                               errors=[{"field": "dedupe_key", "code": "length"}])


def _queue(session: Session, message: Message, dedupe_key: str | None) -> Message | None:
    if dedupe_key is None:
        session.add(message)
        session.flush()
        return message
    if session.scalar(select(Message.id).where(Message.dedupe_key == dedupe_key)):
        return None
    # Two transactions racing with one key: the unique constraint lets one win; the savepoint keeps the loser's work.
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        return None
    return message


SENSITIVE_PLACEHOLDER = ("（一次性内容，加密保存，发送后删除）", "(one-time content, kept encrypted, deleted once sent)")


def _seal(message: Message) -> None:
    # Keep the texts only encrypted; the stored body and body_en say what they were.
    texts = json.dumps([message.body, message.body_en], ensure_ascii=False)
    message.content_enc = crypto.encrypt(get_settings().secret("data"), texts, context=CONTENT_CONTEXT)
    message.body, message.body_en = SENSITIVE_PLACEHOLDER


def send(session: Session, *, person_id: uuid.UUID, subject: str, body: str, subject_en: str = "",
         body_en: str = "", channel: Channel | str = "inbox", dedupe_key: str | None = None,
         sensitive: bool = False) -> Message | None:
    """Queue a notice to a person in the caller's transaction; return None if its dedupe key was already used.

    sensitive=True (a one-time code; not for the inbox, which shows what it stores) keeps the body only encrypted
    and deletes it when delivery ends, sent or given up.
    """
    channel = _channel(channel)
    _check_content(subject, body, subject_en, body_en, dedupe_key)
    inbox = channel is Channel.INBOX
    if sensitive and inbox:
        raise ValidationFailed("站内消息会保存其内容，不能用于一次性内容", "Inbox messages keep their content; "
                               "one-time content goes by SMS or e-mail", errors=[{"field": "channel", "code": "choice"}])
    identity.contact_for(session, person_id)  # refuses an unknown person now rather than at delivery
    now = utcnow()
    message = Message(person_id=person_id, channel=channel.value, subject=subject.strip(), body=body,
                      subject_en=subject_en.strip(), body_en=body_en, dedupe_key=dedupe_key, attempts=0,
                      status=(Status.SENT if inbox else Status.PENDING).value,
                      sent_at=now if inbox else None, next_attempt_at=None if inbox else now)
    if sensitive:
        _seal(message)
    return _queue(session, message, dedupe_key)


def send_to_address(session: Session, *, channel: Channel | str, address: str, subject: str, body: str,
                    subject_en: str = "", body_en: str = "", dedupe_key: str | None = None,
                    sensitive: bool = False) -> Message | None:
    """Queue a notice to an e-mail address or mobile number that belongs to no registered person."""
    channel = _channel(channel)
    if channel is Channel.INBOX:
        raise ValidationFailed("站内消息只能发给已注册的人员", "Inbox messages go to registered people only",
                               errors=[{"field": "channel", "code": "choice"}])
    address = address.strip()
    if domain.address_error(channel, address):
        raise ValidationFailed("收件地址格式不正确", "The address does not suit the channel",
                               errors=[{"field": "address", "code": "format"}])
    _check_content(subject, body, subject_en, body_en, dedupe_key)
    message = Message(channel=channel.value, subject=subject.strip(), body=body, subject_en=subject_en.strip(),
                      body_en=body_en, dedupe_key=dedupe_key, attempts=0, status=Status.PENDING.value,
                      next_attempt_at=utcnow(),
                      address_enc=crypto.encrypt(get_settings().secret("data"), address, context=ADDRESS_CONTEXT))
    if sensitive:
        _seal(message)
    return _queue(session, message, dedupe_key)


# --- the in-app inbox ---

def _inbox_of(person_id: uuid.UUID):
    return select(Message).where(Message.person_id == person_id, Message.channel == Channel.INBOX.value)


def inbox(session: Session, person_id: uuid.UUID, *, unread_only: bool = False, cursor: str | None = None,
          limit: int = 50) -> Page[Message]:
    """List a person's in-app messages, newest first, a page at a time."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"每页条数须在 1 到 {MAX_LIMIT} 之间", f"limit must be between 1 and {MAX_LIMIT}")
    stmt = _inbox_of(person_id)
    if unread_only:
        stmt = stmt.where(Message.read_at.is_(None))
    if cursor:
        raw = decode_cursor(cursor)
        try:
            at_text, _, id_text = raw.partition("|")
            at, after_id = dt.datetime.fromisoformat(at_text), uuid.UUID(id_text)
        except ValueError as exc:
            raise ValidationFailed("分页游标无效", "The page cursor is not valid") from exc
        if at.tzinfo is None:
            raise ValidationFailed("分页游标无效", "The page cursor is not valid")
        stmt = stmt.where(or_(Message.created_at < at, and_(Message.created_at == at, Message.id < after_id)))
    rows = list(session.scalars(stmt.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(f"{rows[-1].created_at.isoformat()}|{rows[-1].id}") if more else None
    return Page(rows, next_cursor)


def unread_count(session: Session, person_id: uuid.UUID) -> int:
    """Count a person's unread in-app messages."""
    stmt = _inbox_of(person_id).where(Message.read_at.is_(None))
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def mark_read(session: Session, person_id: uuid.UUID, message_id: uuid.UUID) -> Message:
    """Mark one of a person's in-app messages read (again is harmless); another's message is not found."""
    message = session.scalar(_inbox_of(person_id).where(Message.id == message_id))
    if message is None:
        raise NotFound("消息不存在", "No such message")
    if message.read_at is None:
        message.read_at = utcnow()
        session.flush()
    return message


def mark_all_read(session: Session, person_id: uuid.UUID) -> int:
    """Mark all of a person's in-app messages read; return how many were unread."""
    result = session.execute(
        update(Message).where(Message.person_id == person_id, Message.channel == Channel.INBOX.value,
                              Message.read_at.is_(None)).values(read_at=utcnow()))
    session.flush()
    return result.rowcount or 0


# --- delivery by the worker ---

def _letter(session: Session, message: Message) -> Letter:
    channel = Channel(message.channel)
    if message.address_enc is not None:
        address = crypto.decrypt(get_settings().secret("data"), message.address_enc, context=ADDRESS_CONTEXT)
    elif message.person_id is not None:
        try:
            email, phone = identity.contact_for(session, message.person_id)
        except NotFound as exc:
            raise DeliveryFailed("the person no longer exists", permanent=True) from exc
        address = phone if channel is Channel.SMS else email
        if not address:
            raise DeliveryFailed("the person has given no mobile number", permanent=True)
    else:
        raise DeliveryFailed("the message has no recipient", permanent=True)
    body, body_en = message.body, message.body_en
    if message.content_enc is not None:
        body, body_en = json.loads(crypto.decrypt(get_settings().secret("data"), message.content_enc,
                                                  context=CONTENT_CONTEXT))
    return Letter(message_id=str(message.id), address=address, subject=message.subject, body=body,
                  subject_en=message.subject_en, body_en=body_en)


def _deliver_one(session: Session, message: Message, settings: Settings, now: dt.datetime) -> Status:
    message.attempts += 1
    try:
        letter = _letter(session, message)
        SENDERS[Channel(message.channel)](settings, letter)
    except Exception as exc:  # noqa: BLE001 - one bad message must not roll back the round and resend the others
        # Any error, not only DeliveryFailed, is recorded on its message and retried like a transient failure.
        permanent = isinstance(exc, DeliveryFailed) and exc.permanent
        reason = str(exc) if isinstance(exc, DeliveryFailed) else f"{type(exc).__name__}: {exc}"
        status, next_at = domain.after_failure(attempts=message.attempts, max_attempts=settings.notify_max_attempts,
                                               permanent=permanent, now=now, backoff=jobs.backoff(message.attempts))
        message.status, message.next_attempt_at = status.value, next_at
        message.last_error = reason[:domain.ERROR_MAX]
        if status is Status.FAILED:
            message.content_enc = None
        log.warning("notice %s via %s, attempt %d: %s (%s)", message.id, message.channel, message.attempts, reason,
                    status.value)
        return status
    message.status, message.sent_at, message.next_attempt_at = Status.SENT.value, now, None
    message.content_enc = None
    return Status.SENT


def deliver_due(session: Session, *, settings: Settings | None = None, now: dt.datetime | None = None,
                limit: int = 100) -> Round:
    """Send due pending messages, claimed FOR UPDATE SKIP LOCKED, retrying failures with backoff."""
    # Sending and recording share the caller's transaction, so a worker that dies in between leaves the
    # message pending and it is sent again: delivery is at least once (see README).
    settings = settings or get_settings()
    now = now or utcnow()
    due = session.scalars(select(Message).where(Message.status == Status.PENDING.value, Message.next_attempt_at <= now)
                          .order_by(Message.next_attempt_at).limit(limit).with_for_update(skip_locked=True)).all()
    result = Round()
    started = time.monotonic()
    for message in due:
        if time.monotonic() - started > ROUND_SECONDS:
            result.left += 1
            continue
        status = _deliver_one(session, message, settings, now)
        if status is Status.SENT:
            result.sent += 1
        elif status is Status.PENDING:
            result.retrying += 1
        else:
            result.failed += 1
    session.flush()
    return result


@jobs.handler("notify.deliver", every=DELIVERY_INTERVAL)
def _deliver_job(session: Session, payload: dict) -> None:
    deliver_due(session)


# --- operations ---

def outbox_counts(session: Session) -> dict[tuple[str, str], int]:
    """Count messages by channel and status."""
    rows = session.execute(select(Message.channel, Message.status, func.count()).group_by(Message.channel, Message.status))
    return {(channel, status): n for channel, status, n in rows}


def retry_failed(session: Session, *, message_id: uuid.UUID | None = None) -> int:
    """Put failed messages (all, or one) back in the queue with a fresh set of attempts; return how many."""
    # A sensitive message that failed has lost its content (see send): the sender must issue a new one.
    lost = and_(Message.content_enc.is_(None), Message.body == SENSITIVE_PLACEHOLDER[0])
    stmt = select(Message).where(Message.status == Status.FAILED.value, ~lost)
    if message_id is not None:
        stmt = stmt.where(Message.id == message_id)
    messages = session.scalars(stmt.with_for_update()).all()
    now = utcnow()
    for message in messages:
        message.status, message.attempts, message.next_attempt_at = Status.PENDING.value, 0, now
    session.flush()
    return len(messages)
