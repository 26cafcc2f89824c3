"""Calendar commands: import a year's State Council schedule, check coverage, list a year's special days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from openzone.core.calendar import domain, service
from openzone.db import transaction
from openzone.kit.errors import Problem
from openzone.kit.time import CST, today_cst

console = Console()
calendar_app = typer.Typer(help="工作日历 · Working-day calendar", no_args_is_help=True)


def _fail(problem: Problem) -> None:
    console.print(f"[red]错误：{escape(problem.detail or problem.title)}[/red]")
    console.print(f"[red]Error: {escape(problem.detail_en or problem.title_en)}[/red]")
    for err in problem.errors:
        where = f"第{err['line']}行 · line {err['line']}" if err.get("line") else "文件 · file"
        console.print(f"  {where}: {escape(err['message'])} · {escape(err['message_en'])}")
    raise typer.Exit(1)


@calendar_app.command("import")
def import_year(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="CSV: date,kind,name_zh,name_en (见 docs/calendar-import-example.csv)"),
    source: str = typer.Option("", help="国务院办公厅通知名称，优先于文件中的 # source: 行 · the State Council notice"),
    replace: bool = typer.Option(False, "--replace", help="替换已导入的年度 · replace a year already imported"),
) -> None:
    """Import one year's holidays and make-up working days; a bad file is refused whole."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        _fail(domain.CalendarImportInvalid("文件须为 UTF-8 编码", "The file must be UTF-8 encoded"))
    try:
        with transaction() as session:
            year = service.import_csv(session, text, source=source, replace=replace)
    except Problem as problem:
        _fail(problem)
    console.print(f"已导入{year.year}年工作日历：放假{year.holidays}天，调休上班{year.makeup_workdays}天（来源：{escape(year.source)}）")
    console.print(f"Imported the {year.year} calendar: {year.holidays} holidays, {year.makeup_workdays} make-up working days")


@calendar_app.command("check")
def check(
    strict: bool = typer.Option(False, "--strict", help="缺少年度时以状态码 1 退出 · exit 1 when a year is missing"),
    as_of: str = typer.Option("", "--as-of", help="按某日检查（YYYY-MM-DD，默认今天，北京时间）· check as of a date"),
) -> None:
    """List the covered years and warn when this year's or next year's schedule is missing."""
    try:
        today = dt.date.fromisoformat(as_of) if as_of else today_cst()
    except ValueError:
        console.print(f"[red]错误：日期“{escape(as_of)}”无效 · Error: {escape(as_of)!r} is not a YYYY-MM-DD date[/red]")
        raise typer.Exit(2) from None
    with transaction() as session:
        years = service.year_summaries(session)
        missing = service.missing_years(session, today=today)
    console.print("已导入的工作日历 · covered years:")
    for y in years:
        console.print(f"  {y.year}  放假 {y.holidays} 天 · {y.holidays} holidays, 调休上班 {y.makeup_workdays} 天 · "
                      f"{y.makeup_workdays} make-up days  来源 · source: {escape(y.source)}  "
                      f"导入 · imported {y.imported_at.astimezone(CST).strftime('%Y-%m-%d %H:%M')}", soft_wrap=True)
    for year in missing:
        console.print(f"[yellow]警告：{year}年工作日历未导入；落在{year}年的工作日期限将无法计算。"
                      "国务院办公厅通知发布后请运行 openzone calendar import。[/yellow]")
        console.print(f"[yellow]Warning: the {year} working-day calendar has not been imported; deadlines in {year} "
                      "cannot be computed. Run openzone calendar import once the State Council notice is out.[/yellow]")
    if not missing:
        console.print(f"{today.year}年和{today.year + 1}年均已覆盖 · {today.year} and {today.year + 1} are covered")
    elif strict:
        raise typer.Exit(1)


@calendar_app.command("days")
def days(year: int) -> None:
    """List a covered year's holidays and make-up working days."""
    try:
        with transaction() as session:
            rows = service.special_days(session, year)
    except Problem as problem:
        _fail(problem)
    table = Table(title=f"{year}年工作日历 · the {year} calendar")
    for column in ("日期 · date", "星期 · weekday", "类型 · kind", "名称 · name"):
        table.add_column(column)
    for d in rows:
        zh, en = domain.DAY_KIND_LABELS[d.kind]
        table.add_row(d.day.isoformat(), "一二三四五六日"[d.day.weekday()], f"{zh} · {en}",
                      escape(" · ".join(n for n in (d.name_zh, d.name_en) if n)))
    console.print(table)
