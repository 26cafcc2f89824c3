"""Travel-agency licensing by notification and commitment (旅行社设立许可告知承诺), with credit supervision."""

from openzone.services.travel_licensing.domain import (
    BAR_RULES,
    BREACHES,
    ApplicationData,
    BarKind,
    BreachKind,
    Consequence,
    CreditFacts,
    Manager,
    Route,
    Tenure,
    commitment_failures,
    condition_failures,
    draw,
    grade,
)

__all__ = [
    "BAR_RULES",
    "BREACHES",
    "ApplicationData",
    "BarKind",
    "BreachKind",
    "Consequence",
    "CreditFacts",
    "Manager",
    "Route",
    "Tenure",
    "commitment_failures",
    "condition_failures",
    "draw",
    "grade",
]
