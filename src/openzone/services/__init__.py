"""The ten services. Each lives in its own package; this file only lists them and their status."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceInfo:
    """Describe one of the ten services for the home page and the README table."""

    code: str
    name: str
    name_en: str
    summary: str
    summary_en: str
    path: str | None = None  # set once the service is built and mounted


SERVICES: tuple[ServiceInfo, ...] = (
    ServiceInfo("innovation_brain", "科创智慧大脑", "Sci-tech innovation brain",
                "专利与论文数据库、检索分析、创新指数与技术对接", "Patent and paper database, analysis, innovation index, technology matching"),
    ServiceInfo("ip_insurance", "知识产权保险试点", "Patent (IP) insurance pilot",
                "保险机构、保单、递减保费补贴、理赔与风险补偿", "Insurers, policies, tapering premium subsidies, claims and risk compensation"),
    ServiceInfo("tourism_credit", "文旅金融数字增信", "Digital credit for tourism finance",
                "链上交易数据、闭环贷款与风险控制", "On-chain transaction data, closed-loop loans and risk control"),
    ServiceInfo("travel_licensing", "旅行社告知承诺审批", "Travel-agency licensing by commitment",
                "告知承诺制许可与信用监管", "Licensing by notification and commitment, with credit supervision", path="/travel-licensing"),
    ServiceInfo("fund_transfer", "私募股权基金份额转让", "PE/VC fund share transfer",
                "登记、挂牌、合格投资者、信息披露、结算与质押", "Registration, listing, qualified investors, disclosure, settlement, pledges"),
    ServiceInfo("dispute_resolution", "金融纠纷一站式解决", "Financial dispute resolution",
                "存证、调解、司法确认、要素式审判、代表人诉讼与督促程序", "Evidence, mediation, judicial confirmation, element-based trials, representative litigation, dunning"),
    ServiceInfo("e_license", "区块链+电子证照", "Blockchain e-licenses",
                "扫码授权，窗口调取电子证照，每次访问上链并可查", "QR consent lets a window clerk pull e-licenses; every access is on the ledger", path="/e-license"),
    ServiceInfo("trade_vault", "贸易数据资产保管箱", "Trade data-asset vault",
                "单证存证、可信企业画像、AEO 认证辅助与授权共享", "Trade documents on record, trusted profile, AEO support, consented sharing", path="/trade-vault"),
    ServiceInfo("jjj_collaboration", "京津冀协同创新", "Beijing–Tianjin–Hebei collaborative innovation",
                "项目、知识产权基金决策与收益分配", "Projects, IP fund decisions and revenue sharing"),
    ServiceInfo("standards", "京津冀区域标准化", "Regional standards platform",
                "地方标准全文免费检索、3+X 协同制定与通知共享", "Free full-text search of local standards, joint 3+X drafting, shared notices", path="/standards"),
)
