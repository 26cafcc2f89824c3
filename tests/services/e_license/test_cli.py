"""E-license commands: import with a progress bar and a per-row report, all or nothing; the demo loads once."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from openzone.cli import app
from openzone.core.identity.models import Person
from openzone.db import transaction
from openzone.services.e_license import service
from openzone.services.e_license.models import Clerk, License
from tests import builders, helpers
from tests.services.e_license.builders import id_card_fields

runner = CliRunner()


def _issuer_and_holder():
    def build(session):
        org = builders.create_org(session, kind="government_agency", uscc=None)
        service.create_issuer(session, org_id=org.id, license_types=["resident_id"])
        person = builders.create_person(session, name="导入人")
        return org.id, person.id, person.name
    return helpers.committed(build)


def _row(holder_id, name, **overrides):
    row = {"type": "resident_id", "holder_kind": "person", "holder_id": str(holder_id), "valid_from_on": "2020-01-01",
           "valid_until_on": "2029-12-31", "fields": id_card_fields(type("P", (), {"name": name}))}
    row.update(overrides)
    return row


def test_import_reports_each_bad_row_and_imports_nothing(tmp_path):
    org_id, holder_id, name = _issuer_and_holder()
    good = _row(holder_id, name)
    bad = _row(holder_id, name, valid_until_on="2031-01-01")
    path = tmp_path / "licenses.json"
    path.write_text(json.dumps([good, bad], ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(app, ["e-license", "import", str(path), "--issuer", str(org_id)])
    assert result.exit_code == 1, result.output
    assert "第 2 行" in result.output and "valid_until_on" in result.output
    with transaction() as session:
        assert session.scalar(select(License.id).where(License.number == good["fields"]["id_number"])) is None


def test_import_a_csv_file(tmp_path):
    org_id, holder_id, name = _issuer_and_holder()
    fields = id_card_fields(type("P", (), {"name": name}))
    header = "type,holder_kind,holder_id,valid_from_on,valid_until_on," + ",".join(f"field.{k}" for k in fields)
    line = f"resident_id,person,{holder_id},2020-01-01,2029-12-31," + ",".join(fields.values())
    path = tmp_path / "licenses.csv"
    path.write_text(header + "\n" + line + "\n", encoding="utf-8")
    result = runner.invoke(app, ["e-license", "import", str(path), "--issuer", str(org_id)])
    assert result.exit_code == 0, result.output
    assert "issued 1 / 1" in result.output
    bad = tmp_path / "licenses.txt"
    bad.write_text("x", encoding="utf-8")
    assert runner.invoke(app, ["e-license", "import", str(bad), "--issuer", str(org_id)]).exit_code == 2


def test_demo_load_twice_gives_the_citizen_licenses_and_accredits_clerks():
    first = runner.invoke(app, ["demo", "load"])
    second = runner.invoke(app, ["demo", "load"])
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert "citizen@e-license.demo.openzone.cn" in second.output
    with transaction() as session:
        citizen = session.scalar(select(Person).where(Person.email == "citizen@e-license.demo.openzone.cn"))
        assert session.scalar(select(func.count()).select_from(License).where(License.holder_id == citizen.id)) == 5
        clerk = session.scalar(select(Person).where(Person.email == "clerk@demo.openzone.cn"))
        assert session.scalar(select(Clerk).where(Clerk.person_id == clerk.id)) is not None
        assert service.desk_of(session, clerk.id).window.code == "A01"
