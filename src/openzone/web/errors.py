"""Render every error once: problem+json for the API and programs, an error page for people."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from openzone.kit import i18n
from openzone.kit.errors import NotFound, PayloadTooLarge, Problem, Unauthenticated, ValidationFailed, problem
from openzone.web.templating import render

log = logging.getLogger("openzone.errors")

MethodNotAllowed = problem("method-not-allowed", 405, "不支持此请求方法", "Method not allowed")
InternalError = problem("internal", 500, "系统内部错误，请稍后重试", "Internal error; please try again later")
DatabaseUnavailable = problem("database-unavailable", 503, "数据库连接中断，请稍后重试",
                              "The database connection was lost; please try again")
_HTTP: dict[int, type[Problem]] = {404: NotFound, 405: MethodNotAllowed, 413: PayloadTooLarge}


def wants_json(request: Request) -> bool:
    """Say whether the caller is a program (API path or no HTML in Accept) rather than a browser."""
    if request.url.path.startswith("/api/"):
        return True
    return "text/html" not in request.headers.get("accept", "")


def problem_response(request: Request, exc: Problem) -> Response:
    """Render a Problem for the caller."""
    lang = getattr(request.state, "lang", i18n.DEFAULT_LANGUAGE)
    body = exc.to_dict(lang)
    body["instance"] = request.url.path
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if wants_json(request):
        return JSONResponse(body, status_code=exc.status, media_type="application/problem+json", headers=exc.headers)
    if isinstance(exc, Unauthenticated):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    # The request's transaction has already ended (rolled back) by now: the error page must not touch it.
    request.state.db = None
    return render(request, "web/error.html", {"problem": body}, status_code=exc.status, headers=exc.headers)


def install(app: FastAPI) -> None:
    """Register the error handlers on the app."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ())), "code": e.get("type", ""),
                   "message_en": e.get("msg", "")} for e in exc.errors()]
        return problem_response(request, ValidationFailed("提交的数据格式不正确", "The submitted data is malformed",
                                                          errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        cls = _HTTP.get(exc.status_code)
        if cls is None:
            cls = problem("http-error", exc.status_code, "请求无法处理", "The request cannot be processed")
        return problem_response(request, cls(headers=dict(exc.headers or {})))

    @app.exception_handler(StatementError)
    async def _database(request: Request, exc: StatementError) -> Response:
        if _nul_in_text(exc):
            # The request's transaction was rolled back whole; the input was wrong, not the server.
            return problem_response(request, ValidationFailed(
                "提交的内容中不能含有空字符（NUL）", "The submitted text may not contain a NUL character",
                errors=[{"field": "", "code": "nul"}]))
        if getattr(exc, "connection_invalidated", False) and exc.statement is not None:
            # The connection died under one of the request's statements (a database restart): its transaction was
            # never committed, and the pool has dropped the connection and every older one, so a retry runs on a
            # fresh connection. One lost during COMMIT itself (no statement) may have committed: a 500, not a 503
            # inviting a retry that could do the work twice.
            log.warning("database connection lost on %s %s: %s", request.method, request.url.path, exc.orig)
            return problem_response(request, DatabaseUnavailable(headers={"Retry-After": "1"}))
        raise exc  # any other database error goes on to the server error handler (_crash), logged and re-raised

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, InternalError())


def _nul_in_text(exc: BaseException) -> bool:
    """Say whether PostgreSQL's driver refused a NUL character in a text value (a form field, a JSON string).

    No valid input holds one, but any text field can carry it (`%00`, `\\u0000`), and the driver refuses it only
    when the value reaches the database: a 500 until 2026-11-30 (the login form's e-mail field, for one). The path and
    query string are checked at the door (web.middleware.NoNulBytes); bodies are not parsed there.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, StatementError) and "NUL (0x00)" in str(exc.orig):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
