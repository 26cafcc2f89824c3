"""Import every module's tables so that Base.metadata describes the whole schema."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "openzone.core.calendar.models",
    "openzone.core.consent.models",
    "openzone.core.idempotency.models",
    "openzone.core.credit.models",
    "openzone.core.identity.models",
    "openzone.core.jobs.models",
    "openzone.core.ledger.models",
    "openzone.core.ledger.witness_models",
    "openzone.core.notify.models",
    "openzone.core.search.models",
    "openzone.services.standards.models",
    "openzone.services.e_license.models",
    "openzone.services.travel_licensing.models",
    "openzone.services.trade_vault.models",
)


def load_all() -> None:
    """Import all model modules (for Alembic and the drift test)."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
