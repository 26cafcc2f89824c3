"""Issuing receipts from the stored log and checking them against the keys the deployment publishes."""

from __future__ import annotations

import io
import uuid

import pypdf
import pytest
from sqlalchemy import text, update

from openzone.core import documents, ledger
from openzone.core.ledger import merkle, note, receipt, receipt_service, receipt_web
from openzone.core.ledger.models import PublishedCheckpoint
from openzone.core.ledger.receipt import QuorumNotMet, UntrustedCheckpoint
from openzone.db import transaction
from tests.core.ledger import scratch
from tests.core.ledger import witness_helpers as wh


def _integrated(session, event_type: str = "test.receipt", **kwargs) -> ledger.Entry:
    recorded = ledger.record(session, event_type, actor_org_id=kwargs.pop("actor_org_id", None), **kwargs)
    while ledger.integrate(session):
        pass
    return ledger.entry_by_leaf_hash(session, recorded.leaf_hash)


def test_a_receipt_proves_an_integrated_entry_to_the_published_keys(session):
    org_id = uuid.uuid4()
    holder = ledger.commit(session, "id_number", "11010519491231002X")
    entry = _integrated(session, actor_org_id=org_id, commitments={"holder": holder},
                        digests={"licence": "sha256:" + "ab" * 32}, data={"purpose": "开立银行账户"})
    issued = receipt_service.issue(session, bytes(entry.leaf_hash))
    assert issued.data.startswith(b"c2sp.org/tlog-proof@v1\nextra ")
    assert receipt.parse_receipt(issued.data).entry == ledger.entry_bytes(entry)
    assert issued.checkpoint.size == ledger.tree_size(session) == issued.tree_size
    assert issued.filename == f"openzone-{bytes(entry.leaf_hash).hex()[:16]}.tlog-proof"
    verdict = receipt_service.verify(session, issued.data)
    assert verdict.index == entry.leaf_index and verdict.origin == ledger.log_origin()
    assert verdict.fields.actor == str(org_id) and verdict.fields.commitments == {"holder": holder}
    assert verdict.fields.data == {"purpose": "开立银行账户"}
    # Offline, with nothing but the published keys file.
    keys = receipt.parse_keys(receipt_service.published_keys(session).text())
    log_keys, witness_keys = receipt.split_keys(keys)
    assert log_keys == [note.parse_vkey(ledger.log_vkey())]
    assert receipt.verify_receipt(issued.data, log_keys=log_keys, witness_keys=witness_keys,
                                  quorum=receipt_service.published_keys(session).quorum).index == entry.leaf_index


def test_erasing_a_holders_salt_leaves_the_receipt_valid(session):
    holder = ledger.commit(session, "id_number", "11010519491231002X")
    entry = _integrated(session, commitments={"holder": holder})
    before = receipt_service.issue(session, bytes(entry.leaf_hash)).data
    assert ledger.erase_salts(session, [holder]) == 1
    after = receipt_service.issue(session, bytes(entry.leaf_hash)).data
    assert after == before
    assert receipt_service.verify(session, after).fields.commitments == {"holder": holder}


def test_only_integrated_entries_have_receipts(session):
    pending = ledger.record(session, "test.pending", actor_org_id=None)
    leaf = merkle.leaf_hash(ledger.entry_bytes(pending))
    with pytest.raises(ledger.EntryNotFound) as err:
        receipt_service.issue(session, leaf)
    assert err.value.status == 404 and "下一个检查点" in err.value.detail
    with pytest.raises(ledger.EntryNotFound):
        receipt_service.issue(session, bytes(32))


def test_a_receipt_leads_to_the_newest_final_checkpoint_covering_the_entry(session):
    entry = _integrated(session)
    covering = ledger.tree_size(session)
    session.execute(update(PublishedCheckpoint).where(PublishedCheckpoint.size == covering).values(final=True))
    _integrated(session, "test.later")
    assert ledger.tree_size(session) > covering
    assert receipt_service.receipt_checkpoint(session, entry.leaf_index).size == covering
    issued = receipt_service.issue(session, bytes(entry.leaf_hash))
    assert issued.checkpoint.size == covering and issued.tree_size > covering
    assert receipt_service.verify(session, issued.data).size == covering
    # An entry newer than every final checkpoint gets the newest one.
    newer = _integrated(session, "test.newest")
    assert receipt_service.receipt_checkpoint(session, newer.leaf_index).size == ledger.tree_size(session)


