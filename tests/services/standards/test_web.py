"""Standards pages as people use them: public search, a standard, its text, statistics, feeds; drafts and notices."""

from __future__ import annotations

import datetime as dt
import random
import re
import uuid
import xml.etree.ElementTree as ET
from collections import Counter

from openzone.db import transaction
from openzone.services.standards import service, workflow
from tests import helpers
from tests.services.standards.builders import create_standard, unique_number
from tests.test_pages import PageFacts

HTML = {"accept": "text/html"}
ATOM = "{http://www.w3.org/2005/Atom}"


def _well_formed(html, where):
    facts = PageFacts()
    facts.feed(html)
    duplicates = [i for i, n in Counter(facts.ids).items() if n > 1]
    assert duplicates == [], f"{where}: duplicate ids {duplicates}"
    assert all(f["csrf"] for f in facts.forms if f["method"] == "post"), where
    assert facts.title.strip().endswith("– OpenZone"), where


def _committed_standard(**kw):
    with transaction() as session:
        made = create_standard(session, **kw).standard
        return made.id, [n.text for n in service.numbers_of(session, made.id)]


def test_the_public_searches_in_chinese_and_reads_a_standard(client):
    sid, numbers = _committed_standard(
        numbers=(unique_number("DB11", 2019), unique_number("DB12", 2019)), title_zh="停车场电子不停车收费系统应用技术要求（示例）",
        scope="本文件规定了停车场电子不停车收费系统的技术要求。", body="1 范围\n本文件规定了停车场电子不停车收费系统的技术要求。",
        keywords=("不停车收费",), effective_on=dt.date(2019, 12, 1), sample=True)
    page = client.get("/standards", params={"q": "停車場 收費"}, headers=HTML)
    assert page.status_code == 200
    assert f'href="/standards/{sid}"' in page.text
    assert "<mark>停车场</mark>" in page.text and "&lt;mark&gt;" not in page.text
    filtered = client.get("/standards", params={"q": "停车场", "region": "12"}, headers=HTML)
    assert f'href="/standards/{sid}"' in filtered.text and 'aria-current="true"' in filtered.text
    by_code = client.get("/standards", params={"q": numbers[0].replace("—", "-").replace(" ", "")}, headers=HTML)
    assert f'href="/standards/{sid}"' in by_code.text
    detail = client.get(f"/standards/{sid}", headers=HTML)
    assert detail.status_code == 200 and numbers[1] in detail.text and "示例" in detail.text and "现行" in detail.text
    text = client.get(f"/standards/{sid}/text", headers=HTML)
    assert text.status_code == 200 and "1 范围" in text.text
    _well_formed(detail.text, "detail")
    _well_formed(text.text, "text")


def test_a_title_with_markup_is_escaped_everywhere(client):
    sid, _ = _committed_standard(title_zh="<script>alert(1)</script>脚本示例标准")
    page = client.get("/standards", params={"q": "脚本示例标准"}, headers=HTML)
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "<script>alert" not in client.get(f"/standards/{sid}", headers=HTML).text


def test_a_bad_query_keeps_the_page_and_says_why(client):
    page = client.get("/standards", params={"q": '"停车场'}, headers=HTML)
    assert page.status_code == 400 and "引号没有成对出现" in page.text and 'class="govuk-error-summary"' in page.text


def test_an_unknown_standard_is_a_404_page(client):
    assert client.get("/standards/00000000-0000-7000-8000-000000000000", headers=HTML).status_code == 404


