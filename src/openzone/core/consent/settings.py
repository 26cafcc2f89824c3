"""Settings of the consent core, read from OPENZONE_CONSENT_* environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsentSettings(BaseSettings):
    """Hold how long presentations live and how many wrong tries lock a short code."""

    model_config = SettingsConfigDict(env_prefix="OPENZONE_CONSENT_", env_file=".env", extra="ignore")

    qr_minutes: int = Field(default=10, ge=1, le=60)
    code_minutes: int = Field(default=10, ge=1, le=60)
    sms_minutes: int = Field(default=10, ge=1, le=60)
    # At least 8 digits: with 5 tries before the lock, a guess succeeds with probability 5 in 10^8.
    code_digits: int = Field(default=8, ge=8, le=12)
    code_max_tries: int = Field(default=5, ge=1, le=10)


@lru_cache
def get_consent_settings() -> ConsentSettings:
    """Return the process-wide consent settings."""
    return ConsentSettings()
