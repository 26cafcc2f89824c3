"""Per-request plumbing: request id, language, CSRF cookie, security headers, a JSON access log, in-flight limit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
import weakref

import anyio.to_thread
from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.responses import Response

from openzone.config import get_settings
from openzone.core.identity.access import CSRF_COOKIE
from openzone.kit import concurrency, i18n
from openzone.kit.errors import PayloadTooLarge, ValidationFailed
from openzone.kit.ids import new_token

LANG_COOKIE = "oz_lang"
log = logging.getLogger("openzone.access")

# No inline script or style anywhere: every script and stylesheet is a vendored file on our origin.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


class _HttpMiddleware:
    """Pass everything but HTTP requests straight through; a subclass's `handle` takes the requests (plain ASGI)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        else:
            await self.handle(scope, receive, send)


class InFlightLimit(_HttpMiddleware):
    """Let only so many HTTP requests of this process into the app at once; the others wait their turn here.

    A sync route takes a worker thread more than once (the caller's look-up, the route) and keeps its database
    transaction in between. With more requests inside than worker threads, every thread can end up waiting for a
    lock or a connection held by a request that is itself waiting for a thread, and the process stops answering
    (seen with 48 connections on one worker: the first request to use an API token in a minute updates its row,
    the others wait for that row in every thread). A request waiting here holds no thread, connection or lock. The
    limit is four fifths of the worker threads, so each request in the app can always get one, or the `in_flight`
    setting when that is lower. At 1, the request inside is alone in the process and its blocking work runs on the
    event loop instead of worker threads (kit.concurrency).
    """

    def __init__(self, app) -> None:
        super().__init__(app)
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[asyncio.Semaphore, bool]] = (
            weakref.WeakKeyDictionary())

    async def handle(self, scope, receive, send):
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:  # one per event loop: a worker process has one, tests start several
            threads = int(anyio.to_thread.current_default_thread_limiter().total_tokens)
            limit = max(1, threads * 4 // 5)
            # A setting may lower the limit, never raise it above the threads (see above).
            size = min(get_settings().in_flight or limit, limit)
            gate = self._gates[loop] = (asyncio.Semaphore(size), size == 1)
        semaphore, one_at_a_time = gate
        # Alone in the process, a request's blocking work runs on the loop (kit.concurrency).
        async with semaphore:
            with concurrency.alone() if one_at_a_time else contextlib.nullcontext():
                await self.app(scope, receive, send)


class BodyLimit(_HttpMiddleware):
    """Refuse request bodies over the configured size, whether or not they declare a Content-Length."""

    async def handle(self, scope, receive, send):
        limit = get_settings().max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        seen = 0
        refused = False

        async def counted():
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Answer 413 now and tell the app the client went away; whatever it answers is dropped.
                    await _refuse(send, limit)
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:
                await send(message)

        await self.app(scope, counted, guarded_send)


async def _refuse(send, limit: int) -> None:
    await _answer(send, PayloadTooLarge(f"请求体不能超过 {limit // 1048576} MiB",
                                        f"The body may not exceed {limit // 1048576} MiB"))


class NoNulBytes(_HttpMiddleware):
    """Refuse a request whose path or query string holds a NUL byte: PostgreSQL's text columns cannot take one, so a
    query parameter "%00" reached the database as a 500 (found by the API fuzzing test); no valid input has one."""

    async def handle(self, scope, receive, send):
        if "\x00" in scope["path"] or b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]:
            await _answer(send, ValidationFailed("请求地址中不能含有空字符（%00）",
                                                 "The address may not contain a NUL character (%00)"))
            return
        await self.app(scope, receive, send)


async def _answer(send, problem) -> None:
    body = json.dumps(problem.to_dict()).encode()
    await send({"type": "http.response.start", "status": problem.status,
                "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RequestContext(_HttpMiddleware):
    """Set the request id, language and CSRF token, and add security headers to the response.

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware ran every request in an extra task with memory streams
    between it and the app, which cost more than the rest of the middleware together.
    """

    async def handle(self, scope, receive, send):
        started = time.perf_counter()
        request = Request(scope)
        request_id = request.headers.get("x-request-id", "")
        if not (0 < len(request_id) <= 64 and request_id.replace("-", "").isalnum()):
            request_id = uuid.uuid4().hex
        state = request.state
        state.request_id = request_id
        cookies = request.cookies
        lang = i18n.normalise(cookies.get(LANG_COOKIE))
        state.lang = lang
        csrf = cookies.get(CSRF_COOKIE)
        fresh_csrf = not csrf or len(csrf) < 32
        if fresh_csrf:
            csrf = new_token(32)
        state.csrf_token = csrf
        settings = get_settings()
        static = scope["path"].startswith("/static/")
        status = 500

        async def send_with_headers(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                # A new token goes out only with a page that used it (templating.render marks it): API answers and
                # files set no cookie.
                if fresh_csrf and getattr(state, "csrf_used", False):
                    headers.append("set-cookie", _csrf_cookie(csrf, settings.secure_cookies))
                headers["x-request-id"] = request_id
                headers.setdefault("content-security-policy", CSP)
                headers["x-content-type-options"] = "nosniff"
                headers["referrer-policy"] = "same-origin"
                headers["x-frame-options"] = "DENY"
                headers.setdefault("permissions-policy", "camera=(), microphone=(), geolocation=()")  # a page may allow one
                if not static:
                    headers.setdefault("cache-control", "no-store")
                if settings.secure_cookies:
                    headers["strict-transport-security"] = "max-age=31536000"
            await send(message)

        token = i18n.current_language.set(lang)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            i18n.current_language.reset(token)
        log.info(json.dumps({
            "request_id": request_id, "method": scope["method"], "path": scope["path"],
            "status": status, "ms": round((time.perf_counter() - started) * 1000, 1),
        }))


def _csrf_cookie(token: str, secure: bool) -> str:
    """Return the Set-Cookie value of a new CSRF token, written by Starlette's own cookie code."""
    response = Response()
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/")
    return response.headers["set-cookie"]
