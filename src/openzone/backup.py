"""Back up and restore a deployment: one .tar.gz with a consistent copy of the database and the ./var files.

Archive layout (format "openzone-backup", version 1):

    manifest.json                  what is inside, with the SHA-256 and size of every other member
    database/openzone.sqlite3      SQLite: a copy made with the online backup API (journal_mode=DELETE)
    database/openzone.pgdump       PostgreSQL: `pg_dump --format=custom`
    var/<path>                     every regular file under var_dir except the live SQLite files and backups/

The hashes catch a damaged or foreign archive; they do not stop someone who rewrites the manifest as well,
so archives are kept where only operators can write.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from openzone import migrate
from openzone.config import get_settings
from openzone.db import get_engine, reset_engines
from openzone.kit.errors import problem
from openzone.kit.files import fsync_path
from openzone.kit.time import rfc3339, utcnow

FORMAT = "openzone-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE_MEMBERS = {"sqlite": "database/openzone.sqlite3", "postgresql": "database/openzone.pgdump"}
BACKUPS_DIR = "backups"
# Work folders this module makes inside var_dir; never part of a backup.
WORK_PREFIX = ".openzone-"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
CHUNK = 1024 * 1024
_MEMBER_RE = re.compile(r"^(database|var)/[^\x00-\x1f\\]+$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_REVISION = re.compile(r"^[0-9A-Za-z_]{1,64}$")

BackupInvalid = problem("backup-invalid", 422, "备份文件无效", "The backup file is not valid")
BackupRefused = problem("backup-refused", 409, "无法在此恢复该备份", "This backup cannot be restored here")
BackupFailed = problem("backup-failed", 502, "备份或恢复未能完成", "The backup or restore did not complete")

# report(step, done, total): a step's progress in bytes; total is None while unknown.
Report = Callable[[str, int, int | None], None]

STEP_DATABASE = "复制数据库 · copying the database"
STEP_VAR = "复制 ./var 文件 · copying ./var"
STEP_WRITE = "写入备份文件 · writing the archive"
STEP_READ = "读取并校验备份 · reading and checking the archive"
STEP_RESTORE_DB = "恢复数据库 · restoring the database"
STEP_RESTORE_VAR = "恢复 ./var 文件 · restoring ./var"


def _quiet(step: str, done: int, total: int | None) -> None:
    """Report nothing: the default when no progress bar is shown."""


@dataclass(frozen=True)
class Manifest:
    """Describe an archive: when it was made, from which schema revision and database, and its files."""

    created_at: str
    alembic_revision: str | None
    database: str
    files: dict[str, dict[str, Any]]

    def to_json(self) -> bytes:
        """Return manifest.json's bytes."""
        body = {"format": FORMAT, "version": FORMAT_VERSION, "created_at": self.created_at,
                "alembic_revision": self.alembic_revision,
                "database": {"kind": self.database, "file": DATABASE_MEMBERS[self.database]}, "files": self.files}
        return json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


class ProgressReport:
    """Show each step of a backup or restore as a Rich progress bar (use as a context manager)."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  DownloadColumn(binary_units=True), TimeElapsedColumn(), console=console)
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ProgressReport:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def __call__(self, step: str, done: int, total: int | None) -> None:
        if step not in self._tasks:
            self._tasks[step] = self._progress.add_task(step, total=total)
        self._progress.update(self._tasks[step], completed=done, total=total)


# --- where things are ---

def database_kind(url: str) -> str:
    """Return "sqlite" or "postgresql" for a database URL; other databases cannot be backed up."""
    name = make_url(url).get_backend_name()
    if name in DATABASE_MEMBERS:
        return name
    raise BackupRefused(f"不支持备份此类数据库：{name}", f"Databases of kind {name} cannot be backed up")


def sqlite_path(url: str) -> Path:
    """Return the file of a SQLite database URL."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupRefused("只能备份文件形式的 SQLite 数据库", "Only a SQLite database in a plain file can be backed up")
    return Path(database).resolve()


def default_archive(var_dir: Path) -> Path:
    """Return var_dir/backups/openzone-<UTC time>.tar.gz."""
    return var_dir / BACKUPS_DIR / f"openzone-{utcnow().strftime('%Y%m%dT%H%M%SZ')}.tar.gz"


def pg_tool(name: str) -> str:
    """Find pg_dump or pg_restore: the newest under /usr/lib/postgresql/*/bin, else on PATH."""
    # A newer pg_dump reads older servers; an older one refuses a newer server.
    installed = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                       key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parts[-3].split(".")])
    found = installed[-1] if installed else shutil.which(name)
    if not found:
        raise BackupFailed(f"找不到 {name}，请安装 PostgreSQL 客户端", f"{name} was not found; install the PostgreSQL client")
    return found


