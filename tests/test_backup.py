"""Backing up and restoring the database and ./var, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openzone import backup
from openzone.cli import app as cli_app
from openzone.core.identity.models import Organisation
from openzone.db import transaction
from tests import builders, helpers
from tests.conftest import IS_POSTGRES

KIND = "postgresql" if IS_POSTGRES else "sqlite"
OTHER_KIND = "sqlite" if IS_POSTGRES else "postgresql"


def _org_exists(org_id) -> bool:
    with transaction() as session:
        return session.get(Organisation, org_id) is not None


def _key(settings) -> Path:
    settings.secret("data")
    return settings.var_dir / "secrets" / "data.key"


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def _pack(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _manifest_for(members: dict[str, bytes], **changes) -> bytes:
    body = {"format": "openzone-backup", "version": 1, "created_at": "2026-01-02T03:04:05.678Z",
            "alembic_revision": "0004", "database": {"kind": KIND, "file": backup.DATABASE_MEMBERS[KIND]},
            "files": {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members.items()}}
    body.update(changes)
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def archive(tmp_path_factory, database):
    """Back up once for the tests that only read an archive."""
    path, _ = backup.create(tmp_path_factory.mktemp("backup") / "base.tar.gz")
    return path


def test_restore_brings_back_the_data_and_secrets_of_the_backup(tmp_path, settings):
    kept = helpers.committed(lambda s: builders.create_org(s))
    key = _key(settings)
    original_key = key.read_bytes()

    path, manifest = backup.create(tmp_path / "b.tar.gz")

    assert manifest.database == KIND and manifest.alembic_revision
    assert backup.DATABASE_MEMBERS[KIND] in manifest.files and "var/secrets/data.key" in manifest.files
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    with transaction() as session:
        session.delete(session.get(Organisation, kept.id))
    added = helpers.committed(lambda s: builders.create_org(s))
    key.write_bytes(b"a different key\n")
    later = settings.var_dir / "added-after-backup.txt"
    later.write_text("x")
    assert not _org_exists(kept.id)

    try:
        restored = backup.restore(path)
    finally:
        if key.read_bytes() != original_key:
            key.write_bytes(original_key)  # keep the rest of the suite able to decrypt, whatever happened

    assert restored == manifest
    assert _org_exists(kept.id) and not _org_exists(added.id)
    assert key.read_bytes() == original_key and oct(key.stat().st_mode & 0o777) == oct(0o600)
    assert later.exists()  # files made after the backup are left alone
    assert not [p for p in settings.var_dir.iterdir() if p.name.startswith(backup.WORK_PREFIX)]


def test_the_archive_holds_a_manifest_first_and_leaves_out_backups(archive, settings):
    names = list(_members(archive))
    assert names[0] == "manifest.json"
    old = settings.var_dir / "backups" / "older.tar.gz"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(b"old")
    path, manifest = backup.create()
    assert path.parent == (settings.var_dir / "backups").resolve() and path.name.startswith("openzone-")
    assert not [n for n in manifest.files if "backups" in n or path.name in n]
    path.unlink()
    old.unlink()


def test_a_tampered_archive_is_refused_and_nothing_changes(archive, tmp_path, settings):
    members = _members(archive)
    members["var/secrets/data.key"] = b"c2VjcmV0IGtleSBjaG9zZW4gYnkgYW4gYXR0YWNrZXI=\n"
    tampered = _pack(tmp_path / "tampered.tar.gz", members)
    before = _key(settings).read_bytes()
    marker = helpers.committed(lambda s: builders.create_org(s))
    with pytest.raises(backup.BackupInvalid) as err:
        backup.restore(tampered)
    assert "var/secrets/data.key" in err.value.detail and "does not match" in err.value.detail_en
    assert _key(settings).read_bytes() == before and _org_exists(marker.id)


def test_a_damaged_archive_is_refused(archive, tmp_path):
    raw = archive.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(raw[: len(raw) // 2])
    flipped = tmp_path / "flipped.tar.gz"
    flipped.write_bytes(raw[:200] + bytes([raw[200] ^ 0xFF]) + raw[201:])
    not_gzip = tmp_path / "plain.txt"
    not_gzip.write_text("hello")
    for path in (truncated, flipped, not_gzip):
        with pytest.raises(backup.BackupInvalid):
            backup.restore(path)
    with pytest.raises(backup.BackupInvalid):
        backup.restore(tmp_path / "missing.tar.gz")


@pytest.mark.parametrize("members", [
    {"hello.txt": b"hello"},
    {"manifest.json": b"{\"format\": \"something-else\"}"},
    {"manifest.json": b"not json"},
])
def test_a_foreign_archive_is_refused(tmp_path, members):
    with pytest.raises(backup.BackupInvalid) as err:
        backup.restore(_pack(tmp_path / "foreign.tar.gz", members))
    assert "OpenZone" in err.value.detail_en


def test_an_entry_outside_the_manifest_or_var_is_refused(tmp_path):
    listed = {backup.DATABASE_MEMBERS[KIND]: b"db"}
    for extra in ("var/../../escape.txt", "var/unlisted.txt", "/etc/passwd"):
        members = {"manifest.json": _manifest_for(listed), **listed, extra: b"x"}
        with pytest.raises(backup.BackupInvalid):
            backup.restore(_pack(tmp_path / "extra.tar.gz", members))
    escaping = {**listed, "var/../escape.txt": b"x"}
    with pytest.raises(backup.BackupInvalid):
        backup.restore(_pack(tmp_path / "escape.tar.gz", {"manifest.json": _manifest_for(escaping), **escaping}))
    assert not (tmp_path / "escape.txt").exists()


def test_a_backup_of_another_database_kind_or_a_newer_schema_is_refused(tmp_path):
    other = {backup.DATABASE_MEMBERS[OTHER_KIND]: b"db"}
    members = {"manifest.json": _manifest_for(other, database={"kind": OTHER_KIND, "file": backup.DATABASE_MEMBERS[OTHER_KIND]}),
               **other}
    with pytest.raises(backup.BackupRefused) as err:
        backup.restore(_pack(tmp_path / "other.tar.gz", members))
    assert OTHER_KIND in err.value.detail
    ours = {backup.DATABASE_MEMBERS[KIND]: b"db"}
    members = {"manifest.json": _manifest_for(ours, alembic_revision="9999"), **ours}
    with pytest.raises(backup.BackupRefused) as err:
        backup.restore(_pack(tmp_path / "newer.tar.gz", members))
    assert "9999" in err.value.detail


def test_a_missing_file_is_refused(tmp_path):
    listed = {backup.DATABASE_MEMBERS[KIND]: b"db", "var/secrets/data.key": b"k"}
    members = {"manifest.json": _manifest_for(listed), backup.DATABASE_MEMBERS[KIND]: b"db"}
    with pytest.raises(backup.BackupInvalid) as err:
        backup.restore(_pack(tmp_path / "short.tar.gz", members))
    assert "var/secrets/data.key" in err.value.detail


def test_the_commands_back_up_and_restore_and_explain_a_refusal(tmp_path):
    runner = CliRunner()
    org = helpers.committed(lambda s: builders.create_org(s))
    out = tmp_path / "cli.tar.gz"
    result = runner.invoke(cli_app, ["backup", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "备份已写入" in result.output and out.exists()

    with transaction() as session:
        session.delete(session.get(Organisation, org.id))
    result = runner.invoke(cli_app, ["restore", str(out)], input="n\n")
    assert result.exit_code == 1 and "已取消" in result.output and not _org_exists(org.id)
    result = runner.invoke(cli_app, ["restore", str(out), "--yes"])
    assert result.exit_code == 0, result.output
    assert "恢复完成" in result.output and _org_exists(org.id)

    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(out.read_bytes()[:1000])
    result = runner.invoke(cli_app, ["restore", str(bad), "--yes"])
    assert result.exit_code == 1
    assert "错误：备份文件已损坏" in result.output and "Error: The backup file is damaged" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, backup.BackupInvalid)
