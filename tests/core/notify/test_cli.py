"""Notify commands against the test database."""

from __future__ import annotations

from typer.testing import CliRunner

from openzone.cli import app
from openzone.core import notify
from openzone.core.notify.models import Message
from tests import helpers

runner = CliRunner()


def test_status_counts_the_outbox():
    result = runner.invoke(app, ["notify", "status"])
    assert result.exit_code == 0, result.output
    assert "inbox" in result.output and "pending" in result.output and "failed" in result.output


def test_retry_queues_a_failed_message_again():
    person, _ = helpers.make_user()

    def failed(session):
        message = notify.send(session, person_id=person.id, subject="提醒", body="正文", channel="console")
        message.status, message.attempts, message.next_attempt_at = "failed", 6, None
        session.flush()
        return message

    message = helpers.committed(failed)
    result = runner.invoke(app, ["notify", "retry", str(message.id)])
    assert result.exit_code == 0, result.output
    assert "1" in result.output
    again = helpers.committed(lambda s: s.get(Message, message.id))
    assert (again.status, again.attempts) == ("pending", 0)
    assert runner.invoke(app, ["notify", "retry", "not-an-id"]).exit_code == 1
