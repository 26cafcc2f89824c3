"""kit.routing.Router: a path outside all of a router's routes skips them; every other path routes as before."""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

from openzone.app import ROUTERS, api_routes
from openzone.kit.routing import Router, shared_prefix


def test_the_shared_prefix_is_the_literal_start_of_every_path():
    router = Router(prefix="/api/v1/things")
    router.add_api_route("/{thing_id}", lambda thing_id: {})
    router.add_api_route("/{thing_id}/parts", lambda thing_id: {})
    router.add_api_route("s-export", lambda: {})
    assert shared_prefix(router.routes) == "/api/v1/things"
    assert shared_prefix([]) == ""
    # Anything may follow a mount's path: no prefix is claimed for a router holding one.
    assert shared_prefix([*router.routes, Mount("/static", app=FastAPI())]) == ""


class CountingRoute(APIRoute):
    """Count how often FastAPI tries this route against a request."""

    tried = 0

    def matches(self, scope):
        CountingRoute.tried += 1
        return super().matches(scope)


def test_a_path_outside_the_prefix_tries_no_route_and_a_route_added_later_is_found():
    router = Router(route_class=CountingRoute)
    router.add_api_route("/things/{thing_id}", lambda thing_id: {"id": thing_id})
    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as client:
        assert client.get("/things/7").json() == {"id": "7"}
        CountingRoute.tried = 0
        assert client.get("/other/7").status_code == 404
        assert CountingRoute.tried == 0  # a plain APIRouter tried it
        # The prefix was "/things/"; with this route it is "/" and the path is tried again.
        router.add_api_route("/other/{thing_id}", lambda thing_id: {"other": thing_id})
        assert client.get("/other/7").json() == {"other": "7"}
        assert client.get("/things/8").json() == {"id": "8"}
        assert CountingRoute.tried > 0


def test_every_route_of_the_app_is_reached_through_its_router():
    # Each route's own sample path must pass its router's check; a wrong prefix would turn a route into a 404.
    for router in ROUTERS:
        assert isinstance(router, Router)
        for route in router.routes:
            path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(uuid.uuid4()), route.path)
            assert path.startswith(shared_prefix(router.routes)), route.path
    assert len(api_routes()) == sum(len(r.routes) for r in ROUTERS)
