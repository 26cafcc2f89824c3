"""Recording pending ledger entries and salted commitments on a real database."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid

import pytest
from sqlalchemy import delete, func, select

from openzone.core import ledger
from openzone.core.ledger.models import Entry, Leaf, Queued, Salt
from openzone.db import new_session, transaction
from openzone.kit.errors import ValidationFailed
from openzone.kit.time import rfc3339

DIGEST = "sha256:" + hashlib.sha256(b"licence.pdf").hexdigest()
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_an_entry_is_stored_pending_with_its_exact_canonical_bytes(session):
    org_id = uuid.uuid4()
    holder = ledger.commit(session, "id_number", "11010519491231002X")
    entry = ledger.record(session, "e_license.retrieved", actor_org_id=org_id, digests={"licence": DIGEST},
                          commitments={"holder": holder}, data={"purpose": "办理开户", "count": 2, "repeat": False,
                                                                 "items": ["营业执照", None]})
    time = rfc3339(entry.created_at)
    assert TIME_RE.match(time)
    expected = (
        '{"actor":"' + str(org_id) + '","commitments":{"holder":"' + holder + '"},'
        '"data":{"count":2,"items":["营业执照",null],"purpose":"办理开户","repeat":false},'
        '"digests":{"licence":"' + DIGEST + '"},"time":"' + time + '","type":"e_license.retrieved","v":1}'
    ).encode()
    assert ledger.entry_bytes(entry) == expected
    assert entry.leaf_hash == hashlib.sha256(b"\x00" + expected).digest()
    assert entry.event_type == "e_license.retrieved" and entry.actor_org_id == org_id
    stored = session.execute(select(Entry).where(Entry.leaf_hash == entry.leaf_hash)).scalar_one()
    assert bytes(stored.body) == expected and stored.leaf_index is None
    # Written below the ORM, read back through it: the same organisation id on SQLite and PostgreSQL.
    assert stored.actor_org_id == org_id and stored.event_type == "e_license.retrieved"
    assert stored.leaf_key == int.from_bytes(entry.leaf_hash[:8], "big", signed=True)


def test_an_entry_without_actor_or_extras_has_every_field(session):
    entry = ledger.record(session, "platform.started", actor_org_id=None)
    body = json.loads(ledger.entry_bytes(entry))
    assert body == {"v": 1, "type": "platform.started", "time": body["time"], "actor": None, "digests": {},
                    "commitments": {}, "data": {}}


def test_keys_sort_by_utf16_code_units_as_rfc8785_says(session):
    entry = ledger.record(session, "test.sorting", actor_org_id=None, data={"\uff46": 1, "\U0001f600": 2, "a": 3})
    assert b'"data":{"a":3,"\xf0\x9f\x98\x80":2,"\xef\xbd\x86":1}' in ledger.entry_bytes(entry)


def test_the_canonical_form_is_its_own_fixed_point(session):
    entry = ledger.record(session, "test.escapes", actor_org_id=None, data={"s": "引号\"\\\n\t\u2028\x01é"})
    raw = ledger.entry_bytes(entry)
    assert ledger.canonical_json(json.loads(raw)) == raw
    assert b'"s":"\xe5\xbc\x95\xe5\x8f\xb7\\"\\\\\\n\\t\xe2\x80\xa8\\u0001\xc3\xa9"' in raw


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"event_type": "Bad.Type"}, "event_type"),
    ({"digests": {"doc": "md5:abc"}}, "digests"),
    ({"commitments": {"holder": "110105194912310021"}}, "commitments"),
    ({"data": {"rate": 0.035}}, "data"),
    ({"data": ["not", "an", "object"]}, "data"),
    ({"data": {"blob": "x" * 9000}}, "data"),
    ({"data": {"mobile": "13812345678"}}, "data"),
    ({"actor_org_id": "not-a-uuid"}, "actor_org_id"),
])
def test_invalid_entries_are_refused(session, kwargs, field):
    args = {"event_type": "test.event", "actor_org_id": None, **kwargs}
    with pytest.raises(ledger.InvalidEntry) as err:
        ledger.record(session, args.pop("event_type"), **args)
    assert err.value.status == 422 and err.value.errors[0]["field"] == field
    assert err.value.detail and err.value.detail_en


def test_a_well_formed_commitment_not_made_by_commit_is_refused(session):
    forged = "c1:" + hashlib.sha256(b"11010519491231002X").hexdigest()
    with pytest.raises(ledger.InvalidEntry) as err:
        ledger.record(session, "test.event", actor_org_id=None, commitments={"holder": forged})
    assert err.value.errors[0] == {"field": "commitments", "code": "unknown", "values": [forged]}


def test_no_personal_data_reaches_an_entry(session):
    id_number = "11010519491231002X"
    holder = ledger.commit(session, "id_number", id_number)
    entry = ledger.record(session, "consent.grant.used", actor_org_id=None, commitments={"holder": holder},
                          data={"purpose": "贷款审批"})
    raw = ledger.entry_bytes(entry)
    assert id_number.encode() not in raw
    # Nor an unsalted hash that anyone could match by trying every ID number.
    assert hashlib.sha256(id_number.encode()).hexdigest().encode() not in raw
    with pytest.raises(ledger.InvalidEntry):
        ledger.record(session, "consent.grant.used", actor_org_id=None, data={"holder": id_number})


def test_commitments_are_salted_and_open_only_with_the_value(session):
    first = ledger.commit(session, "id_number", "11010519491231002X")
    second = ledger.commit(session, "id_number", "11010519491231002X")
    assert first != second and first.startswith("c1:") and len(first) == 67
    assert ledger.open_commitment(session, first, "11010519491231002X")
    assert not ledger.open_commitment(session, first, "110105194912310021")
    assert not ledger.open_commitment(session, "c1:" + "0" * 64, "11010519491231002X")
    assert not ledger.open_commitment(session, "garbage", "11010519491231002X")


@pytest.mark.parametrize("count", [1, 2, 32, 33, 199, 200, 249, 250, 500])
def test_every_salt_and_entry_of_a_transaction_is_written_whatever_their_number(session, count):
    # Entries go in as multi-row INSERTs (SQLite: 199 a statement; PostgreSQL: up to 32 in one) or by COPY beyond,
    # salts as multi-row INSERTs of up to 249: each size on each side of a boundary arrives whole.
    values = [f"1380000{n:04d}" for n in range(count)]
    made = [ledger.commit(session, "phone", value) for value in values]
    recorded = [ledger.record(session, "test.sizes", actor_org_id=uuid.uuid4() if n % 2 else None,
                              commitments={"holder": c}, data={"n": n}) for n, c in enumerate(made)]
    session.flush()
    session.expire_all()
    for commitment, value in zip(made, values, strict=True):
        assert ledger.open_commitment(session, commitment, value)
    kept = session.get(Salt, made[-1])
    assert kept.kind == "phone" and abs((kept.created_at - dt.datetime.now(dt.UTC)).total_seconds()) < 60
    bodies = dict(session.execute(select(Entry.leaf_hash, Entry.body).where(
        Entry.leaf_hash.in_([r.leaf_hash for r in recorded]))).all())
    assert len(bodies) == count
    for entry in recorded:
        assert bytes(bodies[entry.leaf_hash]) == ledger.entry_bytes(entry)
    stored = dict(session.execute(select(Entry.leaf_hash, Entry.actor_org_id).where(
        Entry.leaf_hash.in_([r.leaf_hash for r in recorded]))).all())
    assert all(stored[r.leaf_hash] == r.actor_org_id for r in recorded)


def test_a_holder_can_prove_the_link_offline(session):
    commitment = ledger.commit(session, "phone", "13812345678")
    opening = ledger.opening(session, commitment)
    assert opening.kind == "phone" and len(opening.salt) == 32 and opening.salt_hex == opening.salt.hex()
    assert ledger.check_opening(commitment, kind=opening.kind, salt=bytes.fromhex(opening.salt_hex), value="13812345678")


def test_bad_commitment_input_is_refused(session):
    with pytest.raises(ledger.InvalidCommitment):
        ledger.commit(session, "ID Number", "x")
    with pytest.raises(ledger.InvalidCommitment):
        ledger.commit(session, "id_number", "")


def test_erasing_salts_leaves_entries_intact(session):
    commitment = ledger.commit(session, "id_number", "11010519491231002X")
    other = ledger.commit(session, "id_number", "110105194912310021")
    entry = ledger.record(session, "test.event", actor_org_id=None, commitments={"holder": commitment})
    before = ledger.entry_bytes(entry)
    assert ledger.erase_salts(session, [commitment, commitment]) == 1
    assert ledger.erase_salts(session, []) == 0
    session.expire_all()
    assert session.get(Salt, commitment) is None and session.get(Salt, other) is not None
    assert not ledger.open_commitment(session, commitment, "11010519491231002X")
    assert ledger.opening(session, commitment) is None
    assert bytes(session.scalars(select(Entry.body).where(Entry.leaf_hash == entry.leaf_hash)).one()) == before
    # An erased commitment cannot be used again.
    with pytest.raises(ledger.InvalidEntry):
        ledger.record(session, "test.event", actor_org_id=None, commitments={"holder": commitment})


def test_pending_lists_entries_not_yet_integrated_oldest_first(session):
    made = [ledger.record(session, "test.pending", actor_org_id=None, data={"n": n}).leaf_hash for n in range(3)]
    # The first integrated by hand here; the integrator does it later.
    session.flush()
    seq = session.scalar(select(Entry.seq).where(Entry.leaf_hash == made[0]))
    session.add(Leaf(leaf_index=2**40, seq=seq, leaf_key=0))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(delete(Queued).where(Queued.seq == seq))
    listed = ledger.pending(session, limit=1000)
    assert [bytes(e.leaf_hash) for e in listed if bytes(e.leaf_hash) in made] == [made[1], made[2]]
    assert listed == sorted(listed, key=lambda e: e.seq)
    assert len(ledger.pending(session, limit=1)) == 1
    for bad in (0, 10_001):
        with pytest.raises(ValidationFailed):
            ledger.pending(session, limit=bad)


def test_the_readme_example_is_exact():
    body = {"v": 1, "type": "e_license.retrieved", "time": "2026-11-27T08:30:00.123Z",
            "actor": "0192f5a0-1c2d-7e3f-8a4b-5c6d7e8f9a0b", "digests": {"licence": DIGEST},
            "commitments": {"holder": "c1:7b600d6b5c3487a1f932c9cfb6043afb8e4df81726cc5bad7c1402045d09d385"},
            "data": {"purpose": "开立银行账户", "count": 1}}
    raw = ledger.canonical_json(body)
    assert raw.decode() == (
        '{"actor":"0192f5a0-1c2d-7e3f-8a4b-5c6d7e8f9a0b","commitments":{"holder":"c1:7b600d6b5c3487a1f932c9cfb6043afb8e4d'
        'f81726cc5bad7c1402045d09d385"},"data":{"count":1,"purpose":"开立银行账户"},"digests":{"licence":"sha256:16a1795'
        '4916f1bbbb9081a93afdd96f77918dca97748c00c2b17f983c674d767"},"time":"2026-11-27T08:30:00.123Z","type":"e_license.'
        'retrieved","v":1}')
    assert hashlib.sha256(raw).hexdigest() == "239770698351e153606e218539959a563ba58563c73eba272a7ad18360d02d10"
    assert hashlib.sha256(b"\x00" + raw).hexdigest() == "b1ed33ce4cdec0d68622ad27834718109bda557b4865c474620f4a9916ddb651"


def test_an_entry_commits_with_its_transaction_and_leaves_with_its_rollback():
    def count(session, leaf):
        return session.scalar(select(func.count()).select_from(Entry).where(Entry.leaf_hash == leaf))

    with transaction() as session:
        kept = ledger.record(session, "test.committed", actor_org_id=None, data={"n": uuid.uuid4().hex}).leaf_hash
    with transaction() as session:
        assert count(session, kept) == 1
    session = new_session()
    try:
        dropped = ledger.record(session, "test.rolled_back", actor_org_id=None, data={"n": uuid.uuid4().hex}).leaf_hash
        # Any statement in the transaction sees the entry, as the ORM's autoflush shows its own rows.
        assert count(session, dropped) == 1
        session.rollback()
        not_written = ledger.record(session, "test.never", actor_org_id=None, data={"n": uuid.uuid4().hex}).leaf_hash
        session.rollback()
        assert count(session, dropped) == 0 and count(session, not_written) == 0
    finally:
        session.close()


def test_an_entry_recorded_in_a_rolled_back_savepoint_is_gone(session):
    outer = ledger.record(session, "test.outer", actor_org_id=None, data={"n": uuid.uuid4().hex}).leaf_hash
    savepoint = session.begin_nested()
    inner = ledger.record(session, "test.inner", actor_org_id=None, data={"n": uuid.uuid4().hex}).leaf_hash
    savepoint.rollback()
    found = set(session.scalars(select(Entry.leaf_hash).where(Entry.leaf_hash.in_([outer, inner]))))
    assert found == {outer}
