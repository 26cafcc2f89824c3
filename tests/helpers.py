"""Helpers for tests that drive the app over HTTP as a browser or a program would."""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core.identity.domain import PERSONAL_DATA_ROLES
from openzone.core.identity.models import Person
from openzone.db import transaction
from openzone.kit import crypto
from openzone.kit.time import utcnow
from tests import builders

ROOT = Path(__file__).resolve().parents[1]
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client: TestClient, path: str = "/login") -> str:
    """Fetch a page and return the CSRF token of its forms."""
    page = client.get(path, headers={"accept": "text/html"})
    match = CSRF_RE.search(page.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: TestClient, email: str, password: str = builders.PASSWORD) -> None:
    """Sign a test client in through the login form."""
    token = csrf(client)
    response = client.post("/login", data={"email": email, "password": password, "next": "/", "csrf_token": token},
                           headers={"accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    if response.headers["location"].startswith("/login/totp?"):
        response = client.post("/login/totp", data={"code": totp_code(email), "csrf_token": token},
                               headers={"accept": "text/html"}, follow_redirects=False)
        assert response.status_code == 303, response.text[:500]
    assert response.headers["location"] == "/"


TOTP_SECRETS: dict[str, str] = {}


def totp_code(email: str) -> str:
    """Return a TOTP code the server has not yet seen for a person enrolled by make_user."""
    secret = TOTP_SECRETS[email]
    with transaction() as session:
        last = session.scalar(select(Person.totp_last_step).where(Person.email == email))
    totp = pyotp.TOTP(secret)
    now = utcnow()
    # The server accepts one step either side of its own. The previous step's code is
    # refused once a step boundary passes before the server checks it, so near the end of a
    # step (a flaky login before) the oldest code offered is the current step's.
    late = now.timestamp() % 30 > 20
    for drift in ((0, 1) if late else (-1, 0, 1)):
        at = now + dt.timedelta(seconds=30 * drift)
        if totp.timecode(at) > last:
            return totp.at(at)
    raise AssertionError("signed in too often within 90 seconds for fresh TOTP codes")


def committed(fn):
    """Run fn(session) in its own committed transaction and return its result."""
    with transaction() as session:
        return fn(session)


def make_user(role: str | None = None, *, kind: str = "enterprise", platform_admin: bool = False, totp: bool = True):
    """Create and commit an organisation and a person holding a role in it; return (person, org).

    Administrators and personal-data staff get a TOTP secret (kept for login()) unless totp=False.
    """

    def build(session: Session):
        org = builders.create_org(session, kind=kind)
        person = builders.create_person(session, org=org if role else None, role=role,
                                        is_platform_admin=platform_admin)
        if totp and (platform_admin or role in PERSONAL_DATA_ROLES):
            secret = pyotp.random_base32()
            person.totp_secret_enc = crypto.encrypt(get_settings().secret("data"), secret, context="identity_person.totp")
            TOTP_SECRETS[person.email] = secret
        return person, org

    return committed(build)


def sms_text(session: Session, person_id) -> str:
    """Return the text of the newest SMS queued for a person, decrypted as the worker does for one-time content."""
    from openzone.core.notify.models import Message
    from openzone.core.notify.service import CONTENT_CONTEXT

    message = session.scalars(select(Message).where(Message.person_id == person_id, Message.channel == "sms")
                              .order_by(Message.created_at.desc()).limit(1)).one()
    if message.content_enc is None:
        return message.body
    return crypto.decrypt(get_settings().secret("data"), message.content_enc, context=CONTENT_CONTEXT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(factory: str):
    """Run an app factory ("module:function") with Uvicorn on a free port; yield its URL, then stop it."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code in (200, 503):
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError("server did not start: " + proc.stderr.read().decode(errors="replace")[-2000:])
        time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    proc.stderr.close()
