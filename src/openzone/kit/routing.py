"""An APIRouter that a request outside all of its paths passes over without trying each route."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.routing import BaseRoute, Match, Route, get_route_path


def shared_prefix(routes: list[BaseRoute]) -> str:
    """Return the literal start every route's path shares (text before its first parameter), or "" if unknown."""
    literals = []
    for route in routes:
        if not isinstance(route, Route):  # an included router, a mount or a websocket: anything may follow
            return ""
        literals.append(route.path.split("{", 1)[0])
    if not literals:
        return ""
    # The common start of the first and last in sorted order is the common start of all of them.
    first, last = min(literals), max(literals)
    size = 0
    while size < len(first) and first[size] == last[size]:
        size += 1
    return first[:size]


class Router(APIRouter):
    """Skip this router's routes at once for a path that cannot be one of them.

    FastAPI tries an application's routes one after another, a regular expression and some bookkeeping each, so a
    request to the last module's API walked every route of the modules before it: a tenth of the server's CPU on an
    e-license retrieval (docs/performance.md). A path that does not start with what all of this router's paths
    start with matches none of them, so the router answers "no match" without the walk; any other path is matched
    exactly as before. Give the router its prefix itself and include it without one (as create_app does): the
    check knows the router's own paths, not a prefix added by include_router.
    """

    def matches(self, scope: Any) -> tuple[Match, Any]:
        known = self.__dict__.get("_shared")
        if known is None or known[0] != len(self.routes):  # routes added since: compute again
            known = self.__dict__["_shared"] = (len(self.routes), shared_prefix(self.routes))
        if known[1] and scope["type"] == "http" and not get_route_path(scope).startswith(known[1]):
            return Match.NONE, {}
        return super().matches(scope)
