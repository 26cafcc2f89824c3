"""Ledger commands: print the log key, integrate pending entries, export the tiles as static files, audit the log."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.exc import OperationalError

from openzone.config import get_settings
from openzone.core.ledger import service
from openzone.db import transaction
from openzone.kit.errors import Problem

console = Console()
ledger_app = typer.Typer(help="透明账本 · Transparency log", no_args_is_help=True)


def _fail(problem: Problem) -> None:
    console.print(f"[red]错误：{escape(problem.detail or problem.title)}[/red]")
    console.print(f"[red]Error: {escape(problem.detail_en or problem.title_en)}[/red]")
    raise typer.Exit(1)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True)


@ledger_app.command("vkey")
def vkey() -> None:
    """Print the log's verifier key (C2SP signed-note vkey), creating the signing key on first use."""
    try:
        print(service.log_vkey())
    except Problem as problem:
        _fail(problem)


@ledger_app.command("integrate")
def integrate(
    loop: bool = typer.Option(False, "--loop", help="持续运行直到收到 SIGTERM/SIGINT · keep running until SIGTERM or SIGINT"),
    batch: int = typer.Option(0, "--batch", min=0, max=service.MAX_INTEGRATE_BATCH,
                              help="每个检查点最多的条目数（默认取 ledger_batch_size）· entries per checkpoint at most"),
    # 0.25 s: a checkpoint follows a recorded entry within the second (issue 3), at four idle reads a second.
    delay: float = typer.Option(0.25, "--delay", min=0.0, help="无待处理条目时等待的秒数 · seconds to wait when idle"),
) -> None:
    """Integrate pending entries in batches, one signed checkpoint per batch; without --loop, stop when none are left."""
    size = batch or get_settings().ledger_batch_size
    stopping = False

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True

    if loop:
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        console.print(f"整合器已启动 · integrator started (batch {size})")
    total = 0
    while True:
        try:
            count, after = service.plan_and_integrate(size)
        except Problem as problem:
            _fail(problem)
        except OperationalError as exc:
            # A lost connection or a lock timeout rolls the batch back whole; a looping integrator tries again.
            if not loop:
                raise
            console.print(f"[yellow]数据库暂不可用，稍后重试 · database unavailable, retrying: "
                          f"{escape(str(exc.orig or exc).splitlines()[0])}[/yellow]")
            if stopping:
                break
            time.sleep(max(delay, 1.0))
            continue
        total += count
        if count:
            console.print(f"检查点 · checkpoint {after} (+{count})")
        if stopping:
            break
        if count < size:
            if not loop:
                break
            time.sleep(delay)
    console.print(f"共入账 {total} 个条目 · {total} entries integrated")


@ledger_app.command("export-tiles")
def export_tiles(directory: Path = typer.Argument(..., file_okay=False, help="输出目录 · output directory")) -> None:
    """Write the newest checkpoint, every tile and entry bundle as static files at their C2SP paths."""
    try:
        with _progress() as progress:
            task = progress.add_task("导出瓦片 · exporting tiles", total=None)
            written = service.export_tiles(transaction, directory,
                                           progress=lambda done, total: progress.update(task, completed=done, total=total))
    except Problem as problem:
        _fail(problem)
    except OSError as exc:
        # A target under a regular file, without write permission, or on a full disk: the operator picks another.
        console.print(f"[red]错误：无法写入 {escape(str(directory))}：{escape(str(exc))}[/red]")
        console.print(f"[red]Error: cannot write to {escape(str(directory))}: {escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    console.print(f"已写入 {written} 个文件到 {escape(str(directory))} · {written} files written")


@ledger_app.command("audit")
def audit() -> None:
    """Recompute the whole tree from the entries and compare tiles, checkpoints and state; exit 1 on any difference."""
    try:
        with _progress() as progress:
            task = progress.add_task("重算 · recomputing", total=None)
            report = service.audit(transaction,
                                   progress=lambda done, total: progress.update(task, completed=done, total=total))
    except Problem as problem:
        _fail(problem)
    console.print(f"条目 · entries {report.entries} / {report.size}，瓦片 · tiles {report.tiles}，"
                  f"检查点 · checkpoints {report.checkpoints}，待入账 · pending {report.pending}")
    if report.ok:
        console.print("[green]审计通过：存储的瓦片和检查点与条目重算结果一致 · audit passed: tiles and checkpoints "
                      "match the entries[/green]")
        return
    console.print(f"[red]审计失败：发现 {len(report.differences)} 处差异 · audit FAILED: "
                  f"{len(report.differences)} differences[/red]")
    for difference in report.differences:
        console.print(f"  - {escape(difference)}", soft_wrap=True)
    raise typer.Exit(1)


if __name__ == "__main__":
    # Lets a supervisor (benchmarks/ledger_soak.py) start the integrator without importing every other module's CLI.
    ledger_app()
