"""More requests at once than worker threads must queue at the door, not stall the process (web/middleware.py)."""

from __future__ import annotations

import threading

import anyio
import anyio.to_thread
import httpx
from anyio.from_thread import start_blocking_portal
from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core.identity import access
from openzone.core.identity.models import Person
from openzone.core.identity.service import create_token
from openzone.db import request_session, transaction
from openzone.kit.routing import Router
from openzone.web.middleware import InFlightLimit
from tests import builders


def _in_own_loop(function, *args):
    # A new event loop in a thread of its own: the browser tests leave Playwright's loop running in this thread.
    with start_blocking_portal() as portal:
        return portal.call(function, *args)


def _token() -> str:
    with transaction() as session:
        org = builders.create_org(session, kind="enterprise", name="并发测试企业")
        person = builders.create_person(session, org=org, role="org_admin", name="并发测试")
        # A new token has never been used: the first request to present it updates its row.
        _, secret = create_token(session, person=session.get(Person, person.id), org_id=org.id, name="burst",
                                 scopes=["read"])
    return secret


async def _burst(app, secret: str, requests: int, threads: int) -> list[int]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = threads
    statuses: list[int] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def one() -> None:
            response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
            statuses.append(response.status_code)

        with anyio.fail_after(60):  # a stalled process never answers; this turns the stall into a failure
            async with anyio.create_task_group() as group:
                for _ in range(requests):
                    group.start_soon(one)
    return statuses


def test_a_burst_larger_than_the_thread_pool_is_answered_in_full(app):
    # Each request holds its transaction (SQLite's write lock, or the token row it updates on PostgreSQL) from the
    # caller's look-up in one worker thread to the route in the next. With 12 requests inside and 4 threads, the
    # threads all waited for the lock of a request that was waiting for a thread.
    assert any(m.cls is InFlightLimit for m in app.user_middleware)
    statuses = _in_own_loop(_burst, app, _token(), 12, 4)
    assert statuses == [200] * 12


async def _peak(threads: int) -> int:
    """Send 50 requests at a fresh gate with that many worker threads; return the most inside at once."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = threads
    inside = most = 0

    async def app(scope, receive, send):
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await anyio.sleep(0.01)
        inside -= 1

    gate = InFlightLimit(app)
    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(gate, {"type": "http"}, None, None)
    return most


def test_no_more_requests_are_inside_than_four_fifths_of_the_threads():
    assert _in_own_loop(_peak, 40) == 32
    assert _in_own_loop(_peak, 4) == 3
    assert _in_own_loop(_peak, 1) == 1


def test_the_in_flight_setting_lowers_the_limit_and_never_raises_it_past_the_threads(monkeypatch):
    try:
        for setting, threads, expected in ((1, 40, 1), (2, 40, 2), (100, 40, 32), (0, 40, 32), (5, 4, 3)):
            monkeypatch.setenv("OPENZONE_IN_FLIGHT", str(setting))
            get_settings.cache_clear()
            assert _in_own_loop(_peak, threads) == expected, (setting, threads)
    finally:
        monkeypatch.delenv("OPENZONE_IN_FLIGHT")
        get_settings.cache_clear()


def _thread_app():
    """An app whose sync route says which thread ran it, behind the in-flight gate."""
    router = Router(prefix="/t")

    @router.get("/thread", dependencies=[Depends(access.public())])
    def which(session: Session = Depends(request_session, scope="function")) -> dict:
        session.execute(text("SELECT 1"))
        return {"thread": threading.get_ident()}

    app = FastAPI()
    app.include_router(router)
    return InFlightLimit(app)


async def _threads_used(app) -> tuple[int, set[int]]:
    answers = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client, \
            anyio.create_task_group() as group:

        async def one() -> None:
            answers.append((await client.get("/t/thread")).json()["thread"])

        for _ in range(6):
            group.start_soon(one)
    return threading.get_ident(), set(answers)


def test_alone_in_its_process_a_request_runs_its_blocking_work_on_the_event_loop(monkeypatch):
    try:
        monkeypatch.setenv("OPENZONE_IN_FLIGHT", "1")
        get_settings.cache_clear()
        loop_thread, used = _in_own_loop(_threads_used, _thread_app())
        assert used == {loop_thread}  # the route, and the commit around it, without a hand-over to a thread
        monkeypatch.setenv("OPENZONE_IN_FLIGHT", "2")
        get_settings.cache_clear()
        loop_thread, used = _in_own_loop(_threads_used, _thread_app())
        assert loop_thread not in used  # several inside at once: worker threads, so the loop serves the others
    finally:
        monkeypatch.delenv("OPENZONE_IN_FLIGHT")
        get_settings.cache_clear()


def test_a_burst_one_at_a_time_is_answered_in_full(app, monkeypatch):
    try:
        monkeypatch.setenv("OPENZONE_IN_FLIGHT", "1")
        get_settings.cache_clear()
        assert _in_own_loop(_burst, app, _token(), 12, 40) == [200] * 12
    finally:
        monkeypatch.delenv("OPENZONE_IN_FLIGHT")
        get_settings.cache_clear()