def _pg_command(url: str) -> tuple[list[str], dict[str, str]]:
    parsed: URL = make_url(url)
    args = ["--no-password"]
    host = parsed.host or parsed.query.get("host")
    if host:
        args += ["-h", str(host)]
    if parsed.port:
        args += ["-p", str(parsed.port)]
    if parsed.username:
        args += ["-U", parsed.username]
    if parsed.database:
        args += ["-d", parsed.database]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)  # never on the command line, where ps would show it
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name"):
        if key in parsed.query:
            env["PG" + key.upper().replace("_", "")] = str(parsed.query[key])
    return args, env


def _run(command: list[str], env: dict[str, str], what_zh: str, what_en: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip()[-800:]
        raise BackupFailed(f"{what_zh}失败：{tail}", f"{what_en} failed: {tail}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- backup ---

def _copy_sqlite(source: Path, dest: Path, report: Report) -> str | None:
    if not source.is_file():
        raise BackupFailed(f"数据库文件不存在：{source}（请先运行 openzone init）",
                           f"The database file {source} does not exist (run openzone init first)")
    size = source.stat().st_size
    report(STEP_DATABASE, 0, None)
    # mode=rw: never create an empty database where the real one is missing.
    src = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=30)
    dst = sqlite3.connect(dest)
    try:
        # One step (pages=-1) reads a single snapshot: a stepwise copy restarts whenever the app writes.
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupFailed(f"数据库自检未通过：{check}", f"The database failed its integrity check: {check}")
        try:
            revision = dst.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            revision = None
    finally:
        dst.close()
        src.close()
    report(STEP_DATABASE, size, size)
    return revision[0] if revision else None


def _dump_postgres(url: str, dest: Path, report: Report) -> str | None:
    report(STEP_DATABASE, 0, None)
    try:
        with get_engine().connect() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        revision = None
    args, env = _pg_command(url)
    _run([pg_tool("pg_dump"), "--format=custom", f"--file={dest}", *args], env, "导出数据库", "pg_dump")
    size = dest.stat().st_size
    report(STEP_DATABASE, size, size)
    return revision


def _var_files(var_dir: Path, skip: set[Path]) -> list[tuple[str, Path]]:
    if not var_dir.is_dir():
        return []
    root = var_dir.resolve()
    out = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if d != BACKUPS_DIR and not d.startswith(WORK_PREFIX)]
        for name in files:
            path = here / name
            if path in skip or path.is_symlink() or not path.is_file():
                continue
            out.append((path.relative_to(root).as_posix(), path))
    return sorted(out)


