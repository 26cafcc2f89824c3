"""Pure notification rules: channels, statuses, limits, message text and the retry decision."""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass


class Channel(enum.StrEnum):
    """List the ways a notice reaches its reader."""

    INBOX = "inbox"  # in-app: the row itself is the delivery
    EMAIL = "email"  # SMTP to the person's e-mail address
    SMS = "sms"  # HTTP webhook of an SMS gateway, with the person's mobile number
    CONSOLE = "console"  # a log line, for development


class Status(enum.StrEnum):
    """List the states of a message in the outbox."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


SUBJECT_MAX = 200
BODY_MAX = 10_000
ADDRESS_MAX = 254  # RFC 5321 §4.5.3.1.3 path limit, also ample for a phone number
DEDUPE_KEY_MAX = 200
ERROR_MAX = 2000

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Mainland mobile numbers as identity accepts them, optionally written with +86.
_PHONE_RE = re.compile(r"^(\+86)?1[3-9]\d{9}$")


@dataclass(frozen=True)
class Letter:
    """Hold what a channel sends: where to, and the text in Chinese with an optional English version."""

    message_id: str
    address: str
    subject: str
    body: str
    subject_en: str = ""
    body_en: str = ""


class DeliveryFailed(Exception):
    """Signal that a channel could not deliver; permanent failures are not retried."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass
class Round:
    """Count what one delivery round did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    left: int = 0  # claimed but left pending because the round ran out of time


def content_error(subject: str, body: str, subject_en: str, body_en: str) -> str | None:
    """Return why a notice's text is not acceptable (subject, body, subject_en, body_en), or None."""
    if not subject.strip() or len(subject) > SUBJECT_MAX or "\n" in subject or "\r" in subject:
        return "subject"
    if not body.strip() or len(body) > BODY_MAX:
        return "body"
    if len(subject_en) > SUBJECT_MAX or "\n" in subject_en or "\r" in subject_en:
        return "subject_en"
    if len(body_en) > BODY_MAX:
        return "body_en"
    return None


def address_error(channel: Channel, address: str) -> str | None:
    """Return why an address does not suit a channel ("format"), or None."""
    if len(address) > ADDRESS_MAX:
        return "format"
    if channel is Channel.EMAIL and not _EMAIL_RE.match(address):
        return "format"
    if channel is Channel.SMS and not _PHONE_RE.match(address):
        return "format"
    return None


def compose_text(letter: Letter, *, with_subject: bool) -> str:
    """Write the plain text of a notice: the Chinese version first, then the English one if there is one."""
    zh = f"{letter.subject}\n{letter.body}" if with_subject else letter.body
    if not (letter.subject_en or letter.body_en):
        return zh
    en = "\n".join(part for part in (letter.subject_en, letter.body_en) if part)
    return f"{zh}\n\n——\n{en}"


def after_failure(*, attempts: int, max_attempts: int, permanent: bool, now: dt.datetime,
                  backoff: dt.timedelta) -> tuple[Status, dt.datetime | None]:
    """Decide a failed message's next state: retry after backoff, or fail for good."""
    if permanent or attempts >= max_attempts:
        return Status.FAILED, None
    return Status.PENDING, now + backoff
