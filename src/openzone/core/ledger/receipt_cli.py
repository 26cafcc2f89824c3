"""The `openzone verify RECEIPT` command: check a receipt offline against keys the user supplies or has pinned."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from openzone.core.ledger import receipt
from openzone.core.ledger.receipt import ReceiptError, Verdict

# soft_wrap: hashes and keys stay on one line, to be compared or copied whole.
console = Console(highlight=False, soft_wrap=True)


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read(receipt.MAX_RECEIPT_BYTES + 1)
    with Path(path).open("rb") as fh:
        return fh.read(receipt.MAX_RECEIPT_BYTES + 1)


def _refuse(zh: str, en: str) -> None:
    console.print("[red bold]收据无效 · The receipt is NOT valid[/red bold]")
    console.print(f"[red]原因：{escape(zh)}[/red]")
    console.print(f"[red]Reason: {escape(en)}[/red]")
    raise typer.Exit(1)


def _show(verdict: Verdict) -> None:
    fields = verdict.fields
    console.print("[green bold]收据有效 · The receipt is valid[/green bold]")
    rows = [
        ("事件类型 · event type", fields.type),
        ("记录时间 · time", fields.time),
        ("操作机构 · actor organisation", fields.actor or "—"),
        *((f"文件摘要 · digest {name}", value) for name, value in sorted(fields.digests.items())),
        *((f"承诺值 · commitment {name}", value) for name, value in sorted(fields.commitments.items())),
        ("叶哈希 · leaf hash", verdict.leaf_hash.hex()),
        ("叶索引 · leaf index", str(verdict.index)),
        ("检查点 · checkpoint", f"{verdict.origin}, 树大小 · size {verdict.size}"),
        ("根哈希 · root hash", verdict.root.hex()),
        ("账本签名 · signed by", verdict.log_key),
        ("见证人联署 · cosigned by", ", ".join(f"{c.name} ({c.time:%Y-%m-%d %H:%M:%S} UTC)" for c in verdict.cosigners) or "—"),
        ("法定人数 · quorum", f"{verdict.quorum} / {verdict.witnesses}"),
    ]
    for label, value in rows:
        console.print(f"  {label}: {escape(value)}")


def verify(
    receipt_file: str = typer.Argument(..., metavar="RECEIPT", help="收据文件（- 表示标准输入）· receipt file, - for stdin"),
    key: list[str] = typer.Option([], "--key", help="信任的验证密钥（vkey），可重复 · a trusted vkey; repeatable"),
    keys_file: list[Path] = typer.Option([], "--keys-file", exists=True, dir_okay=False,
                                         help="每行一个 vkey 的文件（# 开头为注释）· file of vkeys, one a line"),
    quorum: int | None = typer.Option(None, "--quorum", min=0,
                                      help="至少需要的见证人联署数（默认：所给的全部见证人）· witnesses required (default: all given)"),
    origin: str | None = typer.Option(None, "--origin", help="要求的检查点来源 · the log origin to require"),
) -> None:
    """Check a receipt offline: log signature and witness quorum with your keys, then the entry's inclusion proof."""
    try:
        keys = receipt.parse_keys("\n".join(key))
        for path in keys_file:
            keys += [k for k in receipt.parse_keys(path.read_text(encoding="utf-8")) if k not in keys]
        log_keys, witness_keys = receipt.split_keys(keys)
        data = _read(receipt_file)
        verdict = receipt.verify_receipt(data, log_keys=log_keys, witness_keys=witness_keys, quorum=quorum, origin=origin)
    except ReceiptError as exc:
        _refuse(exc.zh, exc.en)
    except (OSError, UnicodeDecodeError) as exc:
        _refuse(f"无法读取文件：{exc}", f"Cannot read the file: {exc}")
    _show(verdict)
