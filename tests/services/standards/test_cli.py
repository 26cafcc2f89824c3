"""Standards commands: import with a progress bar and a per-row error report; the demo loads the §8 examples."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from openzone.cli import app
from openzone.db import transaction
from openzone.services import standards
from openzone.services.standards.models import Standard
from tests.services.standards.builders import unique_number

runner = CliRunner()


def test_import_reports_each_bad_row_and_imports_nothing(tmp_path):
    good = unique_number()
    path = tmp_path / "std.json"
    path.write_text(json.dumps([{"numbers": [good], "title_zh": "导入示例"},
                                {"numbers": ["DB11/T 1"], "title_zh": ""}], ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(app, ["standards", "import", str(path)])
    assert result.exit_code == 1
    assert "第 2 行" in result.output and "title_zh" in result.output
    with transaction() as session:
        assert standards.find_by_number(session, good) is None


def test_import_then_import_again_changes_nothing(tmp_path):
    number = unique_number("DB12")
    path = tmp_path / "std.csv"
    path.write_text(f"numbers,title_zh,keywords\n{number},导入示例（CSV）,示例;导入\n", encoding="utf-8")
    first = runner.invoke(app, ["standards", "import", str(path)])
    assert first.exit_code == 0, first.output
    assert "created 1" in first.output
    second = runner.invoke(app, ["standards", "import", str(path)])
    assert "unchanged 1" in second.output


def test_a_pdf_needs_its_number(tmp_path):
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.4")
    assert runner.invoke(app, ["standards", "import", str(path)]).exit_code == 2


def test_demo_data_holds_the_verified_examples_and_labelled_samples():
    first = runner.invoke(app, ["demo", "load"])
    second = runner.invoke(app, ["demo", "load"])
    assert first.exit_code == second.exit_code == 0, first.output
    with transaction() as session:
        parking = standards.find_by_number(session, "DB11/T 3022-2019")
        assert parking.title_zh == "停车场电子不停车收费系统应用技术要求" and not parking.sample and parking.joint
        assert standards.find_by_number(session, "DB12/T 3022—2019").id == parking.id
        assert standards.find_by_number(session, "DB13/T 3022—2019") is None
        assert standards.find_by_number(session, "DB11/1740-2020").title_zh == "住宅设计规范"
        samples = list(session.scalars(select(Standard).where(Standard.sample.is_(True))))
        assert samples and all("示例" in s.title_zh for s in samples)
        assert standards.find_by_number(session, "DB12/T 9903—2015").status == "replaced"
    result = runner.invoke(app, ["standards", "regulators"])
    assert result.exit_code == 0 and "11" in result.output
