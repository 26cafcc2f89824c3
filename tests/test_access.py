"""Deny by default: walk every route and prove anonymous and wrong-role callers are refused."""

from __future__ import annotations

import re
import uuid

import pytest

from openzone.app import api_routes
from openzone.core.identity import route_access
from openzone.core.identity.access import CSRF_COOKIE
from openzone.core.identity.models import Person
from openzone.core.identity.service import create_token
from openzone.db import transaction
from tests import helpers

# Routes anyone may use. A new public route must be added here on purpose.
PUBLIC = {
    ("GET", "/"), ("GET", "/healthz"), ("GET", "/api/docs"), ("GET", "/language/{code}"),
    ("GET", "/login"), ("POST", "/login"), ("GET", "/login/totp"), ("POST", "/login/totp"),
    ("GET", "/login/totp-setup"), ("POST", "/login/totp-setup"), ("POST", "/logout"),
    # The transparency log is public on purpose: anyone may fetch checkpoints, tiles and proofs (issue 3 §2).
    ("GET", "/ledger/checkpoint"), ("GET", "/ledger/tile/{path:path}"), ("GET", "/ledger/proof/inclusion"),
    ("GET", "/ledger/proof/consistency"), ("GET", "/ledger/entries/{leaf_hash_hex}"),
    # Receipts, the keys that check them and the verification page are for anyone, a court or a citizen (issue 3 §4).
    ("GET", "/ledger/receipts/{leaf_hash_hex}.txt"), ("GET", "/ledger/receipts/{leaf_hash_hex}.pdf"),
    ("GET", "/ledger/keys"), ("GET", "/verify"), ("POST", "/verify"),
    # Standards are free to search and read for anyone, drafts and shared notices included (issue 7 §2–§4).
    ("GET", "/standards"), ("GET", "/standards/statistics"), ("GET", "/standards/feed.atom"),
    ("GET", "/standards/notices"), ("GET", "/standards/notices.atom"), ("GET", "/standards/notices/{notice_id}"),
    ("GET", "/standards/drafts"), ("GET", "/standards/drafts/{draft_id}"), ("GET", "/standards/{standard_id}"),
    ("GET", "/standards/{standard_id}/text"), ("GET", "/api/v1/standards"), ("GET", "/api/v1/standards/changes"),
    ("GET", "/api/v1/standards/export.json"), ("GET", "/api/v1/standards/export.csv"),
    ("GET", "/api/v1/standards/drafts"), ("GET", "/api/v1/standards/drafts/{draft_id}"),
    ("GET", "/api/v1/standards/{standard_id}"),
    # Issuer keys and status lists are published for any verifier; the catalogue is public (issue 5 §1).
    ("GET", "/api/v1/e-license/catalogue/types"), ("GET", "/api/v1/e-license/catalogue/matters"),
    ("GET", "/e-license"), ("GET", "/api/v1/e-license/issuers/{issuer_id}"), ("GET", "/api/v1/e-license/issuers/{issuer_id}/status/{purpose}"),
    # The credit register is public by rule: published records with legal basis and period (issue 6 §3).
    ("GET", "/credit"), ("GET", "/credit/{record_id}"), ("GET", "/api/v1/credit"), ("GET", "/api/v1/credit/{record_id}"),
    # Travel licensing: the service page, aggregate statistics and licence verification are public (issue 6 §1, §4).
    ("GET", "/travel-licensing"), ("GET", "/travel-licensing/statistics"), ("GET", "/travel-licensing/licences/{number}"),
    ("GET", "/api/v1/travel-licensing/licences/{number}"), ("GET", "/api/v1/travel-licensing/statistics"),
}
SAMPLE = {"code": "en"}


def _routes():
    for route in api_routes():
        for method in sorted(route.methods - {"HEAD"}):
            yield method, route


def _path(template: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLE.get(m.group(1), str(uuid.uuid4())), template)


