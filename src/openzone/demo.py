"""Load demonstration organisations and people, once: running it again changes nothing."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core import ledger
from openzone.core.identity import domain, service
from openzone.core.identity.models import Organisation, Person
from openzone.services import e_license
from openzone.services.e_license import demo as e_license_demo
from openzone.services.standards import demo as standards_demo
from openzone.services.trade_vault import demo as trade_vault_demo
from openzone.services.travel_licensing import demo as travel_licensing_demo

DEMO_PASSWORD = "OpenZone-demo-2026"  # noqa: S105 - printed for the demo; demo mode only


@dataclass(frozen=True)
class DemoLogin:
    """Describe one printed demo login."""

    email: str
    name: str
    org: str
    role: str


def synthetic_id_number(rng: random.Random, area: str = "110105") -> str:
    """Make a resident ID number with a valid date and check digit; sequence 9xx keeps it synthetic."""
    year = rng.randint(1965, 2000)
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)
    first17 = f"{area}{year:04d}{month:02d}{day:02d}9{rng.randint(0, 99):02d}"
    return first17 + domain.id_check_char(first17)


def synthetic_uscc(rng: random.Random, *, prefix: str = "91", area: str = "110105") -> str:
    """Make a unified social credit code with a valid GB 32100 check character."""
    body = "".join(rng.choice("0123456789") for _ in range(9))
    first17 = f"{prefix}{area}{body}"
    return first17 + domain.uscc_check_char(first17)


ORGS = (
    # key, name, English name, kind, credit-code prefix (9=工商, 1=机构编制 per GB 32100 table 1)
    ("agency", "北京市文化和旅游局（演示）", "Beijing Culture and Tourism Bureau (demo)", "government_agency", "11"),
    ("hall", "朝阳区政务服务中心（演示）", "Chaoyang District Service Centre (demo)", "service_hall", "11"),
    ("firm", "北京开放示范贸易有限公司（演示）", "Beijing Open Demo Trading Co. (demo)", "enterprise", "91"),
    ("bank", "示范商业银行北京分行（演示）", "Demo Commercial Bank Beijing Branch (demo)", "bank", "91"),
    ("court", "北京金融法院（演示）", "Beijing Financial Court (demo)", "court", "11"),
)
PEOPLE = (
    # email, name, org key, role (None: platform administrator)
    ("admin@demo.openzone.cn", "平台管理员", None, None),
    ("official@demo.openzone.cn", "王审批", "agency", "official"),
    ("supervisor@demo.openzone.cn", "李监管", "agency", "supervisor"),
    ("clerk@demo.openzone.cn", "张窗口", "hall", "clerk"),
    ("firm-admin@demo.openzone.cn", "赵企业", "firm", "org_admin"),
    ("firm-staff@demo.openzone.cn", "钱业务", "firm", "staff"),
    ("bank@demo.openzone.cn", "孙信贷", "bank", "org_admin"),
    ("court@demo.openzone.cn", "周法官", "court", "official"),
)


def load(session: Session) -> list[DemoLogin]:
    """Create the demo organisations and people that do not exist yet; return the logins."""
    rng = random.Random(20211)  # fixed seed: the same synthetic identifiers every run
    orgs: dict[str, Organisation] = {}
    for key, name, name_en, kind, prefix in ORGS:
        uscc = synthetic_uscc(rng, prefix=prefix)
        org = session.scalar(select(Organisation).where(Organisation.name == name))
        if org is None:
            org = service.create_organisation(session, name=name, name_en=name_en, kind=kind, uscc=uscc)
        orgs[key] = org
        _record_registration(session, org)
    password_hash = service.hash_password(DEMO_PASSWORD)
    logins = []
    for email, name, org_key, role in PEOPLE:
        id_number = synthetic_id_number(rng)
        phone = f"139{rng.randint(0, 99999999):08d}"
        person = session.scalar(select(Person).where(Person.email == email))
        if person is None:
            person = service.create_person(session, name=name, email=email, password_hash=password_hash,
                                           phone=phone, id_number=id_number, is_platform_admin=role is None)
            if org_key:
                service.add_membership(session, person_id=person.id, org_id=orgs[org_key].id, role=role)
        org_name = orgs[org_key].name if org_key else "—"
        logins.append(DemoLogin(email, name, org_name, role or "platform_admin"))
    _consent_demo(session, orgs)
    logins.extend(DemoLogin(*row) for row in standards_demo.load(session, password_hash=password_hash))
    logins.extend(DemoLogin(*row) for row in e_license_demo.load(
        session, password_hash=password_hash, hall_id=orgs["hall"].id, firm_id=orgs["firm"].id,
        firm_uscc=orgs["firm"].uscc, clerk_id=session.scalar(select(Person.id).where(Person.email == "clerk@demo.openzone.cn"))))
    logins.extend(DemoLogin(*row) for row in travel_licensing_demo.load(
        session, password_hash=password_hash, uscc=lambda n: synthetic_uscc(random.Random(6100 + n)),
        id_number=lambda n: synthetic_id_number(random.Random(7100 + n))))
    # Issue 6: the demo tourism authority is an e-license issuer of its licence type (create_issuer merges on reload);
    # approvals call it once OPENZONE_TRAVEL_E_LICENSE_URL and a token of this authority are set (`make run` does).
    authority_id = session.scalar(select(Organisation.id).where(Organisation.name == travel_licensing_demo.AUTHORITY[0]))
    e_license.create_issuer(session, org_id=authority_id, license_types=["travel_agency_licence"])
    _travel_e_license_token(session, authority_id)
    travel_licensing_demo.queue_e_licenses(session)
    trade_vault_demo.load(session)
    return logins


TRAVEL_E_LICENSE_TOKEN = "travel-e-license.token"  # noqa: S105 - a file name, not a secret


def _travel_e_license_token(session: Session, authority_id) -> None:
    """Keep a live write token of the demo tourism authority's clerk in var/secrets for the e-license calls."""
    path = get_settings().var_dir / "secrets" / TRAVEL_E_LICENSE_TOKEN
    if path.is_file() and service.resolve_token(session, path.read_text().strip()) is not None:
        return
    clerk = session.scalar(select(Person).where(Person.email == travel_licensing_demo.STAFF[0][0]))
    _, secret = service.create_token(session, person=clerk, org_id=authority_id, name="旅行社许可证电子证照签发（演示）",
                                     scopes=["write"], days=domain.MAX_TOKEN_DAYS)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(secret + "\n")
    os.chmod(tmp, 0o600)
    # A token left by an earlier database that no longer resolves is replaced whole.
    os.replace(tmp, path)


