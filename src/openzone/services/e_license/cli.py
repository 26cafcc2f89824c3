"""E-license commands: register issuers, open windows, accredit clerks, import licenses in bulk with a progress bar."""

from __future__ import annotations

import uuid
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from openzone.db import transaction
from openzone.kit.errors import Problem
from openzone.services.e_license import domain, service

console = Console()
e_license_app = typer.Typer(help="电子证照 · E-licenses", no_args_is_help=True)


def fail(problem: Problem) -> None:
    """Print a problem in both languages with each bad row's errors, and exit with status 1."""
    console.print(f"[red]错误：{problem.detail or problem.title}[/red]")
    console.print(f"[red]Error: {problem.detail_en or problem.title_en}[/red]")
    for row in problem.extensions.get("report", []):
        errors = "; ".join(f"{e['field']}: {e['code']}" for e in row["errors"])
        console.print(f"  第 {row['row']} 行 · row {row['row']}: {errors}", markup=False)
    for err in problem.errors:
        console.print(f"  {err.get('field', '')}: {err.get('code', '')}", markup=False)
    raise typer.Exit(1)


@e_license_app.command("import")
def import_(file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON 或 CSV 文件 · file"),
            issuer: uuid.UUID = typer.Option(..., help="签发机构 id · the issuing organisation's id")) -> None:
    """Issue the licenses of a JSON or CSV file for an issuer, all or none, reporting every bad row."""
    try:
        rows = domain.parse_import(file.name, file.read_bytes())
    except domain.ImportFileInvalid as exc:
        console.print(f"[red]文件无效 · invalid file: {exc}[/red]")
        raise typer.Exit(2) from exc
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task(f"签发 · issuing {file.name}", total=len(rows))
            with transaction() as session:
                report = service.import_rows(session, issuer_org_id=issuer, rows=rows,
                                             progress=lambda n: progress.update(task, completed=n))
    except Problem as problem:
        fail(problem)
    console.print(f"已签发 · issued {len(report.issued)} / {report.rows}")


@e_license_app.command("issuer")
def add_issuer(org: uuid.UUID = typer.Option(..., help="机构 id · organisation id"),
               types: str = typer.Option(..., help="证照类型代码，逗号分隔 · license type codes, comma-separated")) -> None:
    """Register an organisation as the issuer of some license types (creates its Ed25519 key)."""
    try:
        with transaction() as session:
            issuer = service.create_issuer(session, org_id=org, license_types=[t.strip() for t in types.split(",") if t.strip()])
            console.print(f"{issuer.id}\t{issuer.public_multikey}\t{service.issuer_url(issuer.id)}", markup=False)
    except Problem as problem:
        fail(problem)


@e_license_app.command("window")
def add_window(hall: uuid.UUID = typer.Option(..., help="服务大厅机构 id · service hall id"),
               hall_code: str = typer.Option(..., help="大厅代码 · hall code"),
               code: str = typer.Option(..., help="窗口代码 · window code"), name: str = typer.Option(...),
               online: bool = typer.Option(False, help="网上办事大厅 · the online hall's desk")) -> None:
    """Open a window of a service hall."""
    try:
        with transaction() as session:
            window = service.create_window(session, hall_org_id=hall, hall_code=hall_code, code=code, name=name,
                                           online=online)
            console.print(str(window.id), markup=False)
    except Problem as problem:
        fail(problem)


@e_license_app.command("accredit")
def accredit(person: uuid.UUID = typer.Option(..., help="窗口工作人员 id · clerk's person id"),
             window: uuid.UUID = typer.Option(..., help="窗口 id · window id")) -> None:
    """Accredit a clerk of the hall at one window (replacing any earlier window)."""
    try:
        with transaction() as session:
            service.accredit_clerk(session, person_id=person, window_id=window, by_person=None)
    except Problem as problem:
        fail(problem)
    console.print("已认证 · accredited")
