"""kit.routing.Router: a path outside all of a router's routes skips them; every other path routes as before."""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

from openzone.app import ROUTERS, api_routes
from openzone.kit.routing import Router, literal_starts


def test_the_literal_starts_are_what_each_path_begins_with_before_its_first_parameter():
    router = Router(prefix="/api/v1/things")
    router.add_api_route("/{thing_id}", lambda thing_id: {})
    router.add_api_route("/{thing_id}/parts", lambda thing_id: {})
    router.add_api_route("/{thing_id}/parts/{part}", lambda thing_id, part: {})
    assert literal_starts(router.routes) == ("/api/v1/things/",)
    router.add_api_route("", lambda: {})
    assert literal_starts(router.routes) == ("/api/v1/things",)  # it begins every other start
    pages = Router()
    pages.add_api_route("/login", lambda: {})
    pages.add_api_route("/api/v1/me/{part}", lambda part: {})
    assert literal_starts(pages.routes) == ("/api/v1/me/", "/login")
    assert literal_starts([]) is None
    # Anything may follow a mount's path: no start is claimed for a router holding one.
    assert literal_starts([*router.routes, Mount("/static", app=FastAPI())]) is None


def test_a_router_of_unrelated_paths_skips_a_path_none_of_them_starts():
    router = Router(route_class=CountingRoute)
    router.add_api_route("/login", lambda: {"page": "login"})
    router.add_api_route("/api/v1/me/{part}", lambda part: {"part": part})
    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as client:
        CountingRoute.tried = 0
        assert client.get("/api/v1/other/7").status_code == 404
        assert CountingRoute.tried == 0  # their shared start, "/", would have let it through to both routes
        assert client.get("/login").json() == {"page": "login"}
        assert client.get("/api/v1/me/x").json() == {"part": "x"}


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
        # The only start was "/things/"; with this route "/other/" is one too and the path is tried.
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
            assert path.startswith(literal_starts(router.routes) or ""), route.path
    assert len(api_routes()) == sum(len(r.routes) for r in ROUTERS)
