"""Build the FastAPI application: every module's API and page routers, errors, middleware, static files."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from openzone.core.calendar import web as calendar_web
from openzone.core.consent import api as consent_api
from openzone.core.consent import web as consent_web
from openzone.core.credit import api as credit_api
from openzone.core.credit import web as credit_web
from openzone.core.identity import api as identity_api
from openzone.core.identity import route_access
from openzone.core.identity import web as identity_web
from openzone.core.ledger import api as ledger_api
from openzone.core.ledger import receipt_web as ledger_receipt_web
from openzone.core.ledger import witness_web as ledger_witness_web
from openzone.core.notify import api as notify_api
from openzone.core.notify import web as notify_web
from openzone.services.e_license import api as e_license_api
from openzone.services.e_license import web as e_license_web
from openzone.services.standards import api as standards_api
from openzone.services.standards import web as standards_web
from openzone.services.trade_vault import api as trade_vault_api
from openzone.services.trade_vault import web as trade_vault_web
from openzone.services.travel_licensing import api as travel_licensing_api
from openzone.services.travel_licensing import web as travel_licensing_web
from openzone.web import errors, pages
from openzone.web.middleware import BodyLimit, InFlightLimit, NoNulBytes, RequestContext

STATIC = Path(__file__).resolve().parent / "web" / "static"


class UndeclaredAccess(RuntimeError):
    """Signal a route that does not say who may use it; the app refuses to start."""


ROUTERS: tuple[APIRouter, ...] = (pages.router, identity_web.router, identity_api.router, notify_web.router, notify_api.router, calendar_web.router, ledger_api.router, ledger_receipt_web.router, ledger_witness_web.router, consent_api.router, consent_web.router, standards_web.router, standards_api.router, e_license_api.router, e_license_web.router, credit_web.router, credit_api.router, travel_licensing_web.router, travel_licensing_api.router, trade_vault_web.router, trade_vault_api.router)


def api_routes() -> list[APIRoute]:
    """List every route the app serves from OpenZone's routers (each router carries its own prefix)."""
    return [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def check_routes() -> None:
    """Refuse to start when any route lacks an access policy (deny by default)."""
    missing = [f"{sorted(r.methods)} {r.path}" for r in api_routes() if route_access(r) is None]
    if missing:
        raise UndeclaredAccess("routes without an access policy: " + ", ".join(missing))


def create_app() -> FastAPI:
    """Create the OpenZone application."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    app = FastAPI(
        title="OpenZone API",
        version="0.1.0",
        description="开放区公共服务平台接口 · OpenZone public-service platform API. Errors are RFC 9457 problem+json.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(RequestContext)
    app.add_middleware(BodyLimit)
    app.add_middleware(NoNulBytes)
    app.add_middleware(InFlightLimit)  # outermost of ours: a waiting request has done nothing yet
    errors.install(app)
    check_routes()
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
