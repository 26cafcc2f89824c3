"""The demo: firms on both routes, one late deposit flagged, one published credit record; loading twice is harmless."""

from __future__ import annotations

from typer.testing import CliRunner

from openzone.cli import app
from openzone.config import get_settings
from openzone.core import credit, identity
from openzone.core.identity.service import resolve_token
from openzone.db import transaction
from openzone.demo import TRAVEL_E_LICENSE_TOKEN
from openzone.services.e_license import service as e_license
from openzone.services.travel_licensing import service
from openzone.services.travel_licensing.demo import AUTHORITY, FIRMS, STAFF
from openzone.services.travel_licensing.settings import TravelSettings

runner = CliRunner()


def test_the_demo_shows_both_routes_a_late_deposit_and_a_published_record():
    token_file = get_settings().var_dir / "secrets" / TRAVEL_E_LICENSE_TOKEN
    first = runner.invoke(app, ["demo", "load"])
    token = token_file.read_text()
    second = runner.invoke(app, ["demo", "load"])
    assert first.exit_code == second.exit_code == 0, first.output
    # The token `make run` hands to the worker: kept across loads, the authority's, allowed to issue.
    assert token_file.read_text() == token and token_file.stat().st_mode & 0o777 == 0o600
    settings = TravelSettings(e_license_url="http://127.0.0.1:8000", e_license_token_file=token_file)
    assert settings.e_license_enabled and settings.e_license_secret() == token.strip()
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
        api_token, clerk = resolve_token(session, token.strip())
        assert api_token.org_id == authority.id and api_token.scopes == ["write"] and clerk.email == STAFF[0][0]