def create(out: Path | str | None = None, *, report: Report = _quiet) -> tuple[Path, Manifest]:
    """Write a backup archive of the configured database and ./var; return its path and manifest."""
    settings = get_settings()
    url = settings.resolved_database_url
    kind = database_kind(url)
    target = Path(out).resolve() if out else default_archive(settings.var_dir).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    skip = {target}
    if kind == "sqlite":
        db = sqlite_path(url)
        skip |= {db, *(db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal"))}
    var_files = _var_files(settings.var_dir, skip)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=WORK_PREFIX + "backup-") as tmp:
        stage = Path(tmp)
        db_member = DATABASE_MEMBERS[kind]
        (stage / db_member).parent.mkdir(parents=True)
        if kind == "sqlite":
            revision = _copy_sqlite(sqlite_path(url), stage / db_member, report)
        else:
            revision = _dump_postgres(url, stage / db_member, report)
        members = [db_member]
        total = sum(p.stat().st_size for _, p in var_files if p.exists())
        done = 0
        for rel, path in var_files:
            dest = stage / "var" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copy2(path, dest)
            except FileNotFoundError:
                continue  # removed while we walked, e.g. a key's temporary file
            members.append(f"var/{rel}")
            done += dest.stat().st_size
            report(STEP_VAR, done, total)
        files = {m: {"sha256": _sha256(stage / m), "size": (stage / m).stat().st_size} for m in members}
        manifest = Manifest(created_at=rfc3339(utcnow()), alembic_revision=revision, database=kind, files=files)
        partial = target.with_name(target.name + ".partial")
        _write_tar(partial, stage, manifest, report)
        os.replace(partial, target)
    return target, manifest


def _write_tar(path: Path, stage: Path, manifest: Manifest, report: Report) -> None:
    now = int(time.time())
    total = sum(f["size"] for f in manifest.files.values())
    done = 0
    with tarfile.open(path, "w:gz", compresslevel=6) as tar:
        raw = manifest.to_json()
        tar.addfile(_info(MANIFEST, len(raw), 0o600, now), _BytesReader(raw))
        for member in sorted(manifest.files):
            source = stage / member
            with source.open("rb") as fh:
                tar.addfile(_info(member, manifest.files[member]["size"], source.stat().st_mode & 0o777, now), fh)
            done += manifest.files[member]["size"]
            report(STEP_WRITE, done, total)
        report(STEP_WRITE, total, total)
    os.chmod(path, 0o600)  # it holds the secrets


def _info(name: str, size: int, mode: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode, mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        chunk = self._data[self._pos:end]
        self._pos += len(chunk)
        return chunk


# --- restore ---

@dataclass
class Unpacked:
    """Hold a checked archive's files in a work folder until they are applied (use as a context manager)."""

    manifest: Manifest
    stage: Path
    modes: dict[str, int] = field(default_factory=dict)
    _tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Unpacked:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        """Delete the work folder."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _foreign() -> BackupInvalid:
    return BackupInvalid("这不是 OpenZone 备份文件（缺少有效的 manifest.json）",
                         "This is not an OpenZone backup (no valid manifest.json)")


def _parse_manifest(raw: bytes) -> Manifest:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _foreign() from exc
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise _foreign()
    if body.get("version") != FORMAT_VERSION:
        raise BackupInvalid(f"不支持的备份格式版本：{body.get('version')}", f"Unsupported backup format version {body.get('version')}")
    database, files = body.get("database"), body.get("files")
    revision, created_at = body.get("alembic_revision"), body.get("created_at")
    well_formed = (
        isinstance(database, dict) and database.get("kind") in DATABASE_MEMBERS
        and database.get("file") == DATABASE_MEMBERS[database["kind"]]
        and isinstance(files, dict) and database["file"] in files
        and all(isinstance(name, str) and _safe_member(name) and isinstance(info, dict) and isinstance(info.get("sha256"), str)
                and _HEX64.match(info["sha256"]) and type(info.get("size")) is int for name, info in files.items())
        and (revision is None or (isinstance(revision, str) and _REVISION.match(revision)))
        and isinstance(created_at, str)
    )
    if not well_formed:
        raise BackupInvalid("备份清单 manifest.json 格式不正确", "The backup's manifest.json is malformed")
    return Manifest(created_at=created_at, alembic_revision=revision, database=database["kind"], files=files)


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(_MEMBER_RE.match(name)) and ".." not in path.parts and path.as_posix() == name


def _copy_hashing(src: BinaryIO, dest: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with dest.open("wb") as out:
        for chunk in iter(lambda: src.read(CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def unpack(archive: Path | str, *, report: Report = _quiet) -> Unpacked:
    """Read an archive into a work folder and check every hash; refuse a corrupt or foreign one."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupInvalid(f"找不到备份文件：{archive}", f"No backup file at {archive}")
    var_dir = get_settings().var_dir
    var_dir.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.TemporaryDirectory(dir=var_dir, prefix=WORK_PREFIX + "restore-")
    try:
        manifest, modes = _extract(archive, Path(tmp.name), database_kind(get_settings().resolved_database_url), report)
    except BaseException:
        tmp.cleanup()
        raise
    return Unpacked(manifest=manifest, stage=Path(tmp.name), modes=modes, _tmp=tmp)


def _extract(archive: Path, stage: Path, kind: str, report: Report) -> tuple[Manifest, dict[str, int]]:
    seen: dict[str, tuple[str, int]] = {}
    modes: dict[str, int] = {}
    total = archive.stat().st_size
    try:
        with archive.open("rb") as fh, tarfile.open(fileobj=fh, mode="r:gz") as tar:
            # create() writes manifest.json first, so a foreign archive is refused before anything is unpacked.
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile() or first.size > MAX_MANIFEST_BYTES:
                raise _foreign()
            manifest = _parse_manifest(tar.extractfile(first).read())
            _check_target(manifest, kind)
            while (member := tar.next()) is not None:
                name = member.name
                if member.isdir() and (name.rstrip("/") in ("database", "var") or _safe_member(name.rstrip("/"))):
                    continue  # an archive repacked with tar(1) lists folders too
                if not member.isfile() or not _safe_member(name) or name not in manifest.files or name in seen:
                    raise BackupInvalid(f"备份中含有清单之外或不允许的条目：{name!r}",
                                        f"The archive holds an entry its manifest does not list or allow: {name!r}")
                dest = stage / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                seen[name] = _copy_hashing(tar.extractfile(member), dest)
                modes[name] = member.mode & 0o777
                report(STEP_READ, min(fh.tell(), total), total)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BackupInvalid("备份文件已损坏或不是 .tar.gz 压缩包",
                            "The backup file is damaged or is not a .tar.gz archive") from exc
    missing = sorted(set(manifest.files) - set(seen))
    if missing:
        names = ", ".join(missing)
        raise BackupInvalid(f"备份缺少清单所列的文件：{names}", f"The archive lacks files its manifest lists: {names}")
    for name, info in sorted(manifest.files.items()):
        if seen[name] != (info["sha256"], info["size"]):
            raise BackupInvalid(f"文件 {name} 的校验值不符，备份已损坏或被改动",
                                f"The hash of {name} does not match: the backup is damaged or altered")
    report(STEP_READ, total, total)
    return manifest, modes


def _check_target(manifest: Manifest, kind: str) -> None:
    if manifest.database != kind:
        raise BackupRefused(f"备份来自 {manifest.database} 数据库，当前配置的是 {kind}，不能直接恢复",
                            f"The backup holds a {manifest.database} database but this deployment uses {kind}")
    if manifest.alembic_revision is not None:
        script = ScriptDirectory.from_config(migrate.alembic_config())
        try:
            found = script.get_revision(manifest.alembic_revision)
            known = found is not None and found.revision == manifest.alembic_revision
        except CommandError:
            known = False
        if not known:
            raise BackupRefused(f"备份的数据库版本 {manifest.alembic_revision} 比本程序新，请先升级 OpenZone",
                                f"The backup's schema revision {manifest.alembic_revision} is newer than this "
                                "OpenZone; upgrade it first")


def _replace_sqlite(staged: Path, target: Path, report: Report) -> None:
    size = staged.stat().st_size
    report(STEP_RESTORE_DB, 0, size)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        # Leaving WAL mode needs the only connection: it checkpoints and removes the -wal file, so
        # no log of the old database is left to be replayed into the new one.
        try:
            conn = sqlite3.connect(f"file:{target}?mode=rw", uri=True, timeout=2)
            try:
                conn.execute("PRAGMA journal_mode=DELETE").fetchone()
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            raise BackupRefused("数据库正在被使用，请先停止 openzone serve 和 openzone worker 再恢复",
                                "The database is in use; stop openzone serve and openzone worker, then restore") from exc
    tmp = target.with_name(f"{target.name}.restore-{os.getpid()}.tmp")
    shutil.copyfile(staged, tmp)
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            target.with_name(target.name + suffix).unlink()
    fsync_path(target.parent)
    report(STEP_RESTORE_DB, size, size)


def _restore_postgres(url: str, dump: Path, report: Report) -> None:
    report(STEP_RESTORE_DB, 0, None)
    args, env = _pg_command(url)
    # Fail rather than wait forever behind a running app's locks.
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " -c lock_timeout=30000").strip()
    _run([pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", *args, str(dump)], env, "恢复数据库", "pg_restore")
    size = dump.stat().st_size
    report(STEP_RESTORE_DB, size, size)


def _restore_var(unpacked: Unpacked, var_dir: Path, report: Report) -> None:
    root = var_dir.resolve()
    names = sorted(n for n in unpacked.manifest.files if n.startswith("var/"))
    total = sum(unpacked.manifest.files[n]["size"] for n in names)
    done = 0
    for name in names:
        dest = root / name[len("var/"):]
        if not dest.resolve().is_relative_to(root):
            raise BackupInvalid(f"备份中的路径越出 ./var：{name}", f"A path in the backup leaves ./var: {name}")
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = dest.with_name(f"{dest.name}.restore-{os.getpid()}.tmp")
        shutil.copyfile(unpacked.stage / name, tmp)
        os.chmod(tmp, unpacked.modes.get(name, 0o600))
        os.replace(tmp, dest)
        done += unpacked.manifest.files[name]["size"]
        report(STEP_RESTORE_VAR, done, total)
    report(STEP_RESTORE_VAR, total, total)


def apply(unpacked: Unpacked, *, report: Report = _quiet) -> Manifest:
    """Replace the configured database with a checked archive's, then write its ./var files."""
    settings = get_settings()
    url = settings.resolved_database_url
    kind = database_kind(url)
    reset_engines()  # pooled connections would hold the old file open (SQLite) or block DROP TABLE (PostgreSQL)
    member = unpacked.stage / DATABASE_MEMBERS[kind]
    if kind == "sqlite":
        _replace_sqlite(member, sqlite_path(url), report)
    else:
        _restore_postgres(url, member, report)
    _restore_var(unpacked, settings.var_dir, report)
    reset_engines()
    return unpacked.manifest


def restore(archive: Path | str, *, report: Report = _quiet) -> Manifest:
    """Check an archive and restore it over the configured database and ./var."""
    with unpack(archive, report=report) as unpacked:
        return apply(unpacked, report=report)
