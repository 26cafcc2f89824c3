"""The `openzone` command: set up, serve, run the worker, load demo data, administer."""

from __future__ import annotations

import signal
import time

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import OperationalError

from openzone.config import get_settings
from openzone.core.calendar.cli import calendar_app
from openzone.core.consent.cli import consent_app
from openzone.core.identity.cli import org_app, token_app, user_app
from openzone.core.ledger.cli import ledger_app
from openzone.core.ledger.receipt_cli import verify as verify_receipt
from openzone.core.ledger.witness_cli import witness_app
from openzone.core.notify.cli import notify_app
from openzone.core.search.cli import search_app
from openzone.services.e_license.cli import e_license_app
from openzone.services.standards.cli import standards_app
from openzone.services.trade_vault.cli import trade_vault_app

console = Console()
app = typer.Typer(help="OpenZone 开放区公共服务平台 · command line", no_args_is_help=True)
db_app = typer.Typer(help="数据库 · Database", no_args_is_help=True)
demo_app = typer.Typer(help="演示数据 · Demo data", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(calendar_app, name="calendar")
app.add_typer(notify_app, name="notify")
app.add_typer(ledger_app, name="ledger")
app.command("verify")(verify_receipt)
app.add_typer(witness_app, name="witness")
app.add_typer(search_app, name="search")
app.add_typer(consent_app, name="consent")
app.add_typer(standards_app, name="standards")
app.add_typer(e_license_app, name="e-license")
app.add_typer(trade_vault_app, name="trade-vault")


def load_modules() -> None:
    """Import every module that registers jobs, so the worker knows all job kinds."""
    from openzone.app import create_app

    create_app()


@app.command()
def init() -> None:
    """Create ./var with its secrets and migrate the database to the newest schema."""
    from openzone import migrate
    from openzone.core import calendar
    from openzone.db import transaction

    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    for name in ("data", "index", "session"):
        settings.secret(name)
    migrate.upgrade()
    with transaction() as session:
        calendar.seed_from_package(session)
    console.print(f"数据库已就绪 · database ready: {settings.resolved_database_url.split('@')[-1]}")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Migrate the database (to head by default)."""
    from openzone import migrate

    migrate.upgrade(revision=revision)
    console.print(f"数据库已迁移到 · migrated to {revision}")


@demo_app.command("load")
def demo_load() -> None:
    """Load demo organisations and people (idempotent) and print the demo logins."""
    from openzone import demo
    from openzone.db import transaction

    with transaction() as session:
        logins = demo.load(session)
    # Plain lines, not a table: e-mail addresses must stay whole to be copied into the sign-in form.
    print(f"演示账号 · demo logins (密码 · password: {demo.DEMO_PASSWORD})")
    for login in logins:
        print(f"  {login.email:<30} {login.role:<15} {login.name}  {login.org}")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1, reload: bool = False) -> None:
    """Serve the site and API with Uvicorn."""
    import uvicorn

    uvicorn.run("openzone.app:create_app", factory=True, host=host, port=port, workers=workers, reload=reload,
                proxy_headers=True, log_level="warning")


@app.command()
def worker(once: bool = typer.Option(False, help="do one round and exit"),
           batch: int = typer.Option(10, help="jobs per round")) -> None:
    """Run timed work: deliveries, deadlines, reminders and checkpoints."""
    from openzone.core import jobs
    from openzone.db import transaction

    load_modules()
    worker_id = jobs.worker_name()
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.print(f"worker {worker_id} 已启动 · started ({', '.join(jobs.registered_kinds())})")
    poll = get_settings().worker_poll_seconds
    while not stopping:
        try:
            done = jobs.run_once(transaction, worker_id, limit=batch)
        except OperationalError as exc:
            # A lost connection (a database restart) or a lock timeout rolls the round back whole; try again.
            if once:
                raise
            console.print(f"[yellow]数据库暂不可用，稍后重试 · database unavailable, retrying: "
                          f"{escape(str(exc.orig or exc).splitlines()[0])}[/yellow]")
            time.sleep(max(poll, 1.0))
            continue
        if once:
            break
        if done == 0:
            time.sleep(poll)
    console.print(f"worker {worker_id} 已停止 · stopped")


def _problem_exit(problem) -> None:
    """Print a problem in both languages, without a traceback, and exit with status 1."""
    console.print(f"[red]错误：{problem.detail or problem.title}[/red]")
    console.print(f"[red]Error: {problem.detail_en or problem.title_en}[/red]")
    raise typer.Exit(1)


@app.command()
def backup(out: str = typer.Option("", "--out", help="备份文件路径 · archive path (default: var/backups/openzone-<time>.tar.gz)")) -> None:
    """Write one .tar.gz holding a consistent copy of the database and the ./var files."""
    from openzone import backup as backups
    from openzone.kit.errors import Problem

    try:
        with backups.ProgressReport(console) as report:
            path, manifest = backups.create(out or None, report=report)
    except Problem as problem:
        _problem_exit(problem)
    console.print(f"备份已写入 · backup written: {path}")
    console.print(f"数据库 · database: {manifest.database}, 版本 · revision: {manifest.alembic_revision}, "
                  f"文件 · files: {len(manifest.files)}")


@app.command()
def restore(file: str = typer.Argument(..., help="备份文件 · the .tar.gz made by openzone backup"),
            yes: bool = typer.Option(False, "--yes", help="不再确认 · do not ask for confirmation")) -> None:
    """Check a backup's hashes, then replace the database and ./var files with its contents."""
    from openzone import backup as backups
    from openzone import migrate
    from openzone.kit.errors import Problem

    try:
        with backups.ProgressReport(console) as report:
            unpacked = backups.unpack(file, report=report)
        with unpacked:
            manifest = unpacked.manifest
            console.print(f"备份时间 · made at: {manifest.created_at}; 数据库 · database: {manifest.database}; "
                          f"版本 · revision: {manifest.alembic_revision}; 文件 · files: {len(manifest.files)}")
            if not yes and not typer.confirm("将覆盖当前数据库和 ./var 中的同名文件，是否继续？ · "
                                             "This replaces the database and the ./var files. Continue?"):
                console.print("已取消 · cancelled")
                raise typer.Exit(1)
            with backups.ProgressReport(console) as report:
                backups.apply(unpacked, report=report)
    except Problem as problem:
        _problem_exit(problem)
    console.print("恢复完成 · restore complete")
    if manifest.alembic_revision != migrate.head():
        console.print("请运行 openzone db upgrade 把数据库迁移到最新版本 · run openzone db upgrade to migrate the database")


def main() -> None:
    """Run the command line."""
    app()


if __name__ == "__main__":
    main()
