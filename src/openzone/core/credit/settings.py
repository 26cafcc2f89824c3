"""Settings of the credit core, read from OPENZONE_CREDIT_* environment variables, each with its source."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CreditSettings(BaseSettings):
    """Hold the deadlines and recalled periods that the sources do not fix firmly."""

    model_config = SettingsConfigDict(env_prefix="OPENZONE_CREDIT_", env_file=".env", extra="ignore")

    # 信用中国 gives a repair result "generally within 10 working days" (domain-rules.md §2.2, VERIFIED secondary).
    repair_working_days: int = Field(default=10, ge=1, le=60)
    # 征信业管理条例 art. 25: verify within 20 days of the objection (calendar days as written). The public-credit
    # objection deadline itself was not verified (domain-rules.md §2.4), hence a setting.
    objection_days: int = Field(default=20, ge=1, le=90)
    # The 2023 trial measures' periods are RECALLED, low confidence (domain-rules.md §2.2): (repair after, maximum).
    rules_2023_general_repair_months: int = Field(default=3, ge=0, le=36)
    rules_2023_general_max_months: int = Field(default=12, ge=1, le=60)
    rules_2023_serious_repair_months: int = Field(default=12, ge=0, le=60)
    rules_2023_serious_max_months: int = Field(default=36, ge=1, le=120)


@lru_cache
def get_credit_settings() -> CreditSettings:
    """Return the process-wide credit settings."""
    return CreditSettings()
