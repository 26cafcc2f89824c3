"""Standards commands: import a bibliographic file or a PDF's full text, refresh statuses, list regulators."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from openzone.db import transaction
from openzone.kit.errors import Problem
from openzone.services.standards import service, workflow

console = Console()
standards_app = typer.Typer(help="京津冀区域标准 · Regional standards", no_args_is_help=True)


def fail(problem: Problem) -> None:
    """Print a problem in both languages, each row error on its own line, and exit with status 1."""
    console.print(f"[red]错误：{problem.detail or problem.title}[/red]")
    console.print(f"[red]Error: {problem.detail_en or problem.title_en}[/red]")
    for err in problem.errors:
        where = f"第 {err['row']} 行 · row {err['row']}" if "row" in err else ""
        console.print(f"  {where} {err.get('field', '')}: {err.get('message', '')} · {err.get('message_en', '')}",
                      markup=False)
    raise typer.Exit(1)


@standards_app.command("import")
def import_(file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV、JSON 或 PDF 文件 · file"),
            number: str = typer.Option("", help="PDF 全文所属标准编号 · the standard a PDF belongs to")) -> None:
    """Import standards from CSV or JSON (all or nothing), or a PDF's full text with --number."""
    data = file.read_bytes()
    try:
        if file.suffix.lower() == ".pdf":
            if not number:
                console.print("[red]导入 PDF 须指定 --number · a PDF needs --number[/red]")
                raise typer.Exit(2)
            with transaction() as session:
                result = service.attach_pdf(session, number=number, data=data, source=file.name)
            console.print(f"已导入全文 · full text imported: {number} ({result.outcome})")
            return
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task(f"导入 · importing {file.name}", total=None)

            def step(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            with transaction() as session:
                report = service.import_file(session, name=file.name, data=data, progress=step)
    except Problem as problem:
        fail(problem)
    console.print(f"新增 · created {report.created}，更新 · updated {report.updated}，未变 · unchanged {report.unchanged}")


@standards_app.command("refresh")
def refresh() -> None:
    """Recompute statuses from dates now (the worker also does this every six hours)."""
    with transaction() as session:
        count = service.refresh_statuses(session)
    console.print(f"状态已更新 · statuses changed: {count}")


@standards_app.command("regulators")
def regulators() -> None:
    """List the organisations registered as the three regions' standardisation regulators."""
    with transaction() as session:
        for reg in workflow.regulators(session):
            console.print(f"{reg.region}\t{reg.org_id}\t{reg.name}", markup=False)
