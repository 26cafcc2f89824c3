"""Property: any sequence of grant, use, presentation, revocation and expiry keeps history, access records and ledger equal."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from openzone.core import consent, ledger
from openzone.core.ledger import merkle
from openzone.kit.time import utcnow
from tests import builders
from tests.core.consent.conftest import KIND, hall_and_holder, terms

GRANT_SHAPES = st.sampled_from([
    {"use_mode": "single"},
    {"use_mode": "count", "max_uses": 2},
    {"use_mode": "periodic", "frequency": "day", "frequency_uses": 2, "days": 30},
])
ACTIONS = st.one_of(
    st.tuples(st.just("give"), GRANT_SHAPES, st.sampled_from([None, "A05"])),
    st.tuples(st.just("use"), st.integers(0, 3), st.sampled_from(["A05", "A06"]), st.sampled_from(["name", "expiry"]),
              st.sampled_from(["service-window", "litigation"])),
    st.tuples(st.just("revoke"), st.integers(0, 3)),
    st.tuples(st.just("expire"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("qr"), st.integers(0, 3), st.sampled_from(["A05", "A06"]), st.booleans()),
    st.tuples(st.just("wrong_code"), st.integers(0, 3)),
    st.tuples(st.just("stranger"), st.integers(0, 3)),
)


def _access_entries(session, since, holder) -> dict[bytes, dict]:
    """Return the access entries recorded after insertion number since whose holder commitment opens to this holder."""
    out = {}
    for body in session.scalars(select(ledger.Entry.body).where(
            ledger.Entry.event_type.in_(consent.ACCESS_EVENTS), ledger.Entry.seq > since)):
        entry = json.loads(bytes(body))
        commitment = entry["commitments"].get("holder")
        if commitment and ledger.open_commitment(session, commitment, consent.holder_value(holder)):
            out[merkle.leaf_hash(bytes(body))] = entry
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(ACTIONS, min_size=1, max_size=14))
def test_history_access_records_and_ledger_agree(session, actions):
    since = session.scalar(select(func.coalesce(func.max(ledger.Entry.seq), 0)))
    hall, clerk, citizen = hall_and_holder(session)
    stranger = builders.create_org(session, kind="bank")
    holder = consent.Holder.person(citizen.id)
    grants: list[consent.Grant] = []
    for action in actions:
        kind, *args = action
        if kind == "give":
            shape, window = args
            grants.append(consent.give_grant(session, holder=holder, requester=consent.Binding(hall.id, None, window),
                                             terms=terms(**shape)))
            continue
        if not grants:
            continue
        grant = grants[args[0] % len(grants)]
        before = len(consent.history(session, holder))
        grows = 1  # every gate call and every presentation try of this holder's grant adds exactly one line
        try:
            if kind == "use":
                _, window, field, purpose = args
                consent.require_grant(session, requester=consent.Requester(hall.id, window=window, clerk_id=clerk.id),
                                      holder=holder, resource_kind=KIND, resource_id="L1", fields=[field],
                                      purpose=purpose)
            elif kind == "revoke":
                if consent.status_of(grant) in (consent.Status.ACTIVE, consent.Status.PENDING):
                    consent.revoke(session, grant.id, holders=[holder])
                continue
            elif kind == "expire":
                _, run_job = args
                grant.valid_from = min(grant.valid_from, utcnow() - dt.timedelta(days=2))
                grant.valid_until = utcnow() - dt.timedelta(seconds=1)
                session.flush()
                if run_job:
                    consent.expire_due(session)
                continue
            elif kind == "qr":
                _, window, present = args
                presentable = consent.status_of(grant) is consent.Status.ACTIVE and (
                    grant.use_mode == "periodic" or grant.uses < grant.max_uses)
                if present and presentable:
                    token = consent.present_qr(session, grant.id, holders=[holder]).secret
                else:
                    token, grows = "not-a-token", 0  # an unknown token belongs to nobody
                consent.redeem(session, requester=consent.Requester(hall.id, window=window, clerk_id=clerk.id),
                               token=token)
            elif kind == "wrong_code":
                grows = 0  # no live code at this window: the try is recorded for nobody
                consent.redeem(session, requester=consent.Requester(hall.id, window="Z99"), code="00000000")
            elif kind == "stranger":
                consent.require_grant(session, requester=consent.Requester(stranger.id), holder=None,
                                      resource_kind=KIND, resource_id="L1", fields=["name"], purpose="service-window",
                                      grant_id=grant.id)
        except consent.Refused:
            pass
        assert len(consent.history(session, holder)) == before + grows, action
    records = list(session.scalars(select(consent.Access).where(consent.Access.holder_id == citizen.id)))
    history = consent.history(session, holder)
    entries = _access_entries(session, since, holder)
    # No access without a history line, no history line without a ledger entry, no ledger entry without a line.
    assert {a.id for a in history} == {a.id for a in records}
    assert {bytes(a.leaf_hash) for a in records} == set(entries)
    for access in records:
        entry = entries[bytes(access.leaf_hash)]
        assert entry["data"]["access"] == str(access.id)
        assert entry["data"]["outcome"] == access.outcome
        assert entry["data"].get("reason") == access.reason
    assert sum(g.uses for g in grants) == sum(1 for a in records if a.action == "use" and a.outcome == "allowed")
