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
from sqlalchemy import select

from openzone.core.identity.models import Organisation
from openzone.db import transaction
from openzone.kit.errors import Problem
from openzone.services.trade_vault import domain, service

console = Console()
trade_vault_app = typer.Typer(help="数据资产保管箱 · Trade data-asset vault", no_args_is_help=True)


def _firm(ref: str) -> tuple[uuid.UUID, str]:
    """Find an active firm by id, credit code or name; exit with a clear message if there is none."""
    with transaction() as session:
        query = select(Organisation).where(Organisation.active.is_(True))
        try:
            org = session.scalar(query.where(Organisation.id == uuid.UUID(ref)))
        except ValueError:
            org = session.scalar(query.where((Organisation.uscc == ref) | (Organisation.name == ref)))
        if org is None:
            console.print(f"[red]找不到机构：{ref} · No organisation: {ref}[/red]", markup=True, highlight=False)
            raise typer.Exit(1)
        if org.kind != "enterprise":
            console.print(f"[red]{org.name} 不是企业，保管箱仅供企业使用 · {org.name} is not a firm[/red]")
            raise typer.Exit(1)
        return org.id, org.name


def _files(paths: list[Path]) -> list[Path]:
    """List the files to file: each file named, and every file under each folder named (hidden ones left out)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*"))
                         if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            found.append(path)
    return found


class _Reader:
    """Read the files lazily as uploads, unpacking ZIP batches; a ZIP refused as a whole is noted, not filed."""

    def __init__(self, files: list[Path], limits: domain.Limits) -> None:
        self.files, self.limits = files, limits
        self.refused: list[tuple[str, Problem]] = []

    def __iter__(self) -> Iterator[service.Upload]:
        for path in self.files:
            with path.open("rb") as handle:
                # A file larger than any accepted one is read only one byte past the limit: the checks refuse it.
                data = handle.read(self.limits.max_file_bytes + 1)
            if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
                try:
                    domain.sniff(data, path.name, self.limits)
                    members = domain.unpack_zip(data, self.limits)
                except Problem as problem:
                    self.refused.append((path.name, problem))
                    continue
                yield from (service.Upload(f"{path.name}/{m.name}", m.data) for m in members)
            else:
                yield service.Upload(path.name, data)


@trade_vault_app.command("import")
def import_(paths: list[Path] = typer.Argument(..., exists=True, help="文件、文件夹或 ZIP 压缩包 · files, folders or ZIP batches"),
            org: str = typer.Option(..., help="企业 id、统一社会信用代码或名称 · the firm: id, credit code or name"),
            processes: int = typer.Option(min(os.cpu_count() or 1, 8), min=0, max=16, show_default="CPU 核数 · CPU cores",
                                          help="解析进程数（0：在本进程解析）· worker processes that parse (0: none)"),
            batch: int = typer.Option(service.BULK_BATCH, min=1, max=5000, help="每批文件数 · files per committed batch"),
            report: Path | None = typer.Option(None, help="把未存档文件及原因写入此 CSV · write the refused files to this CSV")) -> None:
    """File a firm's documents in bulk: each batch committed on its own, so an interrupted run can be started again.

    Every file goes through the checks of an upload (type, size, XML and ZIP safety, business rules); a refused file
    is listed with its reason and leaves nothing behind. Files already on file are skipped.
    """
    org_id, name = _firm(org)
    files = _files(paths)
    reader = _Reader(files, domain.LIMITS)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task(f"存档 · filing for {name}", total=None)

        def step(done: service.BulkReport) -> None:
            progress.update(task, completed=done.filed + len(done.refused))

        done = service.file_bulk(org_id=org_id, uploads=reader, batch=batch, processes=processes, own_name=name,
                                 progress=step)
    refused = reader.refused + done.refused
    skipped = [(n, p) for n, p in refused if isinstance(p, service.DocumentExists)]
    failed = [(n, p) for n, p in refused if not isinstance(p, service.DocumentExists)]
    console.print(f"已存档 · filed {done.filed}，已在库跳过 · already on file {len(skipped)}，"
                  f"未存档 · refused {len(failed)}")
    for filename, problem in failed[:20]:
        console.print(f"  {filename}: {problem.detail or problem.title} · {problem.detail_en or problem.title_en}",
                      markup=False, highlight=False)
    if len(failed) > 20:
        console.print(f"  … 另有 {len(failed) - 20} 个 · and {len(failed) - 20} more", markup=False)
    if report is not None:
        with report.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["file", "problem", "detail", "detail_en"])
            for filename, problem in refused:
                writer.writerow([filename, problem.type, problem.detail or problem.title, problem.detail_en or problem.title_en])
    if failed:
        raise typer.Exit(1)
