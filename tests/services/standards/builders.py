"""Builders for standards tests: create_standard(session, **overrides) with unique numbers."""

from __future__ import annotations

import itertools
import random

from sqlalchemy.orm import Session

from openzone.services import standards
from openzone.services.standards.domain import StandardInput, parse_number

_seq = itertools.count(random.Random().randint(1000, 900_000) * 10)


def unique_number(issuer: str = "DB11", year: int = 2021) -> str:
    """Return a number no other test uses (a city-style long sequence keeps clear of real ones)."""
    return f"{issuer}/T {next(_seq)}—{year}"


def create_standard(session: Session, *, numbers: tuple[str, ...] | None = None, **overrides) -> standards.Upserted:
    """Create (or update) a standard through the service, with sensible defaults."""
    values = {"title_zh": "示例标准", "scope": "本标准规定了示例内容。", "effective_on": None}
    values.update(overrides)
    for key in ("keywords", "drafters"):
        if key in values:
            values[key] = tuple(values[key])
    if "replaces" in values:
        values["replaces"] = tuple(parse_number(n) for n in values["replaces"])
    record = StandardInput(numbers=tuple(parse_number(n) for n in (numbers or (unique_number(),))), **values)
    return standards.upsert_standard(session, record=record)
