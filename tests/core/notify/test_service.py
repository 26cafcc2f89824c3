"""Notify use cases on a real database, delivering to real SMTP and HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from openzone.config import Settings
from openzone.core import jobs, notify
from openzone.core.notify.models import Message
from openzone.db import transaction
from openzone.kit.errors import NotFound, ValidationFailed
from openzone.kit.time import utcnow
from tests import builders, helpers

PHONE = "13912345678"


def _email(session, person, **overrides):
    values = {"person_id": person.id, "subject": "受理通知：申请已受理", "body": "您的申请已受理，请留意后续通知。",
              "subject_en": "Application received", "body_en": "We received your application.", "channel": "email"}
    values.update(overrides)
    return notify.send(session, **values)


# --- queueing ---

def test_an_inbox_message_is_delivered_by_being_stored(session):
    person = builders.create_person(session)
    message = notify.send(session, person_id=person.id, subject="材料已补正", body="请查看。")
    assert message.status == "sent" and message.sent_at is not None and message.next_attempt_at is None
    assert notify.unread_count(session, person.id) == 1


def test_other_channels_wait_in_the_outbox(session):
    person = builders.create_person(session)
    message = _email(session, person)
    assert (message.status, message.attempts, message.sent_at) == ("pending", 0, None)
    assert message.next_attempt_at is not None
    assert notify.unread_count(session, person.id) == 0  # an e-mail is not an inbox message


def test_the_same_dedupe_key_queues_once(session):
    person = builders.create_person(session)
    key = f"test:{uuid.uuid4()}"
    first = _email(session, person, dedupe_key=key)
    assert first is not None
    assert _email(session, person, dedupe_key=key) is None
    assert notify.send(session, person_id=person.id, subject="另一条", body="正文", dedupe_key=key) is None
    assert session.scalar(select(Message.id).where(Message.dedupe_key == key)) == first.id


def test_a_rolled_back_business_change_leaves_no_message():
    person, _ = helpers.make_user()
    lost, kept = f"lost:{uuid.uuid4()}", f"kept:{uuid.uuid4()}"

    class BusinessRuleBroken(Exception):
        pass

    with pytest.raises(BusinessRuleBroken), transaction() as session:
        notify.send(session, person_id=person.id, subject="已批准", body="您的申请已批准。", dedupe_key=lost)
        raise BusinessRuleBroken
    with transaction() as session:
        notify.send(session, person_id=person.id, subject="已批准", body="您的申请已批准。", dedupe_key=kept)
    with transaction() as session:
        keys = set(session.scalars(select(Message.dedupe_key).where(Message.person_id == person.id)))
    assert keys == {kept}


@pytest.mark.parametrize(("overrides", "field"), [
    ({"subject": ""}, "subject"), ({"body": " "}, "body"), ({"subject": "两行\n标题"}, "subject"),
    ({"channel": "fax"}, "channel"), ({"dedupe_key": "k" * 201}, "dedupe_key"), ({"body_en": "x" * 10_001}, "body_en"),
])
def test_bad_notices_are_refused_with_the_field(session, overrides, field):
    person = builders.create_person(session)
    with pytest.raises(ValidationFailed) as err:
        _email(session, person, **overrides)
    assert err.value.errors[0]["field"] == field and err.value.detail and err.value.detail_en


def test_an_unknown_person_is_refused(session):
    with pytest.raises(NotFound):
        notify.send(session, person_id=uuid.uuid4(), subject="标题", body="正文")


def test_an_address_must_suit_its_channel_and_is_stored_encrypted(session):
    with pytest.raises(ValidationFailed):
        notify.send_to_address(session, channel="sms", address="12345", subject="标题", body="正文")
    with pytest.raises(ValidationFailed):
        notify.send_to_address(session, channel="inbox", address="a@b.cn", subject="标题", body="正文")
    message = notify.send_to_address(session, channel="sms", address=PHONE, subject="标题", body="正文")
    assert message.status == "pending" and PHONE.encode() not in message.address_enc


# --- the inbox ---

def test_the_inbox_lists_newest_first_a_page_at_a_time(session):
    person, other = builders.create_person(session), builders.create_person(session)
    sent = [notify.send(session, person_id=person.id, subject=f"第{i}条", body="正文") for i in range(3)]
    notify.send(session, person_id=other.id, subject="别人的", body="正文")
    _email(session, person)
    first = notify.inbox(session, person.id, limit=2)
    assert [m.id for m in first.items] == [sent[2].id, sent[1].id] and first.next_cursor
    second = notify.inbox(session, person.id, limit=2, cursor=first.next_cursor)
    assert [m.id for m in second.items] == [sent[0].id] and second.next_cursor is None


def test_a_bad_cursor_or_limit_is_refused(session):
    person = builders.create_person(session)
    with pytest.raises(ValidationFailed):
        notify.inbox(session, person.id, cursor="bm90LWEtY3Vyc29y")
    with pytest.raises(ValidationFailed):
        notify.inbox(session, person.id, limit=0)


def test_marking_read(session):
    person, other = builders.create_person(session), builders.create_person(session)
    a = notify.send(session, person_id=person.id, subject="甲", body="正文")
    b = notify.send(session, person_id=person.id, subject="乙", body="正文")
    c = notify.send(session, person_id=person.id, subject="丙", body="正文")
    read = notify.mark_read(session, person.id, a.id)
    first_read_at = read.read_at
    assert first_read_at is not None
    assert notify.mark_read(session, person.id, a.id).read_at == first_read_at  # again is harmless
    assert [m.id for m in notify.inbox(session, person.id, unread_only=True).items] == [c.id, b.id]
    with pytest.raises(NotFound):
        notify.mark_read(session, other.id, b.id)  # someone else's message is not found
    assert notify.mark_all_read(session, person.id) == 2
    assert notify.unread_count(session, person.id) == 0 and b.read_at is not None


# --- delivery ---

def test_an_email_goes_out_with_its_chinese_subject(session, mail_server, notify_settings, park):
    person = builders.create_person(session)
    message = _email(session, person)
    park(message)
    done = notify.deliver_due(session, settings=notify_settings)
    assert done.sent == 1 and message.status == "sent" and message.attempts == 1 and message.sent_at is not None
    [mail] = mail_server.to(person.email)
    assert str(mail["Subject"]) == "受理通知：申请已受理"
    assert mail["From"] == "noreply@openzone.test" and mail["Message-ID"] == f"<{message.id}@openzone.test>"
    text = mail.get_content()
    assert text.index("您的申请已受理") < text.index("Application received") < text.index("We received your application.")


def test_an_sms_is_posted_to_the_gateway(session, gateway, notify_settings, park):
    person = builders.create_person(session, phone=PHONE)
    message = notify.send(session, person_id=person.id, subject="取件提醒", body="证照已可领取。", channel="sms")
    park(message)
    assert notify.deliver_due(session, settings=notify_settings).sent == 1
    [(body, headers)] = gateway.to(PHONE)
    assert body == {"to": PHONE, "text": "取件提醒\n证照已可领取。"}
    assert headers["Idempotency-Key"] == str(message.id) and message.status == "sent"


def test_a_failing_gateway_is_retried_with_backoff_then_given_up(session, gateway, notify_settings, park):
    gateway.status = 500
    person = builders.create_person(session, phone=PHONE)
    message = notify.send(session, person_id=person.id, subject="提醒", body="正文", channel="sms")
    park(message)
    now = utcnow()
    for attempt in (1, 2):
        notify.deliver_due(session, settings=notify_settings, now=now)
        assert (message.status, message.attempts) == ("pending", attempt)
        assert message.next_attempt_at == now + jobs.backoff(attempt)
        assert "500" in message.last_error
        assert notify.deliver_due(session, settings=notify_settings, now=now).sent == 0  # not due yet
        now = message.next_attempt_at
    notify.deliver_due(session, settings=notify_settings, now=now)
    assert (message.status, message.attempts, message.next_attempt_at) == ("failed", 3, None)
    assert len(gateway.to(PHONE)) == 3
    later = now + dt.timedelta(days=1)
    notify.deliver_due(session, settings=notify_settings, now=later)
    assert len(gateway.to(PHONE)) == 3  # a failed message stays failed


def test_a_gateway_that_refuses_the_request_is_not_retried(session, gateway, notify_settings, park):
    gateway.status = 400
    person = builders.create_person(session, phone=PHONE)
    message = notify.send(session, person_id=person.id, subject="提醒", body="正文", channel="sms")
    park(message)
    assert notify.deliver_due(session, settings=notify_settings).failed == 1
    assert message.status == "failed" and message.attempts == 1 and "400" in message.last_error


def test_a_permanent_smtp_refusal_fails_at_once_and_a_transient_one_retries(session, mail_server, notify_settings, park):
    person = builders.create_person(session)
    refused = _email(session, person)
    park(refused)
    mail_server.rcpt_reply = "550 5.1.1 no such mailbox"
    notify.deliver_due(session, settings=notify_settings)
    assert refused.status == "failed" and "550" in refused.last_error
    busy = _email(session, person)
    park(busy)
    mail_server.rcpt_reply, mail_server.data_reply = None, "451 4.3.0 try again later"
    notify.deliver_due(session, settings=notify_settings)
    assert busy.status == "pending" and "451" in busy.last_error


def test_an_unreachable_mail_server_is_retried(session, closed_port, park):
    person = builders.create_person(session)
    message = _email(session, person)
    park(message)
    notify.deliver_due(session, settings=Settings(smtp_host="127.0.0.1", smtp_port=closed_port, notify_max_attempts=3))
    assert message.status == "pending" and "unreachable" in message.last_error


def test_messages_that_cannot_be_addressed_fail_with_the_reason(session, notify_settings, park):
    person = builders.create_person(session)  # no phone
    no_phone = notify.send(session, person_id=person.id, subject="提醒", body="正文", channel="sms")
    park(no_phone)
    notify.deliver_due(session, settings=notify_settings)
    assert no_phone.status == "failed" and "mobile" in no_phone.last_error
    unconfigured = notify.send_to_address(session, channel="sms", address=PHONE, subject="提醒", body="正文")
    park(unconfigured)
    notify.deliver_due(session, settings=Settings(sms_webhook_url=""))
    assert unconfigured.status == "failed" and "SMS_WEBHOOK_URL" in unconfigured.last_error


def test_a_message_to_an_address_reaches_it(session, mail_server, gateway, notify_settings, park):
    by_mail = notify.send_to_address(session, channel="email", address="visitor@example.cn", subject="预约确认",
                                     body="请按时到场。")
    by_sms = notify.send_to_address(session, channel="sms", address=PHONE, subject="预约确认", body="请按时到场。")
    park(by_mail, by_sms)
    assert notify.deliver_due(session, settings=notify_settings).sent == 2
    assert str(mail_server.to("visitor@example.cn")[0]["Subject"]) == "预约确认"
    assert gateway.to(PHONE)[0][0]["text"] == "预约确认\n请按时到场。"


def test_the_worker_delivers_through_the_registered_job(session, park, caplog):
    person = builders.create_person(session)
    message = notify.send(session, person_id=person.id, subject="控制台通知", body="开发环境", channel="console")
    park(message)
    assert "notify.deliver" in jobs.registered_kinds()
    job = jobs.enqueue(session, "notify.deliver")
    leased = jobs.claim(session, "notify-test-worker", limit=10_000)
    assert job.id in leased
    with caplog.at_level("INFO", logger="openzone.notify"):
        assert jobs.run_job(session, job.id, "notify-test-worker")
    assert message.status == "sent" and "控制台通知" in caplog.text


def test_failed_messages_can_be_queued_again(session, gateway, notify_settings, park):
    gateway.status = 400
    person = builders.create_person(session, phone=PHONE)
    message = notify.send(session, person_id=person.id, subject="提醒", body="正文", channel="sms")
    park(message)
    notify.deliver_due(session, settings=notify_settings)
    assert message.status == "failed"
    assert notify.outbox_counts(session)[("sms", "failed")] >= 1
    assert notify.retry_failed(session, message_id=message.id) == 1
    assert (message.status, message.attempts) == ("pending", 0)
    gateway.status = 200
    park(message)
    notify.deliver_due(session, settings=notify_settings)
    assert message.status == "sent"


def test_a_one_time_code_rests_only_encrypted_and_is_deleted_once_sent(session, gateway, notify_settings, park):
    person = builders.create_person(session, phone=PHONE)
    message = notify.send(session, person_id=person.id, subject="验证码", body="验证码 48213907，10分钟内有效。",
                          body_en="Code 48213907, valid for 10 minutes.", channel="sms", sensitive=True)
    session.flush()
    stored = session.execute(select(Message.body, Message.body_en, Message.content_enc)
                             .where(Message.id == message.id)).one()
    assert "48213907" not in stored.body + stored.body_en and b"48213907" not in stored.content_enc
    park(message)
    assert notify.deliver_due(session, settings=notify_settings).sent == 1
    [(body, _)] = gateway.to(PHONE)
    assert "48213907" in body["text"]
    assert message.content_enc is None and message.body == notify.SENSITIVE_PLACEHOLDER[0]


def test_a_one_time_code_that_cannot_be_sent_is_deleted_and_never_retried(session, gateway, notify_settings, park):
    gateway.status = 500
    person = builders.create_person(session, phone=PHONE)
    message = notify.send(session, person_id=person.id, subject="验证码", body="验证码 48213907", channel="sms",
                          sensitive=True)
    park(message)
    now = utcnow()
    while message.status == "pending":
        notify.deliver_due(session, settings=notify_settings, now=now)
        now = message.next_attempt_at or now
    assert message.status == "failed" and message.content_enc is None
    assert notify.retry_failed(session, message_id=message.id) == 0


def test_one_time_content_is_refused_for_the_inbox(session):
    person = builders.create_person(session)
    with pytest.raises(ValidationFailed):
        notify.send(session, person_id=person.id, subject="验证码", body="123456", sensitive=True)
