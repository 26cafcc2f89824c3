"""Notify commands: see the outbox and put failed messages back in the queue."""

from __future__ import annotations

import uuid

import typer
from rich.console import Console
from rich.table import Table

from openzone.core.notify import service
from openzone.core.notify.domain import Channel, Status
from openzone.db import transaction

console = Console()
notify_app = typer.Typer(help="通知 · Notifications", no_args_is_help=True)


@notify_app.command("status")
def status() -> None:
    """Count outbox messages by channel and status."""
    with transaction() as session:
        counts = service.outbox_counts(session)
    table = Table(title="通知发件箱 · notification outbox")
    table.add_column("渠道 · channel")
    for s in Status:
        table.add_column(s.value, justify="right")
    for channel in Channel:
        table.add_row(channel.value, *(str(counts.get((channel.value, s.value), 0)) for s in Status))
    console.print(table)


@notify_app.command("retry")
def retry(message_id: str = typer.Argument("", help="只重发这一条 · only this message")) -> None:
    """Queue failed messages (all, or one) again with a fresh set of attempts."""
    try:
        one = uuid.UUID(message_id) if message_id else None
    except ValueError:
        console.print(f"[red]错误：消息编号无效 · Error: not a message id: {message_id}[/red]")
        raise typer.Exit(1) from None
    with transaction() as session:
        n = service.retry_failed(session, message_id=one)
    console.print(f"已重新排队 {n} 条 · {n} queued again")
