"""The demo load files the demo firm's shipments once and lists the platform's demo grant for the demo bank."""

from __future__ import annotations

from sqlalchemy import func, select

from openzone import demo
from openzone.core import identity
from openzone.db import transaction
from openzone.services.trade_vault import demo as vault_demo
from openzone.services.trade_vault import service, sharing
from openzone.services.trade_vault.models import Document


def test_demo_load_twice_files_once():
    with transaction() as session:
        demo.load(session)
    with transaction() as session:
        assert vault_demo.load(session) == 0
        firm = next(o for o in identity.organisations(session) if o.name == vault_demo.FIRM)
        bank = next(o for o in identity.organisations(session) if o.name == vault_demo.BANK)
        count = session.scalar(select(func.count()).select_from(Document).where(Document.org_id == firm.id))
        assert count == len(vault_demo.FILES)
        titles = {d.title: service.completeness(session, d.id) for d in service.dossiers(session, firm.id)}
        assert titles["报关单 010120260000000011"].complete
        assert [c.value for c in titles["报关单 010120260000000022"].missing] == ["contract"]
        assert [s.resource_kind for s, _ in sharing.grants_to_bank(session, bank.id)] == ["trade_dossier"]
