"""Identity API as a program uses it: tokens, organisations, members, and refusals as problem+json."""

from __future__ import annotations

from openzone.core.identity.models import Person
from openzone.core.identity.service import create_token
from openzone.db import transaction
from tests import builders, helpers


def _token(person_id, org_id, scopes):
    with transaction() as session:
        _, secret = create_token(session, person=session.get(Person, person_id), org_id=org_id, name="t", scopes=scopes)
    return {"authorization": f"Bearer {secret}"}


def test_me_describes_a_token_caller(client):
    person, org = helpers.make_user("org_admin")
    body = client.get("/api/v1/me", headers=_token(person.id, org.id, ["read"])).json()
    assert body["person_id"] == str(person.id) and body["scopes"] == ["read"]
    assert body["memberships"] == [{"org_id": str(org.id), "role": "org_admin"}]


def test_organisations_page_with_a_cursor(client):
    person, org = helpers.make_user("org_admin")
    for _ in range(3):
        helpers.make_user("staff", kind="bank")
    headers = _token(person.id, org.id, ["read"])
    first = client.get("/api/v1/organisations", params={"limit": 2, "kind": "bank"}, headers=headers).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get("/api/v1/organisations", params={"limit": 2, "kind": "bank", "cursor": first["next_cursor"]},
                        headers=headers).json()
    assert {o["id"] for o in first["items"]}.isdisjoint({o["id"] for o in second["items"]})
    bad = client.get("/api/v1/organisations", params={"cursor": "%%%"}, headers=headers)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


def test_an_org_admin_token_adds_a_member_and_sees_identifiers_masked(client):
    person, org = helpers.make_user("org_admin")
    headers = _token(person.id, org.id, ["admin"])
    id_number = builders.random_id_number()
    email = f"{builders.unique()}@example.cn"
    created = client.post(f"/api/v1/organisations/{org.id}/members", headers=headers,
                          json={"name": "新同事", "email": email, "role": "staff", "id_number": id_number,
                                "phone": "13800138000", "password": "a-good-pass-1"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id_number"] == id_number[:6] + "********" + id_number[-4:] and body["phone"] == "138****8000"
    members = client.get(f"/api/v1/organisations/{org.id}/members", headers=headers).json()
    assert email in {m["email"] for m in members}
    assert id_number not in str(members)


def test_a_member_with_a_bad_id_number_is_refused_and_nothing_is_written(client):
    person, org = helpers.make_user("org_admin")
    headers = _token(person.id, org.id, ["admin"])
    email = f"{builders.unique()}@example.cn"
    bad = client.post(f"/api/v1/organisations/{org.id}/members", headers=headers,
                      json={"name": "某人", "email": email, "role": "staff", "id_number": "110105194912310021"})
    assert bad.status_code == 422
    problem = bad.json()
    assert problem["type"] == "/problems/validation" and "校验码" in problem["detail"]
    assert problem["detail_en"].startswith("The check digit")
    members = client.get(f"/api/v1/organisations/{org.id}/members", headers=headers).json()
    assert email not in {m["email"] for m in members}


def test_an_admin_of_one_org_cannot_touch_another(client):
    person, org = helpers.make_user("org_admin")
    _, other = helpers.make_user("org_admin")
    headers = _token(person.id, org.id, ["admin"])
    assert client.get(f"/api/v1/organisations/{other.id}/members", headers=headers).status_code == 403


def test_english_problems_follow_the_language_cookie(client):
    client.cookies.set("oz_lang", "en")
    body = client.get("/api/v1/me").json()
    assert body["title"] == "Authentication required" and body["title_zh"] == "请先登录"


def test_tokens_cannot_mint_tokens_but_a_signed_in_admin_can(client):
    person, org = helpers.make_user("org_admin")
    headers = _token(person.id, org.id, ["admin"])
    refused = client.post("/api/v1/tokens", headers=headers, json={"org_id": str(org.id), "name": "x", "scopes": ["read"]})
    assert refused.status_code == 403
    helpers.login(client, person.email)
    csrf = helpers.csrf(client, "/account")
    made = client.post("/api/v1/tokens", headers={"x-csrf-token": csrf},
                       json={"org_id": str(org.id), "name": "x", "scopes": ["read"], "days": 7})
    assert made.status_code == 201 and made.json()["secret"].startswith("oz_")
    listed = client.get("/api/v1/tokens", headers=headers).json()
    assert made.json()["id"] in {t["id"] for t in listed} and "secret" not in listed[0]
    gone = client.delete(f"/api/v1/tokens/{made.json()['id']}", headers=headers)
    assert gone.status_code == 204
    assert client.get("/api/v1/me", headers={"authorization": f"Bearer {made.json()['secret']}"}).status_code == 401


def test_a_platform_admin_session_creates_an_organisation(client):
    admin, _ = helpers.make_user(None, platform_admin=True)
    helpers.login(client, admin.email)
    csrf = helpers.csrf(client, "/account")
    made = client.post("/api/v1/organisations", headers={"x-csrf-token": csrf},
                       json={"name": "天津示范法院", "kind": "court"})
    assert made.status_code == 201 and made.json()["kind"] == "court"
    wrong_kind = client.post("/api/v1/organisations", headers={"x-csrf-token": csrf}, json={"name": "X", "kind": "club"})
    assert wrong_kind.status_code == 422
