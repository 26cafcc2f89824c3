"""Real receivers for notify tests: an SMTP server (aiosmtpd) and an SMS gateway (http.server), both on 127.0.0.1."""

from __future__ import annotations

import email
import json
import socket
import threading
from dataclasses import dataclass, field
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update
from sqlalchemy.orm import Session

from openzone.config import Settings
from openzone.core.notify.models import Message
from openzone.kit.time import utcnow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MailServer:
    """Collect the mail an SMTP server accepts; rcpt_reply or data_reply make it refuse instead."""

    port: int = 0
    received: list = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.received.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    def to(self, address: str) -> list:
        """Return the messages delivered to an address."""
        return [msg for rcpts, msg in self.received if address in rcpts]


@dataclass
class Gateway:
    """Record the JSON posted to an SMS gateway and answer with status."""

    port: int = 0
    status: int = 200
    received: list = field(default_factory=list)

    def to(self, phone: str) -> list:
        """Return the posts (body, headers) addressed to a phone number."""
        return [(body, headers) for body, headers in self.received if body.get("to") == phone]


@pytest.fixture
def closed_port() -> int:
    """Return a local port nobody listens on."""
    return _free_port()


@pytest.fixture
def mail_server():
    """Run an SMTP server for the test."""
    server = MailServer(port=_free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def gateway():
    """Run an HTTP SMS gateway for the test."""
    state = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length", 0))
            state.received.append((json.loads(self.rfile.read(length)), dict(self.headers)))
            self.send_response(state.status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def notify_settings(mail_server, gateway):
    """Build settings that point the channels at this test's receivers."""
    return Settings(smtp_host="127.0.0.1", smtp_port=mail_server.port, smtp_sender="noreply@openzone.test",
                    sms_webhook_url=f"http://127.0.0.1:{gateway.port}/sms", notify_max_attempts=3)


@pytest.fixture
def park(session: Session):
    """Return a function that moves every other pending message (committed by other tests) out of this test's rounds."""

    def park_others(*keep: Message) -> None:
        far = utcnow().replace(year=utcnow().year + 100)
        session.execute(update(Message).where(Message.status == "pending", Message.id.not_in([m.id for m in keep]))
                        .values(next_attempt_at=far).execution_options(synchronize_session=False))

    return park_others
