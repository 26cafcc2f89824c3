"""Search commands: list indexes, rebuild one with a progress bar, try a query."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from openzone.core.search import service
from openzone.db import transaction
from openzone.kit.errors import Problem

console = Console()
search_app = typer.Typer(help="全文检索 · Full-text search", no_args_is_help=True)


def fail(problem: Problem) -> None:
    """Print a problem in both languages and exit with status 1."""
    console.print(f"[red]错误：{problem.detail or problem.title}[/red]")
    console.print(f"[red]Error: {problem.detail_en or problem.title_en}[/red]")
    raise typer.Exit(1)


@search_app.command("indexes")
def indexes() -> None:
    """List the registered indexes and how many documents each holds."""
    with transaction() as session:
        for name in service.registered_indexes():
            console.print(f"{name}\t{service.count_documents(session, index=name)}")


@search_app.command("reindex")
def reindex(name: str = typer.Argument(..., help="索引名 · index name")) -> None:
    """Rebuild an index from its records in one transaction, with a progress bar."""
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task(f"重建索引 · reindexing {name}", total=None)
            with transaction() as session:
                count = service.reindex(session, index=name, progress=lambda n: progress.update(task, completed=n))
    except Problem as problem:
        fail(problem)
    console.print(f"已索引 · indexed {count} 篇文档 · documents")


@search_app.command("query")
def query(name: str = typer.Argument(..., help="索引名 · index name"),
          text: str = typer.Argument("", help="检索式 · query"),
          page: int = typer.Option(1), per_page: int = typer.Option(10)) -> None:
    """Run a query against an index and print the keys, scores and highlighted titles."""
    try:
        with transaction() as session:
            results = service.search(session, index=name, query=text, page=page, per_page=per_page)
    except Problem as problem:
        fail(problem)
    console.print(f"共 {results.total} 条 · {results.total} results ({results.mode})")
    for hit in results.hits:
        first = next(iter(hit.highlights.values()), "")
        console.print(f"{hit.score:8.3f}  {hit.key}  {first}", markup=False)
