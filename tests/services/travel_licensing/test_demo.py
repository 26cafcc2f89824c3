"""The demo: firms on both routes, one late deposit flagged, one published credit record; loading twice is harmless."""

from __future__ import annotations

from typer.testing import CliRunner

from openzone.cli import app
from openzone.core import credit, identity
from openzone.db import transaction
from openzone.services.e_license import service as e_license
from openzone.services.travel_licensing import service
from openzone.services.travel_licensing.demo import AUTHORITY, FIRMS

runner = CliRunner()


def test_the_demo_shows_both_routes_a_late_deposit_and_a_published_record():
    first = runner.invoke(app, ["demo", "load"])
    second = runner.invoke(app, ["demo", "load"])
    assert first.exit_code == second.exit_code == 0, first.output
    with transaction() as session:
        names = {firm for firm, *_ in FIRMS}
        published = [r.subject_name for r in credit.published_records(session) if r.subject_name in names]
        assert published == ["北京运河旅行社有限公司（演示）"]
        overdue = [lic.number for _, lic in service.open_obligations(session)
                   if service.get_application(session, lic.application_id).answers["name"] in names]
        assert len(overdue) == 1
        queued = [a for a in service.queue(session) if a.answers["name"] in names]
        assert len(queued) == 1 and queued[0].route == "ordinary"
        authority = next(o for o in identity.organisations(session) if o.name == AUTHORITY[0])
        [issuer] = [i for i in e_license.issuers(session) if i.org_id == authority.id]
        assert "travel_agency_licence" in issuer.license_types
