"""Credit pages: the public register, a firm's own records with an objection, the review queue."""

from __future__ import annotations

from tests import helpers
from tests.core.credit.test_api import published_record

HTML = {"accept": "text/html"}


def test_the_register_page_shows_a_published_record_and_its_detail(client):
    _, org = helpers.make_user("org_admin")
    rid = published_record(org.id, org.name, org.uscc)
    page = client.get("/credit", params={"q": org.name}, headers=HTML)
    assert page.status_code == 200 and org.name in page.text and "旅行社条例第四十八条" in page.text
    detail = client.get(f"/credit/{rid}", headers=HTML)
    assert detail.status_code == 200 and "未按期缴存质量保证金" in detail.text


def test_a_firm_objects_on_its_page_and_a_supervisor_withdraws_the_record(client):
    person, org = helpers.make_user("org_admin")
    rid = published_record(org.id, org.name, org.uscc)
    helpers.login(client, person.email)
    token = helpers.csrf(client, "/credit/mine")
    refused = client.post(f"/credit/mine/{rid}/repair", data={"obligations": "yes", "csrf_token": token}, headers=HTML)
    assert refused.status_code == 409 and "最短公示期" in refused.text
    sent = client.post(f"/credit/mine/{rid}/objection", data={"grounds": "主体有误", "csrf_token": token}, headers=HTML,
                       follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/credit/mine"
    assert "有异议，核查中" in client.get("/credit/mine", headers=HTML).text
    supervisor, _ = helpers.make_user("supervisor", kind="government_agency")
    client.cookies.clear()
    helpers.login(client, supervisor.email)
    review = client.get("/credit/review", headers=HTML)
    assert org.name in review.text
    objection_id = review.text.split('action="/credit/review/objections/')[1].split('"')[0]
    token = helpers.csrf(client, "/credit/review")
    done = client.post(f"/credit/review/objections/{objection_id}", data={"outcome": "withdrawn", "reason": "主体有误",
                                                                          "csrf_token": token},
                       headers=HTML, follow_redirects=False)
    assert done.status_code == 303
    assert client.get(f"/credit/{rid}", headers=HTML).status_code == 404
