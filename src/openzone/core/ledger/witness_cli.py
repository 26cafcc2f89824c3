"""Witness commands: make a witness key, run a witness, and register the log's witnesses and ask them to cosign."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from openzone.core.ledger import note, witness, witness_service
from openzone.db import transaction
from openzone.kit.errors import Problem
from openzone.kit.time import CST

console = Console()
witness_app = typer.Typer(help="透明账本见证方 · Transparency log witnesses", no_args_is_help=True)


def _fail(zh: str, en: str) -> None:
    console.print(f"[red]错误：{escape(zh)}[/red]")
    console.print(f"[red]Error: {escape(en)}[/red]")
    raise typer.Exit(1)


def _problem(problem: Problem) -> None:
    _fail(problem.detail or problem.title, problem.detail_en or problem.title_en)


@witness_app.command("keygen")
def keygen(name: str = typer.Argument(..., help="见证方名称，如 witness.court.example/w1 · witness name"),
           key: Path = typer.Option(Path("witness.skey"), "--key", help="私钥文件（不会覆盖已有文件）· private key file")) -> None:
    """Write a new witness private key to a file (mode 0600) and print its cosignature verifier key (type 0x04)."""
    try:
        signer, skey = note.generate_signer(name)
    except note.NoteError as exc:
        _fail(f"见证方名称无效：{exc}", f"The witness name is not valid: {exc}")
    try:
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _fail(f"{key} 已存在，不会覆盖", f"{key} exists and is not overwritten")
    with os.fdopen(fd, "w") as fh:
        fh.write(skey + "\n")
    print(note.as_cosigner(signer).vkey)


@witness_app.command("run")
def run(name: str = typer.Option(..., "--name", help="见证方名称（须与私钥中的名称一致）· witness name, as in the key"),
        key: Path = typer.Option(..., "--key", help="witness keygen 写出的私钥文件 · key file from witness keygen"),
        state: Path = typer.Option(..., "--state", help="见证状态文件（JSON）· state file"),
        log_vkey: list[str] = typer.Option(..., "--log-vkey", help="所见证账本的公钥，可重复 · a log's verifier key, repeatable"),
        host: str = typer.Option("127.0.0.1", "--host"),
        port: int = typer.Option(7380, "--port", min=0, max=65535, help="0 表示任选空闲端口 · 0 picks a free port")) -> None:
    """Serve C2SP tlog-witness POST /add-checkpoint until SIGTERM or SIGINT."""
    try:
        signer = note.parse_skey(key.read_text().strip())
    except OSError as exc:
        _fail(f"无法读取私钥文件：{exc}", f"Cannot read the key file: {exc}")
    except UnicodeDecodeError:
        _fail(f"私钥文件 {key} 不是 UTF-8 文本", f"The key file {key} is not UTF-8 text")
    except note.NoteError as exc:
        _fail(f"私钥文件无效：{exc}", f"The key file is not valid: {exc}")
    if signer.name != name:
        _fail(f"私钥属于“{signer.name}”，不是“{name}”", f"The key belongs to {signer.name!r}, not {name!r}")
    try:
        logs = witness.log_verifiers(log_vkey)
    except note.NoteError as exc:
        _fail(f"账本公钥无效：{exc}", f"A log key is not valid: {exc}")
    store = witness.StateFile(state)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        with store.exclusive():
            store.load()
            server = witness.serve(witness.Witness(signer, logs, store), host, port)
            thread = threading.Thread(target=server.serve_forever, name="witness-http", daemon=True)
            thread.start()
            bound_host, bound_port = server.server_address[:2]
            print(f"witness {name} listening on http://{bound_host}:{bound_port} · vkey {note.as_cosigner(signer).vkey} · "
                  f"logs {', '.join(sorted(logs))}", flush=True)
            stopping.wait()
            server.shutdown()
            server.server_close()
            thread.join()
    except witness.WitnessError as exc:
        _fail(f"见证状态不可用：{exc}", f"The witness state is not usable: {exc}")
    except OSError as exc:
        _fail(f"无法监听 {host}:{port}：{exc}", f"Cannot listen on {host}:{port}: {exc}")
    print(f"witness {name} stopped", flush=True)


@witness_app.command("add")
def add(name: str = typer.Argument(..., help="见证方名称 · witness name"),
        vkey: str = typer.Argument(..., help="见证方联署公钥（类型 0x04）· cosignature verifier key"),
        url: str = typer.Argument(..., help="见证方地址前缀，如 https://witness.example/ · submission URL prefix")) -> None:
    """Register a witness the log asks to cosign each new checkpoint."""
    try:
        with transaction() as session:
            row = witness_service.add_witness(session, name=name, vkey=vkey, url=url)
    except Problem as problem:
        _problem(problem)
    console.print(f"已登记见证方 · witness registered: {escape(row.name)} → {escape(row.url)}")


def _set_active(name: str, active: bool) -> None:
    try:
        with transaction() as session:
            witness_service.set_witness_active(session, name=name, active=active)
    except Problem as problem:
        _problem(problem)
    console.print(f"{'已启用 · enabled' if active else '已停用 · disabled'}: {escape(name)}")


@witness_app.command("enable")
def enable(name: str = typer.Argument(...)) -> None:
    """Ask a stopped witness to cosign again."""
    _set_active(name, True)


@witness_app.command("disable")
def disable(name: str = typer.Argument(...)) -> None:
    """Stop asking a witness to cosign; it no longer counts towards the quorum."""
    _set_active(name, False)


@witness_app.command("list")
def list_() -> None:
    """List the registered witnesses, their last cosigned size and last error, and the newest checkpoint's state."""
    with transaction() as session:
        view = witness_service.witness_overview(session)
        table = Table(title="见证方 · witnesses")
        for column in ("名称 · name", "地址 · url", "状态 · state", "已联署大小 · last size", "最近联署 · last cosigned",
                       "最近错误 · last error"):
            table.add_column(column)
        for row in view.witnesses:
            table.add_row(escape(row.name), escape(row.url), "active" if row.active else "disabled", str(row.last_size),
                          row.last_cosigned_at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S") if row.last_cosigned_at else "—",
                          escape(row.last_error_en or "") or "—")
        console.print(table)
        for row in view.witnesses:
            print(f"{row.name} {row.vkey}")
        if view.checkpoint is None:
            console.print("尚无检查点 · no checkpoint yet")
        else:
            needed = "—" if view.needed is None else str(view.needed)
            console.print(f"最新检查点 · newest checkpoint: {view.checkpoint.size}; 联署 · cosigned by "
                          f"{len(view.cosigners)}/{view.active}, 法定数 · quorum {needed}; "
                          f"{'已确定 · final' if view.checkpoint.final else '未确定 · not final'}")


@witness_app.command("cosign")
def cosign() -> None:
    """Ask every active witness now to cosign the newest checkpoint (the ledger.witness job does this every few seconds)."""
    try:
        with transaction() as session:
            report = witness_service.cosign_latest(session)
    except Problem as problem:
        _problem(problem)
    if report.size is None:
        console.print("尚无检查点 · no checkpoint yet")
        return
    for name in report.cosigned:
        console.print(f"已联署 · cosigned: {escape(name)}")
    for name, reason in report.refused.items():
        console.print(f"[yellow]未联署 · refused: {escape(name)}: {escape(reason)}[/yellow]")
    console.print(f"检查点 · checkpoint {report.size}: {len(report.cosigners)} 个联署 · cosignatures; "
                  f"{'已确定 · final' if report.final else '未确定 · not final'}")
