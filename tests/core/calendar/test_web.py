"""The administrators' calendar page."""

from __future__ import annotations

from openzone.core import calendar
from openzone.db import transaction
from tests import helpers

HTML = {"accept": "text/html"}


def test_a_platform_administrator_sees_the_covered_years_and_what_is_missing(client):
    admin, _ = helpers.make_user(platform_admin=True)
    helpers.login(client, admin.email)
    page = client.get("/admin/calendar", headers=HTML)
    assert page.status_code == 200
    assert 'id="covered-years"' in page.text and "chinese-calendar" in page.text and ">2026</th>" in page.text
    assert "date,kind,name_zh,name_en" in page.text and "openzone calendar import" in page.text
    with transaction() as session:
        missing = calendar.missing_years(session)
    for year in missing:
        assert f'id="missing-{year}"' in page.text and f"{year}年工作日历未导入" in page.text
    assert page.text.count("govuk-warning-text__text") == len(missing)


def test_other_people_are_refused(client):
    staff, _ = helpers.make_user("org_admin")
    helpers.login(client, staff.email)
    assert client.get("/admin/calendar", headers={"accept": "application/json"}).status_code == 403
    client.cookies.clear()
    anonymous = client.get("/admin/calendar", headers=HTML, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/admin/calendar"
