"""Inbox API: the caller's own messages, for people signed in with a session (not API tokens)."""

from __future__ import annotations

import uuid

from openzone.core import notify
from openzone.core.identity.access import CSRF_COOKIE
from openzone.core.identity.models import Person
from openzone.core.identity.service import create_token
from openzone.db import transaction
from tests import helpers

JSON = {"accept": "application/json"}


def _signed_in(client):
    person, org = helpers.make_user()
    helpers.login(client, person.email)
    return person, org, {**JSON, "x-csrf-token": client.cookies.get(CSRF_COOKIE)}


def _message(person, subject="审批结果"):
    return helpers.committed(lambda s: notify.send(s, person_id=person.id, subject=subject, body="已批准。",
                                                   subject_en="Decision", body_en="Approved."))


def test_listing_and_marking_read(client):
    person, _, headers = _signed_in(client)
    a, b = _message(person, "甲"), _message(person, "乙")
    listing = client.get("/api/v1/inbox", headers=JSON).json()
    assert [m["id"] for m in listing["items"]] == [str(b.id), str(a.id)] and listing["unread_count"] == 2
    assert listing["items"][0] | {"id": None, "created_at": None} == {
        "id": None, "subject": "乙", "body": "已批准。", "subject_en": "Decision", "body_en": "Approved.",
        "created_at": None, "read_at": None}
    read = client.post(f"/api/v1/inbox/{a.id}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    unread = client.get("/api/v1/inbox", params={"unread_only": "true"}, headers=JSON).json()
    assert [m["id"] for m in unread["items"]] == [str(b.id)] and unread["unread_count"] == 1
    assert client.post("/api/v1/inbox/read-all", headers=headers).json() == {"marked": 1}


def test_pages_follow_the_cursor(client):
    person, _, _ = _signed_in(client)
    sent = [_message(person, f"第{i}条") for i in range(3)]
    first = client.get("/api/v1/inbox", params={"limit": 2}, headers=JSON).json()
    second = client.get("/api/v1/inbox", params={"limit": 2, "cursor": first["next_cursor"]}, headers=JSON).json()
    assert [m["id"] for m in first["items"] + second["items"]] == [str(m.id) for m in reversed(sent)]
    assert second["next_cursor"] is None
    bad = client.get("/api/v1/inbox", params={"cursor": "garbage"}, headers=JSON)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


def test_another_persons_message_is_not_found(client):
    owner, _ = helpers.make_user()
    message = _message(owner)
    _, _, headers = _signed_in(client)
    response = client.post(f"/api/v1/inbox/{message.id}/read", headers=headers)
    assert response.status_code == 404 and response.json()["type"] == "/problems/not-found"
    assert client.post(f"/api/v1/inbox/{uuid.uuid4()}/read", headers=headers).status_code == 404


def test_anonymous_callers_and_api_tokens_are_refused(client):
    assert client.get("/api/v1/inbox", headers=JSON).status_code == 401
    person, org = helpers.make_user("org_admin")
    with transaction() as session:
        _, secret = create_token(session, person=session.get(Person, person.id), org_id=org.id, name="t",
                                 scopes=["read", "write"])
    response = client.get("/api/v1/inbox", headers={**JSON, "authorization": f"Bearer {secret}"})
    assert response.status_code == 403 and response.json()["type"] == "/problems/forbidden"


def test_a_post_without_the_csrf_header_is_refused(client):
    person, _, _ = _signed_in(client)
    message = _message(person)
    response = client.post(f"/api/v1/inbox/{message.id}/read", headers=JSON)
    assert response.status_code == 403 and response.json()["type"] == "/problems/csrf"
