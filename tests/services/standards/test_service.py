"""The standards library on a real database: upsert by number, indexing, replacements, import, PDF text, statistics."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from openzone.core import search
from openzone.kit.errors import Conflict
from openzone.services import standards
from openzone.services.standards import service
from openzone.services.standards.models import Change
from tests.services.standards.builders import create_standard, unique_number

D = dt.date


def _keys(session, query, **filters):
    return [h.key for h in search.search(session, index=standards.INDEX, query=query, filters=filters, per_page=50).hits]


def test_a_standard_is_indexed_in_the_same_transaction_and_found_by_any_spelling_of_its_number(session):
    number = unique_number("DB12", 2019)
    made = create_standard(session, numbers=(number,), title_zh="停车场电子不停车收费系统应用技术要求",
                           scope="本文件规定了停车场电子不停车收费系统的技术要求。", effective_on=D(2019, 12, 1))
    assert made.outcome == "created"
    seq = number.split()[1].split("—")[0]
    key = str(made.standard.id)
    for typed in (number, number.replace("—", "-").replace(" ", ""), f"db12t {seq}", f"{seq}-2019"):
        assert key in _keys(session, typed), typed
    assert key in _keys(session, "停车场 收费", region="12")
    assert key in _keys(session, "tingchechang")
    assert key not in _keys(session, "停车场 收费", region="13")


def test_upsert_is_idempotent_and_records_what_changed(session):
    number = unique_number()
    first = create_standard(session, numbers=(number,), title_zh="老年护理常见风险防控要求（示例）")
    again = create_standard(session, numbers=(number.replace("—", "-"),), title_zh="老年护理常见风险防控要求（示例）")
    assert again.outcome == "unchanged" and again.standard.id == first.standard.id
    changed = create_standard(session, numbers=(number,), title_zh="老年护理常见风险防控规范（示例）", ics="11.020")
    assert changed.outcome == "updated" and set(changed.fields) == {"title_zh", "ics"}
    kinds = [c.kind for c in session.scalars(select(Change).where(Change.standard_id == first.standard.id))]
    assert sorted(kinds) == ["created", "updated"]


def test_a_joint_standard_carries_three_numbers_and_may_gain_one_later(session):
    seq = unique_number().split()[1].split("—")[0]
    two = create_standard(session, numbers=(f"DB11/T {seq}-2024", f"DB12/T {seq}-2024"), title_zh="联合示例标准")
    assert two.standard.joint
    three = create_standard(session, numbers=(f"DB11/T {seq}-2024", f"DB12/T {seq}-2024", f"DB13/T {int(seq) + 1}-2024"),
                            title_zh="联合示例标准")
    assert three.outcome == "updated" and three.fields == ("numbers",)
    assert [n.text for n in service.numbers_of(session, three.standard.id)][2] == f"DB13/T {int(seq) + 1}—2024"
    assert standards.find_by_number(session, f"db13/t{int(seq) + 1}-2024").id == two.standard.id


def test_numbers_of_two_standards_cannot_be_merged(session):
    a, b = unique_number(), unique_number("DB12")
    create_standard(session, numbers=(a,))
    create_standard(session, numbers=(b,))
    with pytest.raises(Conflict):
        create_standard(session, numbers=(a, b))


def test_a_successor_replaces_its_predecessor_in_either_order(session):
    old, new = unique_number(year=2010), unique_number(year=2020)
    earlier = create_standard(session, numbers=(old,), effective_on=D(2010, 6, 1)).standard
    later = create_standard(session, numbers=(new,), effective_on=D(2020, 6, 1), replaces=(old,)).standard
    assert earlier.status == "replaced" and later.status == "current"
    related = service.related_to(session, earlier)
    assert [s.id for s in related.replaced_by] == [later.id]
    # The successor arrives first and names a number the library does not hold yet.
    old2, new2 = unique_number(year=2011), unique_number(year=2021)
    later2 = create_standard(session, numbers=(new2,), effective_on=D(2021, 6, 1), replaces=(old2,)).standard
    earlier2 = create_standard(session, numbers=(old2,), effective_on=D(2011, 6, 1)).standard
    assert earlier2.status == "replaced"
    assert service.related_to(session, later2).replaces[0][1].id == earlier2.id


def test_status_moves_from_upcoming_to_current_on_its_day(session):
    made = create_standard(session, effective_on=D(2099, 1, 1)).standard
    assert made.status == "upcoming"
    assert str(made.id) in _keys(session, "", status="upcoming")
    service.refresh_statuses(session, today=D(2099, 1, 1))
    assert made.status == "current"
    assert str(made.id) in _keys(session, "", status="current")


def _csv(rows):
    header = "numbers,title_zh,effective_on,ics,keywords,scope\n"
    return (header + "".join(",".join(r) + "\n" for r in rows)).encode()


def test_a_csv_import_with_one_bad_row_imports_nothing_and_lists_each_error(session):
    good, also = unique_number(), unique_number("DB13")
    data = _csv([(good, "冷链物流 冷库技术规范（示例）", "2018-06-01", "03.220", "冷链;冷库", "冷库"),
                 ("DB11/T 12", "编号不全", "2018-06-01", "", "", ""),
                 (also, "", "2018-13-01", "abc", "", "")])
    with pytest.raises(standards.ImportInvalid) as caught:
        service.import_file(session, name="x.csv", data=data)
    errors = caught.value.errors
    assert {(e["row"], e["field"]) for e in errors} == {(2, "numbers"), (3, "title_zh"), (3, "effective_on"), (3, "ics")}
    assert all(e["message"] and e["message_en"] for e in errors)
    assert standards.find_by_number(session, good) is None


def test_a_csv_import_is_idempotent(session):
    a, b = unique_number(), unique_number("DB12")
    data = _csv([(a, "冷链物流 冷库技术规范（示例）", "2018-06-01", "03.220", "冷链;冷库", "冷库"),
                 (f"{b};{a.replace('DB11', 'DB13')}", "冷链物流 配送规范（示例）", "2018-06-01", "", "", "")])
    first = service.import_file(session, name="x.csv", data=data)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    second = service.import_file(session, name="X.CSV", data=data)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 2)


def test_a_json_import_accepts_lists_and_refuses_repeated_numbers(session):
    n = unique_number()
    rows = [{"numbers": [n], "title_zh": "示例一", "keywords": ["示例"], "sample": True}]
    report = service.import_file(session, name="a.json", data=json.dumps(rows, ensure_ascii=False).encode())
    assert report.created == 1 and standards.find_by_number(session, n).sample
    with pytest.raises(standards.ImportInvalid) as caught:
        service.import_file(session, name="a.json", data=json.dumps(rows * 2).encode())
    assert caught.value.errors[0]["row"] == 2


@pytest.mark.parametrize(("name", "data"), [("a.txt", b"x"), ("a.json", b"{"), ("a.json", b"{}"), ("a.csv", b"a,b\n1,2\n"),
                                            ("a.csv", b"\xff\xfe")])
def test_unreadable_files_are_refused_whole(session, name, data):
    with pytest.raises(standards.ImportInvalid):
        service.import_file(session, name=name, data=data)


def test_a_pdf_gives_the_standard_its_full_text(session):
    from weasyprint import HTML

    n = unique_number()
    create_standard(session, numbers=(n,), title_zh="建筑防火示例")
    pdf = HTML(string="<html lang='zh'><body><p>防火墙的耐火极限不低于3h。</p></body></html>").write_pdf()
    result = standards.attach_pdf(session, number=n, data=pdf, source="test.pdf")
    assert "耐火极限" in result.standard.body and result.standard.pdf_sha256
    assert str(result.standard.id) in _keys(session, "耐火极限 防火墙")
    with pytest.raises(standards.PdfUnreadable):
        standards.attach_pdf(session, number=n, data=b"%PDF-1.4 nonsense")


def test_a_reworded_draft_finds_the_standard_it_duplicates_among_the_top_three(session):
    target = create_standard(
        session, title_zh="停车场电子不停车收费系统应用技术要求（示例）", keywords=("ETC", "停车场", "不停车收费"),
        scope="本文件规定了停车场电子不停车收费系统的系统构成、功能要求、性能要求和测试方法，适用于停车场电子不停车收费系统的建设和运营。").standard
    for title, scope in [("城市道路照明设施运行维护规范（示例）", "本文件规定了道路照明设施的巡查、维修和养护要求。"),
                         ("停车场（库）运营服务规范（示例）", "本文件规定了停车场运营单位的服务设施、人员和收费公示要求。"),
                         ("高速公路电子收费车道技术要求（示例）", "本文件规定了高速公路收费车道的设备配置。")]:
        create_standard(session, title_zh=title, scope=scope)
    found = service.similar_standards(session, title="停车设施无感支付收费系统技术规范",
                                      scope="规定停车场利用电子不停车收费方式实现无感支付的系统组成、功能和性能要求以及检测方法。",
                                      limit=3)
    assert target.id in [s.id for s, _ in found]


def test_the_similarity_query_stays_inside_the_search_limits():
    query = service.similarity_query("很长的标题" * 30, "适用范围内容词语" * 200)
    assert len(query) <= 256 and len(query.split()) <= 64
    search.parse_query(query)


def test_statistics_count_by_region_status_and_field(session):
    before = standards.statistics(session)
    seq = unique_number().split()[1].split("—")[0]
    create_standard(session, numbers=(f"DB11/T {seq}-2024", f"DB13/T {seq}-2024"), ics="91.040", effective_on=D(2099, 1, 1))
    after = standards.statistics(session)
    assert after.total == before.total + 1 and after.joint == before.joint + 1
    regions_before, regions_after = dict(before.by_region), dict(after.by_region)
    assert regions_after["11"] == regions_before.get("11", 0) + 1 and regions_after["13"] == regions_before.get("13", 0) + 1
    assert dict(after.by_status)["upcoming"] == dict(before.by_status).get("upcoming", 0) + 1
    assert dict(after.by_field)["91"] == dict(before.by_field).get("91", 0) + 1


def test_changes_since_and_export_list_the_new_standard(session):
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    made = create_standard(session, keywords=("导出",)).standard
    assert made.id in [s.id for _, s in service.changes_since(session, since)]
    records = {r["id"]: r for r in service.export_records(session)}
    assert records[str(made.id)]["keywords"] == ["导出"]
    lines = list(service.export_csv([records[str(made.id)]]))
    assert lines[0].startswith("\ufeffid,numbers") and str(made.id) in lines[1]
