"""Settings for one OpenZone deployment, read from OPENZONE_* environment variables."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Hold every setting of the deployment; environment variables override the defaults."""

    model_config = SettingsConfigDict(env_prefix="OPENZONE_", env_file=".env", extra="ignore")

    var_dir: Path = Path("var")
    database_url: str = ""
    # development: plain-HTTP cookies allowed; production: Secure cookies, TOTP enforced.
    environment: str = Field(default="development", pattern="^(development|production)$")
    demo_mode: bool = False
    base_url: str = "http://127.0.0.1:8000"
    session_hours: int = 12
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    # Office hours used to count half working days (上午 09:00–12:00, 下午 13:30–17:30 by default).
    office_morning: str = "09:00-12:00"
    office_afternoon: str = "13:30-17:30"
    # Count Monday to Friday for a year whose official schedule is not imported, marking deadlines 暂定.
    calendar_provisional: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "noreply@openzone.local"
    sms_webhook_url: str = ""
    notify_max_attempts: int = 6
    worker_poll_seconds: float = 1.0
    worker_heartbeat_stale_seconds: int = 120
    max_body_bytes: int = 25 * 1024 * 1024
    # HTTP requests one server process lets into the app at once; the others wait at the door (web/middleware.py).
    # 0: four fifths of the process's worker threads (32 of anyio's 40). Requests that spend their time in short
    # database round trips run faster with 1 or 2 per process and one process per core: fewer threads then take
    # turns at the interpreter lock (docs/performance.md, e-license retrievals). A request holds its place while its
    # body arrives and its answer leaves: set 1 only behind a proxy that buffers both, and keep more when requests
    # wait long on something outside the process.
    in_flight: int = Field(default=0, ge=0, le=10_000)
    # The transparency log's origin line (C2SP tlog-checkpoint), also the name of its signing key.
    ledger_origin: str = "ledger.openzone.local/v1"
    # Entries the integrator sequences into one signed checkpoint at most.
    ledger_batch_size: int = Field(default=10_000, ge=1, le=1_000_000)
    # k of n: how many distinct active witnesses make a checkpoint final; 0 means a majority of the active ones.
    ledger_quorum: int = Field(default=0, ge=0)
    # Seconds one witness may take over its whole exchange (a 409 retry included). On SQLite the job holds the write
    # lock meanwhile, so this stays well below the 10 s busy timeout.
    ledger_witness_timeout: float = Field(default=3.0, gt=0, le=8)
    # SQLite: how many connections share one search of a large index, each ranking a slice of it on its own core
    # (1: one connection). PostgreSQL plans its own parallel workers.
    search_slices: int = Field(default=2, ge=1, le=8)

    @property
    def resolved_database_url(self) -> str:
        """Return the configured database URL, or the default SQLite file under var_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'openzone.db').resolve()}"

    @property
    def secure_cookies(self) -> bool:
        """Say whether cookies must carry the Secure flag."""
        return self.environment == "production"

    def secret(self, name: str, nbytes: int = 32) -> bytes:
        """Return a named secret from var_dir/secrets, generating it on first use."""
        text = self.secret_file(f"{name}.key", lambda: base64.b64encode(secrets.token_bytes(nbytes)).decode())
        return base64.b64decode(text)

    def secret_file(self, filename: str, make: Callable[[], str]) -> str:
        """Return the text of var_dir/secrets/filename, writing make() there first if the file does not exist."""
        path = self.var_dir / "secrets" / filename
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path.parent, 0o700)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(make() + "\n")
            os.chmod(tmp, 0o600)
            # link() fails if another process created the file first; then every process reads the winner's.
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings."""
    return Settings()
