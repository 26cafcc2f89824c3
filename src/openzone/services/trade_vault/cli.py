"""Trade vault commands: file a firm's documents in bulk from folders and ZIP batches, with a progress bar."""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from openzone.core import identity
from openzone.db import transaction
from openzone.kit.errors import Problem, problem
from openzone.services.trade_vault import domain, service

console = Console()
trade_vault_app = typer.Typer(help="数据资产保管箱 · Trade data-asset vault", no_args_is_help=True)


Unreadable = problem("trade-vault-file-unreadable", 422, "无法读取文件", "The file cannot be read")


def _firm(ref: str) -> tuple[uuid.UUID, str]:
    """Find the one active firm with this id, credit code or name; exit with a clear message otherwise."""
    with transaction() as session:
        try:
            org = identity.find_organisation(session, ref)
        except Problem as refused:
            console.print(f"[red]{refused.detail} · {refused.detail_en}[/red]", highlight=False)
            raise typer.Exit(1) from refused
        if not org.active:
            console.print(f"[red]{org.name} 已停用 · {org.name} is deactivated[/red]", highlight=False)
            raise typer.Exit(1)
        if org.kind != "enterprise":
            console.print(f"[red]{org.name} 不是企业，保管箱仅供企业使用 · {org.name} is not a firm[/red]", highlight=False)
            raise typer.Exit(1)
        return org.id, org.name


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def _files(paths: list[Path]) -> list[tuple[Path, str]]:
    """List the files to file with the names they are reported by: each file named, and every file under each
    folder named, by its path inside that folder (hidden files and folders left out, symlinked folders not followed)."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            found.extend((p, str(Path(path.name) / p.relative_to(path))) for p in sorted(path.rglob("*"))
                         if p.is_file() and not _hidden(p.relative_to(path).parts))
        else:
            found.append((path, str(path)))
    return found


class _Reader:
    """Read the files lazily as uploads, unpacking ZIP batches; a file refused as a whole is noted, not filed."""

    def __init__(self, files: list[tuple[Path, str]], limits: domain.Limits) -> None:
        self.files, self.limits = files, limits
        self.refused: list[tuple[str, Problem]] = []

    def __iter__(self) -> Iterator[service.Upload]:
        for path, name in self.files:
            try:
                if not path.is_file():
                    raise OSError("not a regular file")
                with path.open("rb") as handle:
                    # A file larger than any accepted one is read one byte past the limit: the checks refuse it.
                    data = handle.read(self.limits.max_file_bytes + 1)
            except OSError as exc:
                self.refused.append((name, Unreadable(f"无法读取：{exc}", f"Cannot read it: {exc}",
                                                      errors=[{"field": "file", "code": "unreadable"}])))
                continue
            if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
                try:
                    domain.sniff(data, path.name, self.limits)
                    members = domain.unpack_zip(data, self.limits)
                except Problem as refused:
                    self.refused.append((name, refused))
                    continue
                yield from (service.Upload(f"{name}/{m.name}", m.data) for m in members
                            if not _hidden(tuple(m.name.split("/"))))
            else:
                yield service.Upload(name, data)


@trade_vault_app.command("import")
def import_(paths: list[Path] = typer.Argument(..., exists=True, help="文件、文件夹或 ZIP 压缩包 · files, folders or ZIP batches"),
            org: str = typer.Option(..., help="企业 id、统一社会信用代码或名称 · the firm: id, credit code or name"),
            processes: int = typer.Option(min(os.cpu_count() or 1, 8), min=0, max=8, show_default="CPU 核数 · CPU cores",
                                          help="解析进程数（0：在本进程解析）· worker processes that parse (0: none)"),
            batch: int = typer.Option(service.BULK_BATCH, min=1, max=5000, help="每批文件数 · files per committed batch"),
            report: Path | None = typer.Option(None, help="把未存档文件及原因写入此 CSV · write the refused files to this CSV")) -> None:
    """File a firm's documents in bulk: each batch committed on its own, so an interrupted run can be started again.

    Every file goes through the checks of an upload (type, size, XML, JSON and ZIP safety, business rules); a refused
    file is listed with its reason and leaves nothing behind. Files already on file are skipped.
    """
    org_id, name = _firm(org)
    if report is not None:
        try:
            report.open("w", encoding="utf-8").close()  # refuse a report path that cannot be written before the work
        except OSError as exc:
            console.print(f"[red]无法写入报告 · cannot write the report: {exc}[/red]", highlight=False)
            raise typer.Exit(2) from exc
    files = _files(paths)
    if not files:
        console.print("[red]没有可存档的文件 · no files to file[/red]")
        raise typer.Exit(1)
    reader = _Reader(files, domain.LIMITS)
    done = service.BulkReport()
    finished = False
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task(f"存档 · filing for {name}", total=None)

            def step(so_far: service.BulkReport) -> None:
                nonlocal done
                done = so_far
                progress.update(task, completed=so_far.filed + len(so_far.refused))

            done = service.file_bulk(org_id=org_id, uploads=reader, batch=batch, processes=processes, own_name=name,
                                     progress=step)
        finished = True
    finally:
        failed = _summary(reader.refused + done.refused, done.filed, report)
        if not finished:
            console.print("[yellow]未完成：已提交的批次已存档，再次运行同一命令即可继续 · stopped: the committed batches are "
                          "on file; run the same command again to go on[/yellow]")
    if failed:
        raise typer.Exit(1)


def _summary(refused: list[tuple[str, Problem]], filed: int, report: Path | None) -> int:
    """Print what was filed, skipped and refused, write the report; return how many were refused."""
    skipped = [(n, p) for n, p in refused if isinstance(p, service.DocumentExists)]
    failed = [(n, p) for n, p in refused if not isinstance(p, service.DocumentExists)]
    console.print(f"已存档 · filed {filed}，已在库跳过 · already on file {len(skipped)}，未存档 · refused {len(failed)}")
    for filename, why in failed[:20]:
        console.print(f"  {filename}: {why.detail or why.title} · {why.detail_en or why.title_en}",
                      markup=False, highlight=False)
    if len(failed) > 20:
        console.print(f"  … 另有 {len(failed) - 20} 个 · and {len(failed) - 20} more", markup=False)
    if report is not None:
        with report.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["file", "problem", "detail", "detail_en"])
            for filename, why in refused:
                writer.writerow([filename, why.type, why.detail or why.title, why.detail_en or why.title_en])
    return len(failed)
