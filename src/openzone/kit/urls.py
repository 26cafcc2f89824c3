"""Check URLs that come back from users."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None) -> str:
    """Return a same-site path to go back to, or / for anything that could leave the site."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
