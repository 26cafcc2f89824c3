"""An APIRouter that a request outside all of its paths passes over without trying each route, and whose sync routes
run through kit.concurrency.blocking (in a worker thread, or on the loop when the request is alone in its process)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.routing import BaseRoute, Match, Route, get_route_path

from openzone.kit.concurrency import as_coroutine


def literal_starts(routes: list[BaseRoute]) -> tuple[str, ...] | None:
    """Return the literal starts of the routes' paths (text before the first parameter), or None if unknown.

    A path that starts with none of them matches none of the routes. None means anything may match: an included
    router, a mount or a websocket route is among them, or there are no routes to judge by.
    """
    literals = set()
    for route in routes:
        if not isinstance(route, Route):
            return None
        literals.add(route.path.split("{", 1)[0])
    if not literals:
        return None
    # A start that begins with a shorter one adds nothing.
    return tuple(sorted(s for s in literals if not any(s != t and s.startswith(t) for t in literals)))


class Router(APIRouter):
    """Skip this router's routes at once for a path that cannot be one of them.

    FastAPI tries an application's routes one after another, a regular expression and some bookkeeping each, so a
    request to the last module's API walked every route of the modules before it: a tenth of the server's CPU on an
    e-license retrieval (docs/performance.md). A path that starts with none of the literal starts of this router's
    paths matches none of them, so the router answers "no match" without the walk; any other path is matched
    exactly as before. Give the router its prefix itself and include it without one (as create_app does): the
    check knows the router's own paths, not a prefix added by include_router.
    """

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        """Add a route; a sync endpoint runs through kit.concurrency.blocking rather than always in a thread."""
        super().add_api_route(path, as_coroutine(endpoint), **kwargs)

    def matches(self, scope: Any) -> tuple[Match, Any]:
        known = self.__dict__.get("_starts")
        if known is None or known[0] != len(self.routes):  # routes added since: compute again
            known = self.__dict__["_starts"] = (len(self.routes), literal_starts(self.routes))
        if known[1] is not None and scope["type"] == "http" and not get_route_path(scope).startswith(known[1]):
            return Match.NONE, {}
        return super().matches(scope)
