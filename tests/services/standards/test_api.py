"""The standards open-data API: search, detail, changes since, bulk export; joint drafts with tokens."""

from __future__ import annotations

import csv
import datetime as dt
import io

from openzone.core.identity.models import Person
from openzone.core.identity.service import create_token
from openzone.db import transaction
from openzone.services.standards import service
from tests.services.standards.builders import create_standard, unique_number


def _committed(**kw):
    with transaction() as session:
        made = create_standard(session, **kw).standard
        return made.id, [n.text for n in service.numbers_of(session, made.id)]


def test_search_returns_items_with_numbers_titles_and_facets(client):
    sid, numbers = _committed(numbers=(unique_number("DB13", 2020),), title_zh="绿色雪上运动场馆评价（示例）",
                              scope="规定雪上运动场馆的绿色评价方法。", ics="97.220")
    body = client.get("/api/v1/standards", params={"q": "雪上 场馆", "region": "13"}).json()
    item = next(i for i in body["items"] if i["id"] == str(sid))
    assert item["numbers"] == numbers and item["title_zh"].startswith("绿色雪上") and item["status_zh"] == "现行"
    assert "<mark>" in item["highlights"]["titles"]
    assert {"region", "status", "ics", "year"} <= set(body["facets"])
    assert client.get("/api/v1/standards", params={"q": "雪上 场馆", "region": "11"}).json()["total"] < body["total"] + 1


def test_a_bad_query_is_a_400_problem(client):
    response = client.get("/api/v1/standards", params={"q": "-只有排除"})
    assert response.status_code == 400 and response.headers["content-type"].startswith("application/problem+json")


def test_detail_changes_and_exports(client):
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)).isoformat()
    sid, numbers = _committed(keywords=("开放数据",), body="全文内容")
    detail = client.get(f"/api/v1/standards/{sid}").json()
    assert detail["numbers"] == numbers and detail["body"] == "全文内容" and detail["keywords"] == ["开放数据"]
    assert client.get("/api/v1/standards/00000000-0000-7000-8000-000000000000").status_code == 404
    changes = client.get("/api/v1/standards/changes", params={"since": since}).json()
    assert str(sid) in [c["standard"]["id"] for c in changes["items"]]
    assert client.get("/api/v1/standards/changes", params={"since": "2026-01-01T00:00:00"}).status_code == 422
    exported = client.get("/api/v1/standards/export.json")
    assert exported.status_code == 200 and str(sid) in {r["id"] for r in exported.json()}
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/standards/export.csv").text.lstrip("\ufeff"))))
    assert next(r for r in rows if r["id"] == str(sid))["numbers"] == numbers[0]


def _token(person_id, org_id, scopes=("write",)):
    with transaction() as session:
        _, secret = create_token(session, person=session.get(Person, person_id), org_id=org_id, name="t",
                                 scopes=list(scopes))
    return {"authorization": f"Bearer {secret}"}


def test_a_regulator_token_proposes_and_decides_and_others_are_refused(client, regulators):
    person, org = regulators["11"]
    headers = _token(person.id, org.id)
    made = client.post("/api/v1/standards/drafts", json={"title_zh": "示例草案（接口）", "scope": "示例范围。"},
                       headers=headers)
    assert made.status_code == 201, made.text
    draft = made.json()
    assert draft["stage"] == "joint_approval" and draft["due_on"]
    decided = client.post(f"/api/v1/standards/drafts/{draft['id']}/decisions", json={"decision": "approve"},
                          headers=headers)
    assert decided.status_code == 200
    again = client.post(f"/api/v1/standards/drafts/{draft['id']}/decisions", json={"decision": "approve"},
                        headers=headers)
    assert again.status_code == 409
    assert client.get(f"/api/v1/standards/drafts/{draft['id']}").json()["id"] == draft["id"]
    client.cookies.set("oz_csrf", "c" * 43)
    anonymous = client.post("/api/v1/standards/drafts", json={"title_zh": "x", "scope": "y"},
                            headers={"x-csrf-token": "c" * 43})
    assert anonymous.status_code == 401
    read_only = _token(person.id, org.id, scopes=("read",))
    assert client.post("/api/v1/standards/drafts", json={"title_zh": "x", "scope": "y"}, headers=read_only).status_code == 403
