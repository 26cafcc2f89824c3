"""Consent commands: housekeeping now, and a holder's erasure request."""

from __future__ import annotations

import uuid

import typer
from rich.console import Console

from openzone.core.consent import service
from openzone.core.consent.domain import Holder
from openzone.db import transaction

console = Console()
consent_app = typer.Typer(help="数据授权 · Consent", no_args_is_help=True)


@consent_app.command("housekeeping")
def housekeeping() -> None:
    """Expire grants past their end and delete copies past their data-life now (the worker does it every 5 minutes)."""
    with transaction() as session:
        expired = service.expire_due(session)
        deleted = service.delete_expired_copies(session)
    console.print(f"已过期授权 {expired} 项，已删除副本 {deleted} 份 · {expired} grants expired, {deleted} copies deleted")


@consent_app.command("erase")
def erase(person: str = typer.Option("", help="个人编号 · person id"),
          org: str = typer.Option("", help="机构编号 · organisation id"),
          yes: bool = typer.Option(False, "--yes", help="不再确认 · do not ask for confirmation")) -> None:
    """Carry out a holder's erasure request: end their grants and delete their personal data and salts."""
    try:
        if bool(person) == bool(org):
            raise ValueError
        holder = Holder.person(uuid.UUID(person)) if person else Holder.organisation(uuid.UUID(org))
    except ValueError:
        console.print("[red]错误：请给出 --person 或 --org 之一（编号） · Error: give one of --person or --org (an id)[/red]")
        raise typer.Exit(1) from None
    if not yes and not typer.confirm("删除后无法恢复，是否继续？ · This cannot be undone. Continue?"):
        raise typer.Exit(1)
    with transaction() as session:
        report = service.erase_holder(session, holder)
    console.print(f"已处理授权 {report.grants} 项、访问记录 {report.accesses} 条、副本 {report.copies} 份，擦除盐值 {report.salts} 个 · "
                  f"{report.grants} grants, {report.accesses} access records, {report.copies} copies, {report.salts} salts erased")