ORG_REGISTERED = "identity.organisation_registered"


def _record_registration(session: Session, org: Organisation) -> None:
    """Record a demo organisation's registration in the ledger once, its credit code only as a salted commitment."""
    if session.scalar(select(ledger.Entry.seq).where(ledger.Entry.event_type == ORG_REGISTERED,
                                                    ledger.Entry.actor_org_id == org.id)):
        return
    commitments = {"uscc": ledger.commit(session, "uscc", org.uscc)} if org.uscc else {}
    ledger.record(session, ORG_REGISTERED, actor_org_id=org.id, commitments=commitments, data={"kind": org.kind})


def _consent_demo(session: Session, orgs: dict[str, Organisation]) -> None:
    """Give the demo firm's periodic grant to the demo bank for its trade dossiers, once (firm-admin sees it)."""
    import datetime as dt

    from openzone.core import consent
    from openzone.kit.time import utcnow

    firm = consent.Holder.organisation(orgs["firm"].id)
    if consent.grants_of(session, [firm]):
        return
    now = utcnow()
    # The trade-vault service registers "trade_dossier" when it exists; the grant is valid before that.
    terms = consent.Terms(scope=(consent.ScopeLine("trade_dossier", consent.ANY, ("customs_declarations", "invoices")),),
                          purpose="trade-finance", purpose_text="出口订单融资（演示）", reason="授信审查需要核对报关单和发票",
                          valid_from=now, valid_until=now + dt.timedelta(days=180), use_mode=consent.UseMode.PERIODIC,
                          max_uses=0, frequency=consent.Frequency.DAY, frequency_uses=10, data_life_days=30)
    consent.give_grant(session, holder=firm, requester=consent.Binding(orgs["bank"].id), terms=terms)