ROUTES = list(_routes())
PRIVATE = [(m, r) for m, r in ROUTES if not route_access(r).public]
ROLE_BOUND = [(m, r) for m, r in PRIVATE if not route_access(r).signed_in]
NOT_READ_SCOPED = [(m, r) for m, r in PRIVATE if "read" not in route_access(r).scopes]


def _ids(routes):
    return [f"{m} {r.path}" for m, r in routes]


def _send(client, method, path, *, headers=None):
    headers = {"accept": "application/json", **(headers or {})}
    csrf = "c" * 43
    client.cookies.set(CSRF_COOKIE, csrf)
    headers.setdefault("x-csrf-token", csrf)
    return client.request(method, path, headers=headers)


def test_every_route_declares_access_and_public_ones_are_listed():
    declared_public = {(m, r.path) for m, r in ROUTES if route_access(r).public}
    assert declared_public == PUBLIC
    assert all(route_access(r) is not None for _, r in ROUTES)


@pytest.mark.parametrize(("method", "route"), PRIVATE, ids=_ids(PRIVATE))
def test_anonymous_callers_are_refused(client, method, route):
    response = _send(client, method, _path(route.path))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "/problems/unauthenticated"


@pytest.fixture(scope="module")
def staff_member():
    person, org = helpers.make_user("staff")
    return person, org


@pytest.mark.parametrize(("method", "route"), ROLE_BOUND, ids=_ids(ROLE_BOUND))
def test_wrong_role_is_refused(client, staff_member, method, route):
    helpers.login(client, staff_member[0].email)
    response = _send(client, method, _path(route.path))
    assert response.status_code == 403, response.text
    assert response.json()["type"] == "/problems/forbidden"


@pytest.fixture(scope="module")
def read_token():
    person, org = helpers.make_user("org_admin")
    with transaction() as session:
        _, secret = create_token(session, person=session.get(Person, person.id), org_id=org.id, name="t", scopes=["read"])
    return secret


@pytest.mark.parametrize(("method", "route"), NOT_READ_SCOPED, ids=_ids(NOT_READ_SCOPED))
def test_a_token_outside_its_scopes_is_refused(client, read_token, method, route):
    response = client.request(method, _path(route.path), headers={"authorization": f"Bearer {read_token}",
                                                                   "accept": "application/json"})
    assert response.status_code == 403, response.text


def test_a_bad_bearer_token_is_refused_even_on_public_routes(client):
    response = client.get("/api/v1/me", headers={"authorization": "Bearer oz_nonsense"})
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/token-invalid"
    assert client.get("/api/v1/me", headers={"authorization": "Basic abc"}).status_code == 401


def test_a_browser_without_a_session_is_sent_to_login(client):
    response = client.get("/account", headers={"accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account"


def test_a_form_post_without_the_csrf_token_is_refused(client, staff_member):
    helpers.login(client, staff_member[0].email)
    response = client.post("/account/password", data={"current": "x", "new": "y", "confirm": "y"},
                           headers={"accept": "application/json"})
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/csrf"


def test_a_new_csrf_cookie_goes_out_with_pages_only(client, read_token):
    client.cookies.clear()
    page = client.get("/login", headers={"accept": "text/html"})
    assert page.status_code == 200 and CSRF_COOKIE in page.headers.get("set-cookie", "")
    client.cookies.clear()
    for response in (client.get("/api/v1/me", headers={"authorization": f"Bearer {read_token}"}),
                     client.get("/healthz"), client.get("/ledger/checkpoint")):
        assert response.status_code in (200, 404) and "set-cookie" not in response.headers, response.url
    # A page rendered for a failure needs the token too (its language switcher and forms post back).
    missing = client.get("/standards/" + str(uuid.uuid4()), headers={"accept": "text/html"})
    assert missing.status_code == 404 and CSRF_COOKIE in missing.headers.get("set-cookie", "")
