"""Run a request's blocking work in a worker thread, or on the event loop when the process serves one at a time.

A sync route, and each blocking step around it (finding the caller, ending the transaction), goes to a worker thread
so that the event loop keeps serving the other requests in the process meanwhile. A hand-over costs a queue, two
thread switches and the interpreter lock changing hands: about 0.07 ms of CPU each, three per API request, 11–15 %
of an e-license retrieval's CPU (docs/performance.md). When the process lets only one request into the app at a time
(web.middleware.InFlightLimit with the `in_flight` setting at 1, the setting for a server with a worker process per
core), there is no other request inside for the loop to serve, so the work runs on the loop itself; the requests
waiting at the door wait just the same.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")

_ALONE: ContextVar[bool] = ContextVar("openzone_alone_in_process", default=False)


@contextmanager
def alone() -> Iterator[None]:
    """Mark the request run inside as the only one in the process: its blocking work runs on the event loop."""
    token = _ALONE.set(True)
    try:
        yield
    finally:
        _ALONE.reset(token)


async def blocking(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run blocking work for the current request: inline when it is alone in the process, else in a worker thread."""
    if _ALONE.get():
        # One turn of the loop first: requests that arrived while it was busy are read and queue at the door in the
        # order they came. Without it the wait there stopped being first come, first served: p99 50–57 ms and
        # stalls of up to 190 ms against 30–36 ms and 58 ms (docs/performance.md, eighth e-license measurement).
        await asyncio.sleep(0)
        return func(*args, **kwargs)
    return await run_in_threadpool(functools.partial(func, *args, **kwargs))  # a route may have a `func` parameter


def as_coroutine(func: Callable[..., Any]) -> Callable[..., Any]:
    """Return a sync function as a coroutine function that runs it through blocking(); others unchanged.

    FastAPI sends a sync route to a worker thread itself, whatever the process; given this wrapper instead, it awaits
    it, and blocking() decides. The wrapper keeps the function's signature, name and documentation (FastAPI reads the
    parameters and their annotations through __wrapped__), so the route and its OpenAPI description are the same.
    """
    if (inspect.iscoroutinefunction(func) or inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)
            or not inspect.isfunction(func)):
        return func

    @functools.wraps(func)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await blocking(func, *args, **kwargs)

    return run
