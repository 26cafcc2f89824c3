"""No ledger entry of the demo data holds a name, a phone number or an ID number (issue 3 §1)."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from openzone import demo
from openzone.cli import app
from openzone.config import get_settings
from openzone.core import ledger
from openzone.core.identity.models import Organisation, Person
from openzone.core.ledger import domain
from openzone.db import transaction
from openzone.kit import crypto

runner = CliRunner()


def _demo_secrets(session) -> list[str]:
    key = get_settings().secret("data")
    values = []
    for person in session.scalars(select(Person).where(Person.email.like("%@demo.openzone.cn"))):
        values.append(person.name)
        if person.phone_enc:
            values.append(crypto.decrypt(key, person.phone_enc, context="identity_person.phone"))
        if person.id_number_enc:
            values.append(crypto.decrypt(key, person.id_number_enc, context="identity_person.id_number"))
    return values


def test_no_demo_entry_holds_a_name_phone_or_id_number():
    result = runner.invoke(app, ["demo", "load"])
    assert result.exit_code == 0, result.output
    with transaction() as session:
        secrets = _demo_secrets(session)
        assert len(secrets) == 3 * len(demo.PEOPLE)
        # The check is not vacuous: the demo records each organisation's registration, its credit code committed.
        demo_orgs = session.scalars(select(Organisation).where(Organisation.name.in_([o[1] for o in demo.ORGS]))).all()
        registered = session.scalars(select(ledger.Entry).where(ledger.Entry.event_type == demo.ORG_REGISTERED,
                                                                ledger.Entry.actor_org_id.in_([o.id for o in demo_orgs]))
                                     ).all()
        assert len(registered) == len(demo.ORGS)
        for entry in registered:
            body = json.loads(ledger.entry_bytes(entry))
            org = next(o for o in demo_orgs if o.id == entry.actor_org_id)
            assert ledger.open_commitment(session, body["commitments"]["uscc"], org.uscc)
        bodies = [ledger.entry_bytes(e) for e in session.scalars(select(ledger.Entry))]
    for body in bodies:
        text = body.decode("utf-8")
        assert domain.personal_identifier_in(json.loads(text)) is None, text
        for secret in secrets:
            assert secret not in text, f"{secret!r} appears in a ledger entry"
    # Loading again records nothing twice.
    assert runner.invoke(app, ["demo", "load"]).exit_code == 0
    with transaction() as session:
        again = session.scalars(select(ledger.Entry.seq).where(ledger.Entry.event_type == demo.ORG_REGISTERED,
                                                              ledger.Entry.actor_org_id.in_([o.id for o in demo_orgs]))
                                ).all()
    assert len(again) == len(demo.ORGS)
