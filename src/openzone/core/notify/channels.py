"""Send a letter by e-mail (SMTP), SMS (an HTTP gateway) or a log line, with the settings given."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate

import httpx

from openzone.config import Settings
from openzone.core.notify.domain import Channel, DeliveryFailed, Letter, compose_text

log = logging.getLogger("openzone.notify")

# Seconds to wait for a mail server or gateway; short, because on SQLite the delivery round holds the write lock.
SEND_TIMEOUT = 5.0

Sender = Callable[[Settings, Letter], None]


def send_email(settings: Settings, letter: Letter) -> None:
    """Send a letter as a UTF-8 plain-text e-mail through the configured SMTP server."""
    msg = EmailMessage()
    msg["From"] = settings.smtp_sender
    msg["To"] = letter.address
    msg["Subject"] = letter.subject  # the default policy encodes non-ASCII as RFC 2047 UTF-8 words
    msg["Date"] = formatdate(usegmt=True)
    # The same Message-ID on every attempt lets mail clients drop a copy resent after a crash.
    msg["Message-ID"] = f"<{letter.message_id}@{settings.smtp_sender.rpartition('@')[2] or 'openzone.local'}>"
    # base64 keeps the body 7-bit, so a relay without 8BITMIME (RFC 6152) passes Chinese text unharmed.
    msg.set_content(compose_text(letter, with_subject=False), cte="base64")
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SEND_TIMEOUT) as smtp:
            smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        # RFC 5321 §4.2.1: 5yz replies are permanent, 4yz transient.
        raise DeliveryFailed(f"SMTP refused the recipient ({codes})", permanent=all(c >= 500 for c in codes)) from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(f"SMTP answered {exc.smtp_code}", permanent=exc.smtp_code >= 500) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"SMTP server unreachable: {type(exc).__name__}: {exc}") from exc


def send_sms(settings: Settings, letter: Letter) -> None:
    """Post a letter as JSON {"to": phone, "text": ...} to the SMS gateway's webhook; anything but 2xx fails."""
    if not settings.sms_webhook_url:
        raise DeliveryFailed("no SMS gateway configured (OPENZONE_SMS_WEBHOOK_URL)", permanent=True)
    try:
        response = httpx.post(settings.sms_webhook_url,
                              json={"to": letter.address, "text": compose_text(letter, with_subject=True)},
                              headers={"Idempotency-Key": letter.message_id}, timeout=SEND_TIMEOUT)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"SMS gateway unreachable: {type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        code = response.status_code
        # A 4xx other than a timeout or rate limit says the request itself is wrong: resending will not help.
        # The body is not kept, as a gateway may echo the phone number.
        raise DeliveryFailed(f"SMS gateway answered {code}", permanent=400 <= code < 500 and code not in (408, 429))


def send_console(settings: Settings, letter: Letter) -> None:
    """Write a letter to the log, for development."""
    log.info("notice %s to %s: %s", letter.message_id, letter.address, compose_text(letter, with_subject=True))


SENDERS: dict[Channel, Sender] = {Channel.EMAIL: send_email, Channel.SMS: send_sms, Channel.CONSOLE: send_console}