def test_a_receipt_from_another_log_is_refused_even_though_it_carries_a_signed_checkpoint(session):
    entry = _integrated(session)
    issued = receipt_service.issue(session, bytes(entry.leaf_hash))
    stranger, _ = note.generate_signer(ledger.log_origin())
    parsed = receipt.parse_receipt(issued.data)
    body = parsed.checkpoint.body()
    forged = receipt.build_receipt(entry=parsed.entry, index=parsed.index, proof=parsed.proof,
                                   signed_checkpoint=note.sign_note(body, [stranger]))
    with pytest.raises(UntrustedCheckpoint):
        receipt_service.verify(session, forged)


def test_the_published_keys_file_names_the_origin_and_quorum(session):
    keys = receipt_service.published_keys(session)
    text = keys.text()
    assert text.splitlines()[1] == f"# origin {ledger.log_origin()}"
    assert f"# quorum {keys.quorum} of {len(keys.witnesses)} witnesses" in text
    assert ledger.log_vkey() + "\n" in text
    assert all(line.startswith("#") or note.parse_vkey(line) for line in text.splitlines())


WITNESSES = ("court.receipt.test/w", "bank.receipt.test/w")


def test_a_receipt_carries_the_cosignatures_of_real_witnesses_and_must_meet_the_quorum(session, tmp_path):
    with wh.witnesses(tmp_path, WITNESSES, [ledger.log_vkey()]) as started:
        for w in started:
            ledger.add_witness(session, name=w.name, vkey=w.vkey, url=w.url)
        entry = _integrated(session)
        leaf = bytes(entry.leaf_hash)
        unsigned = receipt_service.issue(session, leaf)
        assert unsigned.verdict.cosigners == () and not unsigned.final
        with pytest.raises(QuorumNotMet) as err:
            receipt_service.verify(session, unsigned.data)
        assert "at least 2" in err.value.en
        assert ledger.cosign_latest(session).final
    issued = receipt_service.issue(session, leaf)
    assert sorted(c.name for c in issued.verdict.cosigners) == sorted(WITNESSES) and issued.final
    verdict = receipt_service.verify(session, issued.data)
    assert (len(verdict.cosigners), verdict.quorum, verdict.witnesses) == (2, 2, 2)
    published = receipt_service.published_keys(session)
    assert "# quorum 2 of 2 witnesses" in published.text()
    log_keys, witness_keys = receipt.split_keys(receipt.parse_keys(published.text()))
    assert sorted(k.name for k in witness_keys) == sorted(WITNESSES)
    assert len(receipt.verify_receipt(issued.data, log_keys=log_keys, witness_keys=witness_keys).cosigners) == 2
    certificate = documents.render_pdf(receipt_web.CERTIFICATE, receipt_web.certificate_context(issued))
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(certificate)).pages)
    assert all(name in text for name in WITNESSES) and "2 / 2" in text
    # Entries integrated later leave this receipt on the cosigned (final) checkpoint.
    _integrated(session, "test.later")
    assert receipt_service.issue(session, leaf).data == issued.data
    # A deactivated witness is no longer published, and the quorum follows the active ones.
    ledger.set_witness_active(session, name=WITNESSES[0], active=False)
    published = receipt_service.published_keys(session)
    assert [w.name for w in published.witnesses] == [WITNESSES[1]] and published.quorum == 1
    assert [c.name for c in receipt_service.verify(session, issued.data).cosigners] == [WITNESSES[1]]


def test_the_newest_final_checkpoint_is_found_by_its_partial_index():
    # Without witnesses no checkpoint is final: the query must not walk every checkpoint to learn that. A database of
    # its own, so that other tests' checkpoints (some final) do not change the planner's choice.
    with scratch.scratch_database() as url, transaction(url) as session:
        for _ in range(200):
            ledger.record(session, "test.checkpointed", actor_org_id=None)
            ledger.integrate(session, max_batch=1)
        sql = str(receipt_service.NEWEST_FINAL.params(index=5).compile(session.get_bind(),
                                                                       compile_kwargs={"literal_binds": True}))
        if session.get_bind().dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in session.execute(text("EXPLAIN QUERY PLAN " + sql)))
        else:
            # As autovacuum does once the table has grown: the planner then knows how few checkpoints are final.
            session.execute(text("ANALYZE ledger_checkpoint"))
            plan = " ".join(row[0] for row in session.execute(text("EXPLAIN " + sql)))
    assert "ix_ledger_checkpoint_final" in plan, plan
