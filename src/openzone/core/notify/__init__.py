"""Notifications through a transactional outbox: in-app inbox, e-mail, SMS gateway and console, with retries."""

from openzone.core.notify.domain import Channel, Round, Status
from openzone.core.notify.models import Message
from openzone.core.notify.service import (
    SENSITIVE_PLACEHOLDER,
    deliver_due,
    inbox,
    mark_all_read,
    mark_read,
    outbox_counts,
    retry_failed,
    send,
    send_to_address,
    unread_count,
)

__all__ = [
    "SENSITIVE_PLACEHOLDER",
    "Channel",
    "Message",
    "Round",
    "Status",
    "deliver_due",
    "inbox",
    "mark_all_read",
    "mark_read",
    "outbox_counts",
    "retry_failed",
    "send",
    "send_to_address",
    "unread_count",
]
