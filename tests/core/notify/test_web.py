"""Inbox pages as a person uses them: read messages, mark them read, and never see another's."""

from __future__ import annotations

from openzone.core import notify
from tests import helpers

HTML = {"accept": "text/html"}


def _messages(person, *subjects):
    return helpers.committed(lambda s: [notify.send(s, person_id=person.id, subject=subj, body=f"{subj}的正文。\n第二段。",
                                                    subject_en=f"EN {subj}") for subj in subjects])


def test_the_inbox_lists_messages_newest_first_with_unread_marked(client):
    person, _ = helpers.make_user()
    older, _ = _messages(person, "旧的通知", "新的通知")
    helpers.login(client, person.email)
    page = client.get("/inbox", headers=HTML)
    assert page.status_code == 200
    assert page.text.index("新的通知") < page.text.index("旧的通知")
    assert "未读消息：2 条" in page.text and page.text.count("govuk-tag--blue") == 2
    assert "第二段。" in page.text and f'action="/inbox/{older.id}/read"' in page.text


def test_marking_a_message_read(client):
    person, _ = helpers.make_user()
    first, _ = _messages(person, "第一条", "第二条")
    helpers.login(client, person.email)
    token = helpers.csrf(client, "/inbox")
    response = client.post(f"/inbox/{first.id}/read", data={"csrf_token": token, "next": "/inbox?unread=1"},
                           headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/inbox?unread=1"
    unread = client.get("/inbox?unread=1", headers=HTML).text
    assert "第二条" in unread and "第一条" not in unread and "未读消息：1 条" in unread
    done = client.post("/inbox/read-all", data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/inbox"
    assert "没有未读消息。" in client.get("/inbox?unread=1", headers=HTML).text


def test_an_empty_inbox_says_so(client):
    person, _ = helpers.make_user()
    helpers.login(client, person.email)
    page = client.get("/inbox", headers=HTML)
    assert "暂无消息。" in page.text and 'id="read-all"' not in page.text


def test_the_next_page_link_carries_on(client):
    person, _ = helpers.make_user()
    _messages(person, *[f"通知{i:02d}" for i in range(21)])
    helpers.login(client, person.email)
    page = client.get("/inbox", headers=HTML).text
    assert "通知20" in page and "通知00" not in page and 'rel="next"' in page
    link = page.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    rest = client.get(link, headers=HTML).text
    assert "通知00" in rest and "通知20" not in rest and 'rel="next"' not in rest


def test_english_readers_see_the_english_subject(client):
    person, _ = helpers.make_user()
    _messages(person, "受理通知")
    helpers.login(client, person.email)
    client.get("/language/en", headers=HTML)
    assert "EN 受理通知" in client.get("/inbox", headers=HTML).text


def test_someone_elses_message_cannot_be_marked(client):
    owner, _ = helpers.make_user()
    intruder, _ = helpers.make_user()
    [message] = _messages(owner, "私人通知")
    helpers.login(client, intruder.email)
    token = helpers.csrf(client, "/inbox")
    response = client.post(f"/inbox/{message.id}/read", data={"csrf_token": token}, headers=HTML)
    assert response.status_code == 404
    assert "私人通知" not in client.get("/inbox", headers=HTML).text


def test_a_form_without_the_csrf_token_is_refused(client):
    person, _ = helpers.make_user()
    [message] = _messages(person, "通知")
    helpers.login(client, person.email)
    response = client.post(f"/inbox/{message.id}/read", data={}, headers=HTML)
    assert response.status_code == 403
    assert helpers.committed(lambda s: notify.unread_count(s, person.id)) == 1


def test_a_visitor_is_sent_to_sign_in(client):
    response = client.get("/inbox", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/inbox"
