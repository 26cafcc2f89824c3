"""Render Jinja pages in the OpenZone layout with GOV.UK Frontend macros and gettext."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader, select_autoescape

from openzone.kit import i18n
from openzone.kit.errors import Problem

_dirs: list[Path] = [Path(__file__).resolve().parent / "templates"]
_env: Environment | None = None


def add_template_dir(path: Path | str) -> None:
    """Add a module's templates folder to the search path (call at import time of its web.py)."""
    path = Path(path).resolve()
    if path not in _dirs:
        _dirs.append(path)
        global _env
        _env = None


def environment() -> Environment:
    """Return the Jinja environment, building it on first use."""
    global _env
    if _env is None:
        env = Environment(
            loader=ChoiceLoader([
                FileSystemLoader([str(d) for d in _dirs]),
                PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja", "templates")}),
            ]),
            autoescape=select_autoescape(default=True, default_for_string=True),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
        env.globals["pick"] = i18n.pick
        _env = env
    return _env


def render(request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render a page template with the request's language, CSRF token, user and navigation."""
    request.state.csrf_used = True  # the middleware sets the cookie of a new CSRF token only then
    ctx: dict[str, Any] = {
        "request": request,
        "lang": i18n.current_language.get(),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "principal": getattr(request.state, "principal", None),
        "path": request.url.path,
        "query": request.url.query,
    }
    ctx["unread_count"] = _unread_count(request, ctx["principal"])
    ctx.update(context or {})
    html = environment().get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def _unread_count(request: Request, principal) -> int:
    """Count the signed-in person's unread messages for the navigation, in the request's own session."""
    db = getattr(request.state, "db", None)
    if principal is None or principal.is_token or db is None:
        return 0
    from openzone.core import notify  # imported here: notify's pages import this module

    return notify.unread_count(db, principal.person_id)


def form_errors(problem: Problem, default_field: str) -> list[dict[str, str]]:
    """Turn a Problem into the error-summary rows of a form, in the current language."""
    detail = i18n.pick(problem.detail or problem.title, problem.detail_en or problem.title_en)
    rows = []
    for err in problem.errors:
        zh, en = err.get("message"), err.get("message_en")
        rows.append({"field": err.get("field") or default_field, "message": i18n.pick(zh, en or zh) if zh else detail})
    return rows or [{"field": default_field, "message": detail}]
