"""Settings of the travel-licensing service (OPENZONE_TRAVEL_*), each labelled with its source."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class TravelSettings(BaseSettings):
    """Hold the periods the sources leave to the authority or that come from the Beijing case."""

    model_config = SettingsConfigDict(env_prefix="OPENZONE_TRAVEL_", env_file=".env", extra="ignore")

    # The case: a decision on the commitment within half a working day (one office session on core/calendar).
    decision_half_days: int = Field(default=1, ge=1, le=4)
    # Verification of the commitment within N months of approval (§1.3 RECALLED: "model N configurable"; case: 3).
    verification_months: int = Field(default=3, ge=1, le=12)
    # The case's bar from the commitment route after a serious breach (3 years), configurable per issue 6.
    serious_breach_bar_years: int = Field(default=3, ge=0, le=10)
    # Working days to rectify after an order under art. 48 (the article gives no figure; the authority sets it).
    rectify_working_days: int = Field(default=5, ge=1, le=30)
    # Branch deposit: art. 14 fixes the amount, not the time; the same 3 working days as art. 13 by default.
    branch_deposit_working_days: int = Field(default=3, ge=1, le=30)
    # 双随机 weights by credit standing (policy only, peers.md §4 GAP): good 1, watch 2, poor 4.
    weight_good: int = Field(default=1, ge=1, le=100)
    weight_watch: int = Field(default=2, ge=1, le=100)
    weight_poor: int = Field(default=4, ge=1, le=100)
    inspectors_per_check: int = Field(default=2, ge=1, le=5)
    # Issue 6: the licence is also issued as an e-license through the e-license service's public issuer API
    # (services call each other over HTTP, never by import). Both unset: the feature is off, PDF only.
    e_license_url: str = ""
    # The issuing authority's own API token (scope write) in the e-license service; a secret, from the environment.
    e_license_token: SecretStr | None = None
    # Or a file holding the token (mode 0600), read at each call so a rotated token takes effect without a restart;
    # the demo writes one for its tourism authority (var/secrets/travel-e-license.token).
    e_license_token_file: Path | None = None
    e_license_max_attempts: int = Field(default=8, ge=1, le=20)

    def e_license_secret(self) -> str:
        """Return the issuer token from the setting or else from the token file, or "" when neither gives one."""
        if self.e_license_token and self.e_license_token.get_secret_value():
            return self.e_license_token.get_secret_value()
        if self.e_license_token_file and self.e_license_token_file.is_file():
            return self.e_license_token_file.read_text().strip()
        return ""

    @property
    def e_license_enabled(self) -> bool:
        """Tell whether both the e-license base URL and the issuer token are set."""
        return bool(self.e_license_url and self.e_license_secret())


@lru_cache
def get_travel_settings() -> TravelSettings:
    """Return the process-wide travel-licensing settings."""
    return TravelSettings()
