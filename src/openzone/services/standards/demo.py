"""Load the standards demo: three regional regulators, the verified real examples of domain-rules §8, and samples."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from openzone.core import identity
from openzone.services.standards import service, workflow
from openzone.services.standards.domain import StandardInput, parse_number
from openzone.services.standards.models import Notice

DATA = Path(__file__).parent / "demo_data"

REGULATORS = (
    # region, organisation, English name, administrative division code, e-mail and name of its demo official
    ("11", "北京市市场监督管理局（演示）", "Beijing Administration for Market Regulation (demo)", "110000",
     "std-beijing@standards.demo.openzone.cn", "北京标准化处"),
    ("12", "天津市市场监督管理委员会（演示）", "Tianjin Market Regulation Commission (demo)", "120000",
     "std-tianjin@standards.demo.openzone.cn", "天津标准化处"),
    ("13", "河北省市场监督管理局（演示）", "Hebei Administration for Market Regulation (demo)", "130000",
     "std-hebei@standards.demo.openzone.cn", "河北标准化处"),
)

# domain-rules §8, verified examples only: numbers and titles as seen, nothing invented. Dates, scopes and texts
# were not seen, so they are left empty.
REAL = (
    (("DB11/T 3022—2019", "DB12/T 3022—2019"), "停车场电子不停车收费系统应用技术要求", True,
     "京津冀区域协同地方标准。来源（二手）：bzmfxz.com/biaozhun/Soft/DLDLBZ/375737.html、m.wnwk.com/doc/423347.html。"
     "河北 DB13/T 3022—2019 未见，未收录；日期未核实。"),
    (("DB11/T 3043—2024",), "碳普惠项目减排量核算技术规范 低碳出行", True,
     "公开代码库中标注为“京津冀联合制定”（二手来源）；天津、河北编号及日期未核实。"),
    (("DB12/T 557—2015",), "冷链物流 冷库技术规范", False,
     "天津市地方标准（二手来源）。2018年京津冀冷链物流联合标准的编号未核实，未收录。"),
    (("DB11/1740—2020",), "住宅设计规范", False,
     "无“/T”的强制性地方技术规范，见于公开代码库（二手来源）；日期未核实。"),
)

SAMPLE_NOTE = ("示例记录，不是真实标准：编号与名称为演示虚构，正文为 GB 50016 等建筑防火规范条文摘录"
               "（github.com/zhouyc98/auto-rule-transform，MIT 许可）。")


def _lines(name: str, start: int, count: int) -> str:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return "\n".join(lines[start:start + count])


def _samples() -> list[StandardInput]:
    def rec(numbers, title, **kw) -> StandardInput:
        return StandardInput(numbers=tuple(parse_number(n) for n in numbers), title_zh=title, sample=True,
                             note=SAMPLE_NOTE, body_source="GB 50016 条文摘录（示例正文）", **kw)

    return [
        rec(("DB11/T 9901—2025",), "厂房耐火等级技术要求（示例）", issued_on=dt.date(2025, 3, 1),
            effective_on=dt.date(2025, 7, 1), ics="13.220.01", ccs="C80", department="北京市消防救援总队（示例）",
            drafters=("示例消防技术研究所",), keywords=("耐火等级", "耐火极限", "厂房"),
            scope="本文件规定了厂房建筑构件的耐火等级和耐火极限要求，适用于新建、扩建和改建厂房的防火设计。",
            body=_lines("gb50016_ch3_clauses.txt", 0, 45)),
        rec(("DB11/T 3998—2025", "DB12/T 3998—2025", "DB13/T 3998—2025"), "京津冀建筑消防设施技术要求（示例）",
            issued_on=dt.date(2025, 9, 1), effective_on=dt.date(2026, 1, 1), ics="13.220.10", ccs="C82",
            department="京津冀三地市场监督管理部门（示例）", drafters=("示例建筑设计研究院", "示例消防检测中心"),
            keywords=("储罐", "防火堤", "消防设施"),
            scope="本文件规定了储罐区防火堤、消防设施的设置要求，适用于京津冀区域内储罐区的消防设计与验收。",
            body=_lines("fire_code_sentences.txt", 0, 80)),
        rec(("DB13(J)/T 9902—2024",), "甲乙类厂房防火分区技术规程（示例）", issued_on=dt.date(2024, 5, 1),
            effective_on=dt.date(2024, 8, 1), ics="91.040.20", ccs="P32", keywords=("防火分区", "甲类厂房"),
            scope="本规程规定了甲、乙类厂房的防火分区与耐火等级要求，适用于河北省工程建设项目。",
            body=_lines("gb50016_ch3_clauses.txt", 40, 40)),
        rec(("DB12/T 9903—2015",), "冷库运行管理规范（示例）", issued_on=dt.date(2015, 6, 1),
            effective_on=dt.date(2015, 10, 1), ics="03.100", ccs="A10", keywords=("冷库", "冷链"),
            scope="本文件规定了冷库运行管理的基本要求。"),
        rec(("DB12/T 9903—2025",), "冷库运行管理规范（示例）", issued_on=dt.date(2025, 3, 1),
            effective_on=dt.date(2025, 7, 1), ics="03.100", ccs="A10", keywords=("冷库", "冷链", "温度监测"),
            scope="本文件规定了冷库运行管理、温度监测和记录的要求。", replaces=(parse_number("DB12/T 9903—2015"),),
            amendments=((dt.date(2025, 11, 1), "第1号修改单：调整温度记录间隔（示例）"),)),
        rec(("DB13/T 9904—2026",), "城市综合管廊运行维护规范（示例）", issued_on=dt.date(2026, 6, 1),
            effective_on=dt.date(2099, 1, 1), ics="93.020", keywords=("综合管廊", "运行维护"),
            scope="本文件规定了城市综合管廊的巡检、维护和应急处置要求。"),
    ]


def load(session: Session, *, password_hash: str) -> list[tuple[str, str, str, str]]:
    """Create what is missing of the standards demo (idempotent); return (email, name, org, role) of its logins."""
    logins = []
    existing = {r.region: r for r in workflow.regulators(session)}
    contacts = {}
    for region, name, name_en, division, email, person_name in REGULATORS:
        reg = existing.get(region)
        if reg is not None:
            contacts[region] = reg
            if reg.name == name:
                logins.append((email, person_name, name, "official"))
            continue
        org = identity.create_organisation(session, name=name, name_en=name_en, kind="government_agency",
                                           region=division)
        person = identity.create_person(session, name=person_name, email=email, password_hash=password_hash)
        identity.add_membership(session, person_id=person.id, org_id=org.id, role="official")
        contacts[region] = workflow.register_regulator(session, org_id=org.id, region=region, name=name,
                                                       contact_person_ids=[person.id])
        logins.append((email, person_name, name, "official"))
    for numbers, title, joint, note in REAL:
        service.upsert_standard(session, record=StandardInput(
            numbers=tuple(parse_number(n) for n in numbers), title_zh=title, joint=joint, note=note))
    for record in _samples():
        service.upsert_standard(session, record=record)
    title = "2026年京津冀区域协同地方标准立项计划（示例）"
    beijing = contacts.get("11")
    if beijing is not None and session.scalar(select(Notice.id).where(Notice.title == title)) is None \
            and beijing.contact_person_ids:
        actor = workflow.actor_for(session, uuid.UUID(beijing.contact_person_ids[0]))
        if actor.is_regulator:
            workflow.publish_notice(session, actor=actor, kind="plan", title=title,
                                    body="示例：拟联合制定《京津冀公共充电设施运营服务规范》等标准。\n本通知为演示数据。")
    return logins