def test_statistics_and_the_atom_feed(client):
    sid, _ = _committed_standard(ics="03.220", title_zh="统计示例标准")
    stats = client.get("/standards/statistics", headers=HTML)
    assert stats.status_code == 200 and "<meter" in stats.text and "北京" in stats.text and "style=" not in stats.text
    feed = client.get("/standards/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    links = [e.find(f"{ATOM}link").get("href") for e in root.findall(f"{ATOM}entry")]
    assert any(link.endswith(f"/standards/{sid}") for link in links)


def _login_regulator(client, regulators, region):
    helpers.login(client, regulators[region][0].email)


def _post(client, path, data, page=None):
    token = helpers.csrf(client, page or path)
    return client.post(path, data={**data, "csrf_token": token}, headers=HTML, follow_redirects=False)


def test_three_regulators_move_a_draft_to_numbering_through_the_pages(client, regulators):
    _login_regulator(client, regulators, "11")
    made = _post(client, "/standards/drafts/new", {"title_zh": "京津冀冷链物流温控技术规范（示例草案）",
                                                   "scope": "规定冷链物流运输和仓储的温度控制要求。"})
    assert made.status_code == 303, made.text[:400]
    path = made.headers["location"]
    draft_id = path.rsplit("/", 1)[1]
    page = client.get(path, headers=HTML)
    assert "查重" in page.text and "联合立项审批" in page.text
    for region in ("11", "12", "13"):
        _login_regulator(client, regulators, region)
        assert _post(client, f"{path}/decide", {"decision": "approve"}, path).status_code == 303
    start = dt.date(2026, 1, 5)
    assert _post(client, f"{path}/comment-period", {"body": "1 范围\n2 要求", "start_on": start.isoformat(),
                                                    "end_on": (start + dt.timedelta(days=29)).isoformat()}, path).status_code == 422
    assert _post(client, f"{path}/comment-period", {"body": "1 范围\n2 要求", "start_on": start.isoformat(),
                                                    "end_on": (start + dt.timedelta(days=30)).isoformat()}, path).status_code == 303
    _well_formed(client.get(path, headers=HTML).text, "public comment")
    assert _post(client, f"{path}/close-comment", {}, path).status_code == 303
    assert _post(client, f"{path}/review", {"result": "passed", "note": "通过"}, path).status_code == 303
    for region in ("11", "12", "13"):
        _login_regulator(client, regulators, region)
        assert _post(client, f"{path}/decide", {"decision": "approve"}, path).status_code == 303
    with transaction() as session:
        while True:
            seq = random.randint(3100, 3999)
            if all(service.find_by_number(session, f"DB{r}/T {seq}-2026") is None for r in (11, 12, 13)):
                break
    assert _post(client, f"{path}/sequence", {"sequence": str(seq), "year": "2026"}, path).status_code == 303
    for region in ("11", "12", "13"):
        _login_regulator(client, regulators, region)
        assert _post(client, f"{path}/confirm-number", {"number": ""}, path).status_code == 303
    page = client.get(path, headers=HTML)
    assert f"DB13/T {seq}—2026" in page.text and "以本地区编号发布" in page.text
    for url in (path, "/standards/drafts", "/standards/notices", "/standards/statistics"):
        _well_formed(client.get(url, headers=HTML).text, url)
    with transaction() as session:
        assert workflow.get_draft(session, uuid.UUID(draft_id)).stage == "publication"


def test_a_non_regulator_cannot_decide_and_sees_why(client, regulators):
    _login_regulator(client, regulators, "11")
    made = _post(client, "/standards/drafts/new", {"title_zh": "示例草案（权限）", "scope": "示例范围。"})
    path = made.headers["location"]
    person, _ = helpers.make_user("official")
    helpers.login(client, person.email)
    refused = _post(client, f"{path}/decide", {"decision": "approve"}, path)
    assert refused.status_code == 403 and "只有三地标准化主管部门" in refused.text
    refused = _post(client, "/standards/drafts/new", {"title_zh": "企业提议", "scope": "范围"})
    assert refused.status_code == 403
    refused = _post(client, f"{path}/comments", {"text": "意见"}, path)
    assert refused.status_code == 403


def test_an_empty_proposal_keeps_the_form_and_names_the_fields(client, regulators):
    _login_regulator(client, regulators, "12")
    page = _post(client, "/standards/drafts/new", {"title_zh": "", "scope": ""})
    assert page.status_code == 422 and 'class="govuk-error-summary"' in page.text


def test_a_notice_is_shared_read_and_fed(client, regulators):
    _login_regulator(client, regulators, "11")
    made = _post(client, "/standards/notices/new", {"kind": "work_point", "title": "2026年标准化工作要点（示例）",
                                                    "body": "一、加强协同（示例）。"})
    assert made.status_code == 303
    path = made.headers["location"]
    _login_regulator(client, regulators, "13")
    assert "已读" in client.get(path, headers=HTML).text
    page = client.get(path, headers=HTML)
    assert re.search(r"已读（\d{4}-\d\d-\d\d", page.text) and "未读" in page.text
    feed = ET.fromstring(client.get("/standards/notices.atom").content)
    assert any(e.find(f"{ATOM}title").text == "2026年标准化工作要点（示例）" for e in feed.findall(f"{ATOM}entry"))
    person, _ = helpers.make_user("official")
    helpers.login(client, person.email)
    assert _post(client, "/standards/notices/new", {"kind": "plan", "title": "x", "body": "y"}, "/standards/notices/new").status_code == 403


def test_the_home_page_links_the_service(client):
    assert 'href="/standards"' in client.get("/", headers=HTML).text
