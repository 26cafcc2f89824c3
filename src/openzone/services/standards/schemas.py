"""Pydantic shapes of the standards open-data API and the joint-drafting endpoints."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field


class StandardItem(BaseModel):
    """Describe one standard in a result list: numbers, titles, status and highlighted fields."""

    id: uuid.UUID
    numbers: list[str]
    title_zh: str
    title_en: str
    status: str
    status_zh: str
    effective_on: dt.date | None
    joint: bool
    sample: bool
    score: float | None = None
    highlights: dict[str, str] = Field(default_factory=dict, description="Escaped HTML with <mark> around matches")


class FacetValue(BaseModel):
    """Count the results that carry one filter value."""

    value: str
    count: int


class SearchPage(BaseModel):
    """Hold one page of search results with facet counts."""

    query: str
    total: int
    page: int
    per_page: int
    mode: str = Field(description="all | any | substring | browse: how the words were matched")
    items: list[StandardItem]
    facets: dict[str, list[FacetValue]]


class Amendment(BaseModel):
    """Describe an amendment."""

    issued_on: dt.date
    summary: str


class StandardDetail(StandardItem):
    """Describe a standard in full, its text included."""

    issued_on: dt.date | None
    withdrawn_on: dt.date | None
    ics: str
    ccs: str
    department: str
    drafters: list[str]
    keywords: list[str]
    scope: str
    body: str
    body_source: str
    note: str
    replaces: list[str]
    replaced_by: list[uuid.UUID]
    amendments: list[Amendment]
    updated_at: dt.datetime


class ChangeItem(BaseModel):
    """Describe one change to the library."""

    at: dt.datetime
    kind: str
    fields: list[str]
    standard: StandardItem


class ChangePage(BaseModel):
    """Hold changes after an instant, oldest first; ask again with since=next_since for more."""

    items: list[ChangeItem]
    next_since: dt.datetime | None


class DraftIn(BaseModel):
    """Propose a joint standard."""

    title_zh: str = Field(min_length=1, max_length=300)
    title_en: str = Field("", max_length=500)
    scope: str = Field(min_length=1, max_length=4000)


class DecisionIn(BaseModel):
    """Approve or reject a draft at joint or final approval."""

    decision: str = Field(pattern="^(approve|reject)$")
    note: str = Field("", max_length=4000)


class SimilarOut(BaseModel):
    """Describe an existing standard close to a draft."""

    id: uuid.UUID
    numbers: list[str]
    title_zh: str


class DraftOut(BaseModel):
    """Describe a joint draft: stage, deadline, duplicate check and numbers."""

    id: uuid.UUID
    title_zh: str
    title_en: str
    scope: str
    proposer: str
    stage: str
    stage_zh: str
    due_on: dt.date | None
    due_provisional: bool
    numbers: dict[str, str]
    standard_id: uuid.UUID | None
    similar: list[SimilarOut]
