"""Define Problem, the one error type rendered as RFC 9457 problem+json or an error page."""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "/problems/"


class Problem(Exception):
    """Signal a failure the user can understand, with a stable type and messages in Chinese and English."""

    type: ClassVar[str] = "about:blank"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "请求有误"
    title_en: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        detail_en: str | None = None,
        *,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail_en or detail or self.title_en)
        self.detail = detail
        self.detail_en = detail_en
        if status is not None:
            self.status = status
        self.errors = errors or []
        self.headers = headers or {}
        self.extensions = extensions

    @property
    def type_uri(self) -> str:
        """Return the problem type as a URI reference (RFC 9457 §3.1.1)."""
        return self.type if ":" in self.type else PROBLEM_BASE + self.type

    def to_dict(self, lang: str = "zh-CN") -> dict[str, Any]:
        """Return the problem+json body; title and detail follow the request language."""
        english = lang.startswith("en")
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title_en if english else self.title,
            "status": self.status,
            "title_zh": self.title,
            "title_en": self.title_en,
        }
        detail = (self.detail_en or self.detail) if english else (self.detail or self.detail_en)
        if detail:
            body["detail"] = detail
        if self.detail:
            body["detail_zh"] = self.detail
        if self.detail_en:
            body["detail_en"] = self.detail_en
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extensions)
        return body


def problem(slug: str, status: int, title: str, title_en: str) -> type[Problem]:
    """Make a Problem subclass with a stable type slug, for modules to declare their errors in one line."""
    name = "".join(part.capitalize() for part in slug.replace("_", "-").split("-"))
    return type(name, (Problem,), {"type": slug, "status": status, "title": title, "title_en": title_en})


NotFound = problem("not-found", 404, "未找到", "Not found")
Unauthenticated = problem("unauthenticated", 401, "请先登录", "Authentication required")
Forbidden = problem("forbidden", 403, "无权执行此操作", "You are not allowed to do this")
Conflict = problem("conflict", 409, "与现有数据冲突", "Conflicts with existing data")
ValidationFailed = problem("validation", 422, "输入有误", "The input is not valid")
RateLimited = problem("rate-limited", 429, "尝试次数过多，请稍后再试", "Too many attempts; try again later")
PayloadTooLarge = problem("too-large", 413, "提交的内容过大", "The request body is too large")
