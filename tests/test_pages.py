"""Fetch every page as a signed-in administrator: a title, lang, CSRF token on forms, no duplicate ids."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

import pytest

from openzone.app import api_routes
from tests import helpers


class PageFacts(HTMLParser):
    """Collect what the page test checks while parsing HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.lang = None
        self.title = ""
        self._in_title = False
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "title":
            self._in_title = True
        elif tag == "form":
            self.forms.append({"method": (attrs.get("method") or "get").lower(), "csrf": False})
        elif tag == "input" and attrs.get("name") == "csrf_token" and self.forms and attrs.get("value"):
            self.forms[-1]["csrf"] = True
        elif tag == "script" and not attrs.get("src"):
            raise AssertionError("inline script: the CSP forbids it")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


@pytest.fixture(scope="module")
def admin_session():
    admin, org = helpers.make_user("org_admin", platform_admin=True)
    return admin, org


def consent_sample(org_id) -> str:
    """Commit a grant held by the organisation (its administrators act for it), for the consent grant page."""
    import datetime as dt

    from openzone.core import consent
    from openzone.kit.time import utcnow

    now = utcnow()
    terms = consent.Terms(scope=(consent.ScopeLine("sample_item", "*", ("name",)),), purpose="service-window",
                          purpose_text="", reason="", valid_from=now, valid_until=now + dt.timedelta(days=1),
                          use_mode=consent.UseMode.SINGLE, max_uses=1, frequency=None, frequency_uses=None,
                          data_life_days=0)
    return str(helpers.committed(lambda s: consent.give_grant(
        s, holder=consent.Holder.organisation(org_id), requester=consent.Binding(org_id), terms=terms).id))


def page_paths(org_id) -> list[str]:
    """List every HTML page a GET can show, with sample path values."""
    samples = {"org_id": str(org_id), "grant_id": consent_sample(org_id)}
    paths = []
    for route in api_routes():
        if "GET" not in route.methods or route.path.startswith("/api/v1") or route.path in ("/healthz", "/api/docs"):
            continue
        if route.path.startswith("/language/") or route.path.startswith("/login/totp"):
            continue  # redirects, and pages of a half-finished sign-in, covered by the identity tests
        if route.path.startswith("/ledger/"):
            continue  # the public log: text, bytes, JSON and PDF for programs, not pages; tests/core/ledger covers them
        if route.path.endswith(".atom") or (route.path.startswith("/standards/") and "{" in route.path):
            continue  # Atom feeds are XML; a standard, draft or notice needs a record: tests/services/standards covers them
        if route.path.startswith("/e-license/") and "{" in route.path:
            continue  # a license, its VC download or an application needs a record: tests/services/e_license covers them
        if route.path.startswith(("/credit/", "/travel-licensing/")) and "{" in route.path:
            continue  # a record, case or licence page needs one: tests/core/credit and tests/services/travel_licensing
        if route.path.startswith("/trade-vault/") and ("{" in route.path or route.path.endswith((".zip", "/bank"))):
            continue  # a document, dossier or report needs a record, the ZIP is not a page, /bank is for bank staff: tests/services/trade_vault covers them
        path = re.sub(r"\{(\w+)\}", lambda m: samples[m.group(1)], route.path)
        paths.append(path)
    return paths


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_page_is_well_formed(client, admin_session, lang):
    admin, org = admin_session
    helpers.login(client, admin.email)
    client.cookies.set("oz_lang", lang)
    paths = page_paths(org.id)
    assert len(paths) >= 8
    for path in paths:
        response = client.get(path, headers={"accept": "text/html"})
        assert response.status_code == 200, f"{path}: {response.status_code}"
        assert "content-security-policy" in response.headers
        facts = PageFacts()
        facts.feed(response.text)
        assert facts.lang == lang, path
        assert facts.title.strip().endswith("– OpenZone") and len(facts.title.strip()) > len("– OpenZone"), path
        duplicates = [i for i, n in Counter(facts.ids).items() if n > 1]
        assert duplicates == [], f"{path}: duplicate ids {duplicates}"
        for form in facts.forms:
            if form["method"] == "post":
                assert form["csrf"], f"{path}: a POST form without a CSRF token"


def test_error_pages_are_readable_pages(client):
    response = client.get("/no-such-page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "未找到" in response.text and '<html lang="zh-CN"' in response.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")


def test_an_oversized_body_is_refused_before_it_is_read(client, settings):
    big = b"x" * (settings.max_body_bytes + 1)
    response = client.post("/login", content=big, headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert response.json()["type"] == "/problems/too-large"


def test_an_oversized_chunked_body_is_refused(client, settings):
    def chunks():
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    response = client.post("/api/v1/organisations", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_the_navigation_shows_the_unread_count(client):
    from openzone.core import notify
    from openzone.db import transaction

    person, _ = helpers.make_user("staff")
    with transaction() as session:
        notify.send(session, person_id=person.id, subject="材料已补正", body="请查看")
    helpers.login(client, person.email)
    page = client.get("/", headers={"accept": "text/html"})
    assert 'id="nav-inbox"' in page.text and 'oz-count">1<' in page.text
