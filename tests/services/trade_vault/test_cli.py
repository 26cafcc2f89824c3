"""`openzone trade-vault import`: bulk filing from folders and ZIP batches, refusals reported, safe to run again."""

from __future__ import annotations

import csv
import io
import os
import shutil
import zipfile

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from openzone.cli import app
from openzone.core import ledger
from openzone.db import transaction
from openzone.services.trade_vault import service
from openzone.services.trade_vault.models import Document, Dossier
from tests import builders, helpers
from tests.services.trade_vault.builders import SHIPMENTS, VECTORS

runner = CliRunner()
ERR = VECTORS / "ubl_examples/invoice/ERR-11_BII04_minimal_invoice_example_01.xml"


def _firm(kind: str = "enterprise"):
    org = helpers.committed(lambda session: builders.create_org(session, kind=kind))
    return org.id, org.name, org.uscc


def _folder(tmp_path):
    """SH1's files in a folder, SH2's in a ZIP inside it, a file the rules refuse, and a hidden file to leave alone."""
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    for path in SHIPMENTS["SH1"]:
        shutil.copy(path, folder / path.name)
    shutil.copy(ERR, folder / "sub" / ERR.name)
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in SHIPMENTS["SH2"]:
            archive.writestr(f"sh2/{path.name}", path.read_bytes())
        # What a Mac adds to a ZIP it makes: left out like hidden files in folders.
        archive.writestr(f"__MACOSX/sh2/._{SHIPMENTS['SH2'][0].name}", b"\x00\x05\x16\x07")
        archive.writestr("sh2/.DS_Store", b"\x00\x00\x00\x01Bud1")
    (folder / "sub" / "sh2.zip").write_bytes(buf.getvalue())
    return folder


def _count(org_id, model=Document):
    with transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(model.org_id == org_id))


@pytest.mark.parametrize("processes", [0, 1])
def test_import_files_a_folder_and_its_zip_batches_reports_refusals_and_can_run_again(tmp_path, processes):
    org_id, _, uscc = _firm()
    folder = _folder(tmp_path)
    report = tmp_path / "refused.csv"
    args = ["trade-vault", "import", str(folder), "--org", uscc, "--processes", str(processes), "--batch", "4",
            "--report", str(report)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output  # one file was refused
    filed = len(SHIPMENTS["SH1"]) + len(SHIPMENTS["SH2"])
    assert f"filed {filed}" in result.output and "refused 1" in result.output
    assert ERR.name in result.output
    assert _count(org_id) == filed
    with transaction() as session:
        docs = session.scalars(select(Document).where(Document.org_id == org_id)).all()
        assert {d.source for d in docs} == {"import"}
        assert all(service.read_blob(d.sha256) for d in docs)
        # Each filed document is on the ledger, and the shipments were grouped as uploads group them.
        assert session.scalar(select(func.count()).select_from(ledger.Entry).where(
            ledger.Entry.actor_org_id == org_id, ledger.Entry.event_type == service.FILED)) == filed
    assert _count(org_id, Dossier) == 2
    rows = list(csv.DictReader(report.read_text(encoding="utf-8").splitlines()))
    # Refused files are named by their path inside the folder given.
    assert [r["file"] for r in rows] == [f"docs/sub/{ERR.name}"] and rows[0]["problem"] == "trade-vault-document-invalid"

    again = runner.invoke(app, ["trade-vault", "import", str(folder), "--org", str(org_id), "--processes", str(processes)])
    assert again.exit_code == 1, again.output
    assert "filed 0" in again.output and f"already on file {filed}" in again.output
    assert _count(org_id) == filed


def test_import_of_good_files_only_exits_zero_and_a_bad_zip_is_refused_whole(tmp_path):
    org_id, name, _ = _firm()
    files = [tmp_path / p.name for p in SHIPMENTS["SH3"]]
    for src, dst in zip(SHIPMENTS["SH3"], files, strict=True):
        shutil.copy(src, dst)
    ok = runner.invoke(app, ["trade-vault", "import", *map(str, files), "--org", name, "--processes", "0"])
    assert ok.exit_code == 0, ok.output
    assert _count(org_id) == len(files)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    bad = runner.invoke(app, ["trade-vault", "import", str(broken), "--org", name, "--processes", "0"])
    assert bad.exit_code == 1 and "broken.zip" in bad.output and "refused 1" in bad.output
    assert _count(org_id) == len(files)


def test_unreadable_files_an_empty_folder_and_a_bad_report_path_are_clear(tmp_path):
    org_id, _, uscc = _firm()
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    good = tmp_path / SHIPMENTS["SH3"][0].name
    shutil.copy(SHIPMENTS["SH3"][0], good)
    result = runner.invoke(app, ["trade-vault", "import", str(fifo), str(good), "--org", uscc, "--processes", "0"])
    assert result.exit_code == 1, result.output
    assert "pipe.xml" in result.output and "Cannot read it" in " ".join(result.output.split())
    assert "filed 1" in result.output and _count(org_id) == 1
    empty = tmp_path / "empty"
    (empty / ".hidden").mkdir(parents=True)
    (empty / ".hidden" / "x.xml").write_bytes(b"<x/>")
    nothing = runner.invoke(app, ["trade-vault", "import", str(empty), "--org", uscc])
    assert nothing.exit_code == 1 and "no files to file" in nothing.output
    bad = runner.invoke(app, ["trade-vault", "import", str(good), "--org", uscc, "--report", str(tmp_path / "no" / "r.csv")])
    assert bad.exit_code == 2 and "cannot write the report" in " ".join(bad.output.split())


def test_import_needs_one_existing_firm(tmp_path):
    path = tmp_path / SHIPMENTS["SH3"][0].name
    shutil.copy(SHIPMENTS["SH3"][0], path)
    missing = runner.invoke(app, ["trade-vault", "import", str(path), "--org", "没有这个企业"])
    assert missing.exit_code == 1 and "No organisation" in " ".join(missing.output.split())
    bank_id, _, _ = _firm("bank")
    bank = runner.invoke(app, ["trade-vault", "import", str(path), "--org", str(bank_id)])
    assert bank.exit_code == 1 and "is not a firm" in " ".join(bank.output.split())
    assert _count(bank_id) == 0
    twins = [helpers.committed(lambda session: builders.create_org(session, name="同名贸易有限公司")) for _ in range(2)]
    twin = runner.invoke(app, ["trade-vault", "import", str(path), "--org", "同名贸易有限公司"])
    assert twin.exit_code == 1 and "give the id or credit code" in " ".join(twin.output.split())
    assert all(_count(t.id) == 0 for t in twins)
